//! `replicant scan`: find each generation's closest training images.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use replicant::export::{ScanOutputFormat, write_scan_results};
use replicant::fsutil::printable;
use replicant::index::Dtype;
use replicant::scan::ScanOptions;
use replicant::scan::ScanSummary;

use super::args::{ModelArgs, ShortlistArgs, parse_similarity, parse_threads};
use super::progress::run_scan_with_progress;

/// `replicant scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The folder of generated images (searched recursively).
    #[arg(long, value_name = "DIR")]
    pub generations: PathBuf,
    /// A training source: a folder (of images and/or WebDataset .tar shards) or one .tar
    /// shard; repeat for several.
    #[arg(long, value_name = "SRC", required_unless_present = "training_index")]
    pub training: Vec<PathBuf>,
    /// A training index made by `replicant index build`, matched against instead of
    /// embedding training sources.
    #[arg(long, value_name = "INDEX", conflicts_with = "training")]
    pub training_index: Option<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Matches kept per generation.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=100))]
    pub top_k: u16,
    /// Top-1 similarity at or above which a generation counts as a likely copy.
    #[arg(long, default_value_t = replicant::ranking::matches::DEFAULT_THRESHOLD, value_parser = parse_similarity)]
    pub threshold: f32,
    /// Follow a published protocol. somepalli-2022: the replication paper's (SSCD's global
    /// descriptor alone: no region windows, no layout re-rank, no cascade; threshold 0.5;
    /// transparency dropped as PIL's convert('RGB') does, not composited on white).
    #[arg(long, value_name = "NAME", value_parser = [replicant::scan::SOMEPALLI_2022],
          conflicts_with_all = ["regions", "no_layout_rerank", "threshold", "model", "shortlist", "centre"])]
    pub preset: Option<String>,
    /// Output file (.jsonl; .csv for CSV; .parquet for Parquet); standard output when absent. The scan's
    /// settings are written beside it as FILE.settings.json.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The project folder for caches and results (default: under the data folder).
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
    /// A prompt set from `replicant prompts sample`: generations named after its ids (or given
    /// one in a sidecar or metadata file) are linked to their prompt and its caption's training
    /// image, and the summary and report say how many copy that image, another or nothing.
    #[arg(long, value_name = "FILE.jsonl")]
    pub prompts: Option<PathBuf>,
    /// Images per inference batch (0: 16 on the CPU, 128 on a GPU).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u16).range(0..=1024))]
    pub batch: u16,
    /// How the project's own training index stores vectors: f16 (default), i8 or f32.
    #[arg(long, alias = "precision", default_value = "f16", value_parser = clap::value_parser!(Dtype))]
    pub dtype: Dtype,
    /// Decoding threads (0: one per core; at most 256).
    #[arg(long, default_value_t = 0, value_name = "N", value_parser = parse_threads)]
    pub decode_threads: usize,
    /// Replace the --out file if it exists.
    #[arg(long)]
    pub force: bool,
    /// Match regions of each generation too: 3x3 coarse windows in every generation, then
    /// 7x7 fine windows of 18% (small copies) in those still below the threshold; auto turns each on
    /// when it costs at most 2.5x of whole-image matching.
    #[arg(long, default_value = "auto", value_parser = clap::value_parser!(replicant::ranking::regions::RegionMode))]
    pub regions: replicant::ranking::regions::RegionMode,
    /// Rank matches by SSCD similarity alone, without the layout re-rank that lifts images
    /// whose composition the generation keeps.
    #[arg(long)]
    pub no_layout_rerank: bool,
    /// Tuning only: the layout re-rank's weight (default: the chosen constant).
    #[arg(long, hide = true)]
    pub layout_weight: Option<f32>,
    /// Tuning only: candidates re-ranked per generation (default: the chosen constant).
    #[arg(long, hide = true)]
    pub rerank_pool: Option<usize>,
    /// Tuning only: verification's weight in the ranking (default: the chosen constant).
    #[arg(long, hide = true)]
    pub verify_weight: Option<f32>,
    /// Tuning only: the structure verification compares: orientation, gradient or edges.
    #[arg(long, hide = true, value_parser = parse_structure)]
    pub verify_structure: Option<replicant::ranking::verify::Structure>,
    /// Tuning only: training images drawn per generation by structure (0: none; default: the
    /// chosen constant).
    #[arg(long, hide = true)]
    pub structure_candidates: Option<usize>,
    /// Tuning only: cells per side of the structure vector's grid (default: the chosen
    /// constant).
    #[arg(long, hide = true)]
    pub structure_grid: Option<usize>,
    /// Tuning only: a region window's share of each side (default: the chosen constant).
    #[arg(long, hide = true)]
    pub window_share: Option<f32>,
    /// Tuning only: the similarity a region window needs to count (default: the chosen
    /// constant).
    #[arg(long, hide = true)]
    pub region_min_similarity: Option<f32>,
    /// Measuring only: rank candidates by their cosine after centring both embeddings on the
    /// training images' mean (the reported similarity stays SSCD's).
    #[arg(long, hide = true)]
    pub centre: bool,
    /// Tuning only: fine windows per side (0: no fine windows; default: the chosen constant).
    #[arg(long, hide = true)]
    pub fine_grid: Option<u32>,
    /// Tuning only: a fine window's share of each side (default: the chosen constant).
    #[arg(long, hide = true)]
    pub fine_share: Option<f32>,
    /// Tuning only: the similarity a fine window needs to count (default: the chosen
    /// constant).
    #[arg(long, hide = true)]
    pub fine_min_similarity: Option<f32>,
    /// Tuning only: the grey-level spread under which a window is blank and not searched
    /// (0: every window; default: the chosen constant).
    #[arg(long, hide = true)]
    pub blank_window_std: Option<f32>,
    #[command(flatten)]
    pub shortlist: ShortlistArgs,
}

/// Runs `replicant scan`.
///
/// Over 100 lines on purpose: the command's steps in the order they run (build the options, run the
/// scan with its progress, write the JSON Lines and the settings beside them, print the summary),
/// each reading the last one's values.
pub fn scan(args: ScanArgs) -> anyhow::Result<ExitCode> {
    let mut options = ScanOptions::new(args.generations.clone(), args.training.clone());
    options.training_index = args.training_index.clone();
    options.project_dir = args.project.clone();
    options.prompt_set = args.prompts.clone();
    options.model = args.model.request();
    options.batch_size = usize::from(args.batch);
    options.matching.top_k = usize::from(args.top_k);
    options.matching.threshold = args.threshold;
    options.dtype = args.dtype;
    options.decode_threads = args.decode_threads;
    options.matching.regions = args.regions;
    options.matching.layout_rerank = !args.no_layout_rerank;
    options.matching.centring = args.centre;
    if let Some(weight) = args.layout_weight {
        options.matching.ranking.weight = weight;
    }
    if let Some(weight) = args.verify_weight {
        options.matching.ranking.verify_weight = weight;
    }
    if let Some(structure) = args.verify_structure {
        options.matching.ranking.structure = structure;
    }
    if let Some(candidates) = args.structure_candidates {
        options.matching.ranking.structure_candidates = candidates.min(1024);
    }
    if let Some(grid) = args.structure_grid {
        options.matching.ranking.structure_grid = grid.clamp(1, 30);
    }
    if let Some(pool) = args.rerank_pool {
        options.matching.ranking.pool = pool.clamp(1, 1024);
    }
    if let Some(share) = args.window_share {
        options.matching.region_plan.window_share = share.clamp(0.05, 1.0);
    }
    if let Some(min) = args.region_min_similarity {
        options.matching.region_plan.min_similarity = min;
    }
    options.matching.fine_plan = match args.fine_grid {
        Some(0) => None,
        grid => {
            let mut fine = replicant::ranking::regions::RegionPlan::fine();
            fine.grid = grid.unwrap_or(fine.grid).min(16);
            if let Some(share) = args.fine_share {
                fine.window_share = share.clamp(0.05, 1.0);
            }
            if let Some(min) = args.fine_min_similarity {
                fine.min_similarity = min;
            }
            if let Some(floor) = args.blank_window_std {
                fine.blank_std = floor.max(0.0);
            }
            Some(fine)
        }
    };
    if let Some(floor) = args.blank_window_std {
        options.matching.region_plan.blank_std = floor.max(0.0);
    }
    options.shortlist = args.shortlist.settings();
    if args.preset.is_some() {
        options = options.with_somepalli_2022();
    }
    let out_format = match args
        .out
        .as_deref()
        .map(ScanOutputFormat::for_path)
        .transpose()
    {
        Ok(format) => format.unwrap_or(ScanOutputFormat::JsonLines),
        Err(message) => {
            eprintln!("replicant: {}", printable(&message));
            return Ok(ExitCode::from(2));
        }
    };
    if let Some(out) = args.out.as_deref().and_then(|out| {
        [out.to_path_buf(), settings_path(out)]
            .into_iter()
            .find(|path| path.exists() && !args.force)
    }) {
        eprintln!(
            "replicant: {} exists; give --force to replace it, or choose another --out (it was left as it is)",
            printable(&out.display().to_string())
        );
        return Ok(ExitCode::from(2));
    }

    let (results, summary) = match run_scan_with_progress(options)? {
        Some(done) => done,
        None => {
            eprintln!("replicant: scan cancelled");
            return Ok(ExitCode::from(1));
        }
    };
    match &args.out {
        Some(path) => {
            // Written whole under a temporary name, then renamed: a reader never sees half a
            // file, and a failure leaves no half file behind.
            let mut body = Vec::new();
            write_scan_results(&results, out_format, &mut body)?;
            // The settings first: results never stand without the method that made them.
            let sidecar = settings_path(path);
            let settings = serde_json::to_vec_pretty(&SettingsSidecar {
                results: path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                generations: summary.generations,
                training_images: summary.training_images,
                reproduce: format!("replicant scan {}", summary.settings.reproduce_flags()),
                settings: &summary.settings,
                written_at: replicant::fsutil::utc_now(),
            })?;
            for (file, bytes) in [(&sidecar, &settings), (path, &body)] {
                replicant::fsutil::write_atomically(file, bytes).map_err(|err| {
                    anyhow::anyhow!(
                        "cannot write {}: {err}; {}",
                        file.display(),
                        replicant::fsutil::io_remedy(
                            &err,
                            "check the folder exists and is writable"
                        )
                    )
                })?;
            }
        }
        None => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            if let Err(err) = write_scan_results(&results, ScanOutputFormat::JsonLines, &mut lock)
                .and_then(|()| lock.flush())
                && err.kind() != std::io::ErrorKind::BrokenPipe
            {
                return Err(err).context("cannot write to standard output");
            }
        }
    }
    print_summary(&summary, args.out.as_deref());
    if let Some(error) = &summary.save_error {
        eprintln!(
            "replicant: error: the results could not be saved in the project, so the desk, `label` and `export` cannot use them: {error}"
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// What `FILE.settings.json` holds beside a scan's results file.
#[derive(serde::Serialize)]
struct SettingsSidecar<'a> {
    /// The results file it describes (its name, beside it).
    results: String,
    generations: usize,
    training_images: usize,
    settings: &'a replicant::ranking::matches::ScanSettings,
    /// The command line that runs the same scan again.
    reproduce: String,
    written_at: String,
}

/// Where a results file's settings go: `FILE.settings.json` beside it.
pub fn settings_path(out: &std::path::Path) -> PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_os_string();
    name.push(".settings.json");
    out.with_file_name(name)
}

/// Over 100 lines on purpose: the summary's lines in the order they print, each a few lines of
/// formatting.
fn print_summary(summary: &ScanSummary, out: Option<&std::path::Path>) {
    let pct = |share: f64| share * 100.0;
    eprintln!();
    eprintln!("Scan summary");
    eprintln!("  generations:       {}", summary.generations);
    eprintln!("  training images:   {}", summary.training_images);
    eprintln!(
        "  embedded / cached: {} / {}",
        summary.embedded, summary.cached
    );
    let ci = |count: usize| {
        let [lo, hi] = replicant::stats::Rate::of(count, summary.generations).ci95;
        format!("95% CI {:.1}-{:.1}%", pct(lo), pct(hi))
    };
    eprintln!(
        "  top-1 >= {:.2}:     {} ({:.1}%, {})  <- replication rate",
        summary.threshold,
        summary.at_or_above_threshold,
        pct(summary.replication_rate()),
        ci(summary.at_or_above_threshold)
    );
    eprintln!(
        "  top-1 >= {:.2}:     {} ({:.1}%, {})  <- duplicates",
        replicant::ranking::matches::DUPLICATE_SIMILARITY,
        summary.duplicates,
        pct(summary.duplicate_rate()),
        ci(summary.duplicates)
    );
    if let Some(split) = &summary.prompt_sources {
        let share = |rate: &replicant::stats::Rate| {
            format!(
                "{} ({:.1}%, 95% CI {:.1}-{:.1}%)",
                rate.count,
                pct(rate.value),
                pct(rate.ci95[0]),
                pct(rate.ci95[1])
            )
        };
        eprintln!(
            "  prompt set:        {} generations linked to a sampled caption",
            split.linked
        );
        eprintln!(
            "    copy their caption's own training image: {}",
            share(&split.own_source)
        );
        eprintln!(
            "    copy another training image:             {}",
            share(&split.other_training)
        );
        eprintln!(
            "    copy nothing:                            {}",
            share(&split.nothing)
        );
    }
    eprintln!(
        "  elapsed:           {:.1} s ({:.1} images/s)",
        summary.elapsed_secs, summary.images_per_sec
    );
    eprintln!(
        "  model:             {} on {}",
        summary.model_key, summary.execution_provider
    );
    eprintln!("  settings:          {}", summary.settings.summary_line());
    eprintln!(
        "  reproduce with:    replicant scan {}",
        summary.settings.reproduce_flags()
    );
    eprintln!(
        "  regions:           {}",
        if summary.regions {
            format!(
                "on ({} collages; fine windows searched in {} generations; {} blank windows, one flat colour, not searched)",
                summary.collages, summary.fine_windows, summary.blank_windows
            )
        } else {
            "off".to_string()
        }
    );
    match &summary.cascade {
        Some(cascade) => eprintln!(
            "  cascade:           on: training indexed with {}, top {} re-scored with full SSCD; {} training images re-scored ({} embedded now; {} of them near duplicates of shortlisted ones, for duplicate counts), {} full-SSCD embeddings saved",
            cascade.shortlist_model,
            cascade.shortlist_size,
            cascade.rescored,
            cascade.rescored_embedded,
            cascade.duplicate_neighbours,
            cascade.full_embeddings_saved
        ),
        None => eprintln!("  cascade:           off"),
    }
    eprintln!(
        "  search:            {}",
        if summary.exact_search {
            "exact"
        } else {
            "approximate (HNSW)"
        }
    );
    if let Some(index) = &summary.training_index {
        eprintln!("  training index:    {}", index.display());
    }
    eprintln!("  project:           {}", summary.project_dir.display());
    if let Some(out) = out {
        eprintln!("  results:           {}", out.display());
    }
    if !summary.skipped.is_empty() {
        eprintln!("  skipped {} files:", summary.skipped.len());
        for file in &summary.skipped {
            eprintln!(
                "    {} {}: {}",
                file.side,
                printable(&file.path),
                printable(&file.reason)
            );
        }
    }
    if !summary.truncated_shards.is_empty() {
        eprintln!(
            "  {} tar shards cut short (their members before the cut were scanned):",
            summary.truncated_shards.len()
        );
        for shard in &summary.truncated_shards {
            eprintln!(
                "    {} {}: {} members read; {}",
                shard.side,
                printable(&shard.shard),
                shard.members_read,
                printable(&shard.detail)
            );
        }
    }
    if !summary.notes.is_empty() {
        eprintln!("  notes:");
        for file in &summary.notes {
            eprintln!(
                "    {} {}: {}",
                file.side,
                printable(&file.path),
                printable(&file.reason)
            );
        }
    }
}

fn parse_structure(text: &str) -> Result<replicant::ranking::verify::Structure, String> {
    replicant::ranking::verify::Structure::parse(text)
        .ok_or_else(|| format!("{text:?}: use orientation, gradient or edges"))
}
