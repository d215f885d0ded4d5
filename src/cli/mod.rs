//! The command line: argument definitions and the handlers of each subcommand.

pub mod eval;
pub mod report;
pub mod training;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use replicant::embed::{Device, ModelChoice, PreprocessOverrides};
use replicant::export::{ScanOutputFormat, write_scan_results};
use replicant::fsutil::printable;
use replicant::index::Dtype;
use replicant::matches::{GenerationMatches, sort_by_top_similarity};
use replicant::pipeline::cascade::{Shortlist, ShortlistMode};
use replicant::pipeline::{
    ModelRequest, ScanEvent, ScanOptions, ScanPhase, ScanSummary, start_scan,
};

/// Audit image generators for training-data replication.
///
/// With no command, opens the review desk.
#[derive(Debug, Parser)]
#[command(name = "replicant", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Find each generation's closest training images (JSON Lines or CSV).
    Scan(ScanArgs),
    /// Install ONNX Runtime and the SSCD models with pip into the data folder.
    Setup(SetupArgs),
    /// Measure raw model and end-to-end scan throughput (and Immaculate's, if given).
    Bench(crate::bench::BenchArgs),
    /// Open the review desk on these folders (a scan starts at once).
    Open(OpenArgs),
    /// Make the demo set (procedural training scenes and generations) and open the desk on it.
    Demo(DemoArgs),
    /// Label a pair in a project's review store, as the desk does.
    Label(LabelArgs),
    /// Export a project's labelled pairs (CSV, JSON Lines or HTML).
    Export(ExportArgs),
    /// Embed one shard of a training set (a worker: run N of them with --shard I/N).
    Embed(training::EmbedArgs),
    /// Build or check a reusable training index from embedding parts.
    Index(training::IndexArgs),
    /// Score a scan's results against known pairs: recall@1/@5 of copies, flags on the rest.
    Eval(eval::EvalArgs),
    /// The evidence report of a project: rates with intervals, the training baseline,
    /// duplicate counts, labels and the calibrated threshold (JSON or one HTML page).
    Report(report::ReportArgs),
    /// Draw a review plan: N generations from each similarity band, seeded, saved in the
    /// project (the desk's list can show only them).
    Plan(report::PlanArgs),
}

/// The shortlist cascade's choices, shared by `scan` and `open`.
#[derive(Debug, Args, Clone)]
pub struct ShortlistArgs {
    /// The shortlist cascade: index training images with sscd-distilled and re-score each
    /// generation's shortlist with full SSCD (auto: on a CPU when training images outnumber
    /// generations 20 to 1, or when the training index holds sscd-distilled embeddings).
    #[arg(long, default_value = "auto", value_parser = clap::value_parser!(ShortlistMode))]
    pub shortlist: ShortlistMode,
    /// Training images re-scored with full SSCD per generation (default 16).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub shortlist_size: Option<u16>,
}

impl ShortlistArgs {
    /// The cascade's settings as the command line gives them.
    pub fn settings(&self) -> Shortlist {
        Shortlist {
            mode: self.shortlist,
            size: self.shortlist_size.map(usize::from),
        }
    }
}

/// Model and runtime choices shared by the commands that embed images.
#[derive(Debug, Args, Clone)]
pub struct ModelArgs {
    /// Model: sscd, sscd-distilled, or a path to an ONNX image model.
    #[arg(long, default_value = "sscd", value_name = "NAME|FILE.onnx")]
    pub model: String,
    /// Input size in pixels for models with dynamic height and width.
    #[arg(long, value_name = "PIXELS", value_parser = clap::value_parser!(u32).range(16..=4096))]
    pub size: Option<u32>,
    /// Per-channel mean for float32 NCHW models, e.g. 0.485,0.456,0.406.
    #[arg(long, value_name = "R,G,B", value_parser = parse_triple)]
    pub mean: Option<[f32; 3]>,
    /// Per-channel standard deviation for float32 NCHW models, e.g. 0.229,0.224,0.225.
    #[arg(long, value_name = "R,G,B", value_parser = parse_triple)]
    pub std: Option<[f32; 3]>,
    /// Where inference runs: auto (CUDA when available), cpu, cuda or tensorrt.
    #[arg(long, default_value = "auto", value_parser = clap::value_parser!(Device))]
    pub device: Device,
    /// The ONNX Runtime library (libonnxruntime.so); also REPLICANT_ORT_LIB.
    #[arg(long, value_name = "FILE")]
    pub ort_lib: Option<PathBuf>,
    /// Never install missing files with pip; fail instead.
    #[arg(long)]
    pub no_setup: bool,
    /// Threads for inference (0: one per core; at most 256).
    #[arg(long, default_value_t = 0, value_name = "N", value_parser = parse_threads)]
    pub threads: usize,
}

impl ModelArgs {
    /// The request these arguments make.
    pub fn request(&self) -> ModelRequest {
        ModelRequest {
            choice: ModelChoice::parse(&self.model),
            overrides: PreprocessOverrides {
                size_px: self.size,
                mean: self.mean,
                std: self.std,
                alpha: replicant::decode::Alpha::default(),
            },
            ort_lib: self.ort_lib.clone(),
            device: self.device,
            intra_threads: self.threads,
            auto_setup: !self.no_setup,
        }
    }
}

fn parse_triple(text: &str) -> Result<[f32; 3], String> {
    let parts: Vec<f32> = text
        .split(',')
        .map(|p| p.trim().parse::<f32>().map_err(|e| format!("{p:?}: {e}")))
        .collect::<Result<_, _>>()?;
    <[f32; 3]>::try_from(parts)
        .map_err(|_| "give three comma-separated numbers, e.g. 0.5,0.5,0.5".into())
}

/// The most threads a command takes: beyond this a typo (100000) would start so many threads
/// that the machine stalls.
pub const MAX_THREADS: usize = 256;

/// Parses a thread count: 0 (one per core) to [`MAX_THREADS`].
pub fn parse_threads(text: &str) -> Result<usize, String> {
    let n: usize = text.trim().parse().map_err(|e| format!("{e}"))?;
    if n > MAX_THREADS {
        return Err(format!(
            "at most {MAX_THREADS} threads (0 means one per core)"
        ));
    }
    Ok(n)
}

pub(crate) fn parse_similarity(text: &str) -> Result<f32, String> {
    let value: f32 = text.parse().map_err(|e| format!("{e}"))?;
    if (-1.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err("a cosine similarity between -1 and 1".into())
    }
}

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
    #[arg(long, default_value_t = replicant::matches::DEFAULT_THRESHOLD, value_parser = parse_similarity)]
    pub threshold: f32,
    /// Follow a published protocol. somepalli-2022: the replication paper's (SSCD's global
    /// descriptor alone: no region windows, no layout re-rank, no cascade; threshold 0.5;
    /// transparency dropped as PIL's convert('RGB') does, not composited on white).
    #[arg(long, value_name = "NAME", value_parser = [replicant::pipeline::SOMEPALLI_2022],
          conflicts_with_all = ["regions", "no_layout_rerank", "threshold", "model", "shortlist", "centre"])]
    pub preset: Option<String>,
    /// Output file (.jsonl, or .csv for CSV); standard output when absent. The scan's
    /// settings are written beside it as FILE.settings.json.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The project folder for caches and results (default: under the data folder).
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
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
    #[arg(long, default_value = "auto", value_parser = clap::value_parser!(replicant::pipeline::regions::RegionMode))]
    pub regions: replicant::pipeline::regions::RegionMode,
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

/// `replicant open`.
#[derive(Debug, Args)]
pub struct OpenArgs {
    /// The folder of generated images.
    #[arg(long, value_name = "DIR", required_unless_present = "project")]
    pub generations: Option<PathBuf>,
    /// A training source (folder of images and/or .tar shards, or one .tar); repeat for
    /// several.
    #[arg(long, value_name = "SRC")]
    pub training: Vec<PathBuf>,
    /// A training index made by `replicant index build`, instead of training sources.
    #[arg(long, value_name = "INDEX", conflicts_with = "training")]
    pub training_index: Option<PathBuf>,
    /// The project folder (an existing one opens as it is).
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Match regions of each generation too (auto: when it costs at most 2.5x).
    #[arg(long, default_value = "auto", value_parser = clap::value_parser!(replicant::pipeline::regions::RegionMode))]
    pub regions: replicant::pipeline::regions::RegionMode,
    #[command(flatten)]
    pub shortlist: ShortlistArgs,
}

/// `replicant demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to make the demo set (default: `demo` in the data folder).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Only make the set and print its folders; do not open the desk.
    #[arg(long)]
    pub no_open: bool,
    /// Training images to make.
    #[arg(long, default_value_t = 200)]
    pub training: usize,
    /// Generations to make.
    #[arg(long, default_value_t = 60)]
    pub generations: usize,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Match regions of each generation too (on by default here: the demo has collages).
    #[arg(long, default_value = "on", value_parser = clap::value_parser!(replicant::pipeline::regions::RegionMode))]
    pub regions: replicant::pipeline::regions::RegionMode,
}

/// `replicant label`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct LabelArgs {
    /// Merge other reviewers' exports instead of labelling one pair.
    #[command(subcommand)]
    pub action: Option<LabelAction>,
    /// The project folder.
    #[arg(long, value_name = "DIR", required = true)]
    pub project: Option<PathBuf>,
    /// The generation's path, as in the scan's output.
    #[arg(long, value_name = "PATH", required = true)]
    pub generation: Option<String>,
    /// The training image's path, as in the scan's output.
    #[arg(long, value_name = "PATH", required = true)]
    pub training: Option<String>,
    /// full_copy, near_copy, distinct, or clear.
    #[arg(long, value_parser = ["full_copy", "near_copy", "distinct", "clear"], required = true)]
    pub label: Option<String>,
    /// A note to keep with the label.
    #[arg(long)]
    pub note: Option<String>,
    /// The reviewer's name (default: the operating system's user name).
    #[arg(long)]
    pub reviewer: Option<String>,
    /// Adjudicate instead: set the pair's final label (reviewers who disagree keep their own
    /// labels; `clear` withdraws the adjudication).
    #[arg(long)]
    pub adjudicate: bool,
}

/// `replicant label import`.
#[derive(Debug, Subcommand)]
pub enum LabelAction {
    /// Merge reviewers' exported review sets (CSV or JSON Lines from `replicant export`,
    /// matched by the content hashes they carry) into this project: each reviewer's labels
    /// and notes under their name, adjudications under their adjudicator's. Importing twice
    /// adds nothing; where a reviewer said otherwise here, this project's is kept and listed.
    Import {
        /// The project folder to merge into.
        #[arg(long, value_name = "DIR")]
        project: PathBuf,
        /// The exported files.
        #[arg(value_name = "FILE", required = true)]
        files: Vec<PathBuf>,
    },
}

/// `replicant export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The project folder.
    #[arg(long, value_name = "DIR")]
    pub project: PathBuf,
    /// The file to write.
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
    /// csv, jsonl or html (default: from the file's extension, else csv).
    #[arg(long, value_parser = ["csv", "jsonl", "html"])]
    pub format: Option<String>,
    /// Copy both images of each pair into a folder beside the file.
    #[arg(long)]
    pub with_images: bool,
    /// Export every pair of the last scan, labelled or not (unlabelled ones with an empty
    /// label), e.g. to send the review set out to be labelled elsewhere.
    #[arg(long, conflicts_with = "top")]
    pub all: bool,
    /// Export the labelled pairs and the N most similar pairs of the last scan that nobody
    /// has labelled yet.
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,
    /// Replace the file if it exists.
    #[arg(long)]
    pub force: bool,
}

/// `replicant setup`.
#[derive(Debug, Args)]
pub struct SetupArgs {
    /// Install the GPU build of ONNX Runtime (onnxruntime-gpu) with NVIDIA's CUDA 13 and
    /// cuDNN 9 libraries from PyPI (no system CUDA needed; only the GPU driver).
    #[arg(long)]
    pub gpu: bool,
    /// With --gpu: TensorRT 10's libraries too, for --device tensorrt.
    #[arg(long, requires = "gpu")]
    pub tensorrt: bool,
    /// Reinstall even if already installed.
    #[arg(long)]
    pub force: bool,
}

/// Runs `replicant scan`.
pub fn scan(args: ScanArgs) -> anyhow::Result<ExitCode> {
    let mut options = ScanOptions::new(args.generations.clone(), args.training.clone());
    options.training_index = args.training_index.clone();
    options.project_dir = args.project.clone();
    options.model = args.model.request();
    options.batch_size = usize::from(args.batch);
    options.top_k = usize::from(args.top_k);
    options.threshold = args.threshold;
    options.dtype = args.dtype;
    options.decode_threads = args.decode_threads;
    options.regions = args.regions;
    options.layout_rerank = !args.no_layout_rerank;
    options.centring = args.centre;
    if let Some(weight) = args.layout_weight {
        options.ranking.weight = weight;
    }
    if let Some(pool) = args.rerank_pool {
        options.ranking.pool = pool.clamp(1, 1024);
    }
    if let Some(share) = args.window_share {
        options.region_plan.window_share = share.clamp(0.05, 1.0);
    }
    if let Some(min) = args.region_min_similarity {
        options.region_plan.min_similarity = min;
    }
    options.fine_plan = match args.fine_grid {
        Some(0) => None,
        grid => {
            let mut fine = replicant::pipeline::regions::RegionPlan::fine();
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
        options.region_plan.blank_std = floor.max(0.0);
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
    settings: &'a replicant::matches::ScanSettings,
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

/// Runs a scan to the end, drawing a progress bar on stderr when it is a terminal. Returns
/// the results sorted by top-1 similarity, or `None` when cancelled.
pub fn run_scan_with_progress(
    options: ScanOptions,
) -> anyhow::Result<Option<(Vec<GenerationMatches>, ScanSummary)>> {
    let handle = start_scan(options, None);
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    let terminal = std::io::stderr().is_terminal();
    let mut log = ProgressLog::new();
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {msg} [{bar:30}] {pos}/{len} ({per_sec}, ETA {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let mut results = Vec::new();
    for event in handle.events.iter() {
        match event {
            ScanEvent::Phase(phase) => bar.set_message(phase_label(phase)),
            ScanEvent::Catalogued {
                generations,
                training,
                to_process,
            } => {
                bar.set_length(to_process as u64);
                bar.suspend(|| {
                    eprintln!("replicant: {generations} generations, {training} training images; {to_process} to read ({} cached)", generations + training - to_process);
                });
            }
            ScanEvent::Info(line) => bar.suspend(|| eprintln!("replicant: {}", printable(&line))),
            ScanEvent::Progress(progress) => {
                bar.set_position(progress.done as u64);
                if !terminal {
                    log.progress(&progress);
                }
            }
            ScanEvent::Skipped(_) | ScanEvent::Listed(_) => {}
            ScanEvent::Generation(result) => results.push(result),
            ScanEvent::Finished(summary) => {
                bar.finish_and_clear();
                sort_by_top_similarity(&mut results);
                return Ok(Some((results, *summary)));
            }
            ScanEvent::Failed(message) => {
                bar.finish_and_clear();
                anyhow::bail!("scan failed: {message}");
            }
            ScanEvent::Cancelled => {
                bar.finish_and_clear();
                return Ok(None);
            }
        }
    }
    anyhow::bail!("the scan stopped without a result")
}

/// Progress as log lines, for a stderr that is not a terminal (a Slurm or Ray log, a pipe):
/// one line every [`ProgressLog::interval`] and one at the end, with done, total, rate and
/// ETA, so a long job shows life without a line per image.
pub struct ProgressLog {
    interval: std::time::Duration,
    last: Option<std::time::Instant>,
}

impl ProgressLog {
    /// Every 10 seconds, or every `REPLICANT_PROGRESS_SECS` seconds when set.
    pub fn new() -> Self {
        let secs = std::env::var("REPLICANT_PROGRESS_SECS")
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .unwrap_or(10.0);
        Self {
            interval: std::time::Duration::from_secs_f64(secs),
            last: None,
        }
    }

    /// Prints a line for `progress` when the interval has passed since the last (the first
    /// waits one interval too) or the work is done.
    pub fn progress(&mut self, progress: &replicant::pipeline::Progress) {
        let now = std::time::Instant::now();
        let last = *self.last.get_or_insert(now);
        let done = progress.done >= progress.total;
        if !done && now.duration_since(last) < self.interval {
            return;
        }
        self.last = Some(now);
        let share = if progress.total == 0 {
            100.0
        } else {
            progress.done as f64 * 100.0 / progress.total as f64
        };
        let eta = match (done, progress.eta_secs) {
            (true, _) => "done".to_string(),
            (false, Some(secs)) => format!(
                "ETA {}",
                humantime::format_duration(std::time::Duration::from_secs(secs.round() as u64))
            ),
            (false, None) => "ETA unknown".to_string(),
        };
        eprintln!(
            "replicant: embedded {}/{} ({share:.0}%) at {:.1} images/s, {eta}",
            progress.done, progress.total, progress.images_per_sec
        );
    }
}

impl Default for ProgressLog {
    fn default() -> Self {
        Self::new()
    }
}

/// The progress bar's word for a phase.
pub fn phase_label(phase: ScanPhase) -> &'static str {
    match phase {
        ScanPhase::Cataloguing => "cataloguing",
        ScanPhase::LoadingModel => "loading model",
        ScanPhase::Embedding => "embedding",
        ScanPhase::Indexing => "indexing",
        ScanPhase::Rescoring => "re-scoring shortlists",
        ScanPhase::FineWindows => "fine windows",
    }
}

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
        replicant::matches::DUPLICATE_SIMILARITY,
        summary.duplicates,
        pct(summary.duplicate_rate()),
        ci(summary.duplicates)
    );
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

/// Runs `replicant setup`.
pub fn setup(args: &SetupArgs) -> anyhow::Result<ExitCode> {
    use replicant::embed::provision::RuntimeKind;
    let kind = match (args.gpu, args.tensorrt) {
        (false, _) => RuntimeKind::Cpu,
        (true, false) => RuntimeKind::Cuda,
        (true, true) => RuntimeKind::CudaTensorRt,
    };
    let report = replicant::embed::provision::setup(kind, args.force, &mut |line| {
        eprintln!("replicant: {line}")
    })?;
    eprintln!("replicant: ONNX Runtime: {}", report.ort_library.display());
    eprintln!("replicant: models:       {}", report.models.display());
    Ok(ExitCode::SUCCESS)
}

/// Runs `replicant label import`.
fn label_import(project: &std::path::Path, files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let project = replicant::pipeline::Project::open(project)?;
    let mut matched_any = false;
    for file in files {
        let rows = replicant::pipeline::label_import::read_export(file)?;
        let report = replicant::pipeline::label_import::import_rows(&project, file, &rows)?;
        matched_any |= report.matched > 0 || report.rows == 0;
        eprintln!(
            "replicant: {}: {} rows, {} matched this project's pairs; added {} labels and {} notes{} and {} adjudications; {} already here",
            printable(&file.display().to_string()),
            report.rows,
            report.matched,
            report.labels_added,
            report.notes_added,
            if report.reviewers.is_empty() {
                String::new()
            } else {
                format!(" (by {})", printable(&report.reviewers.join(", ")))
            },
            report.adjudications_added,
            report.already
        );
        if !report.conflicts.is_empty() {
            eprintln!(
                "replicant: {} conflicts (this project's kept; change them with `replicant label`):",
                report.conflicts.len()
            );
            for line in &report.conflicts {
                eprintln!("    {}", printable(line));
            }
        }
        if !report.unmatched.is_empty() {
            eprintln!(
                "replicant: {} rows match no pair of this project's last scan (not imported; scan the same folders, or import into the project they came from):",
                report.unmatched.len()
            );
            for line in report.unmatched.iter().take(20) {
                eprintln!("    {}", printable(line));
            }
            if report.unmatched.len() > 20 {
                eprintln!("    ... and {} more", report.unmatched.len() - 20);
            }
        }
    }
    if !matched_any {
        eprintln!(
            "replicant: nothing matched {}: its rows are another project's pairs",
            project.dir.display()
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `replicant label`.
pub fn label(args: &LabelArgs) -> anyhow::Result<ExitCode> {
    use replicant::review::{Label, PairKey};
    if let Some(LabelAction::Import { project, files }) = &args.action {
        return label_import(project, files);
    }
    let (Some(project), Some(generation), Some(training), Some(label)) =
        (&args.project, &args.generation, &args.training, &args.label)
    else {
        anyhow::bail!("give --project, --generation, --training and --label");
    };
    let project = replicant::pipeline::Project::open(project)?;
    let mut last = replicant::pipeline::LastScan::load(&project)?.with_context(|| {
        format!(
            "{} has no scan results yet; run `replicant scan --project {}` first",
            project.dir.display(),
            project.dir.display()
        )
    })?;
    replicant::pipeline::fill_hashes(&project, &mut last);
    let result = last
        .results
        .iter()
        .find(|r| r.generation == *generation)
        .with_context(|| format!("generation {generation:?} is not in the project's last scan; give its path as the scan printed it"))?;
    let m = result
        .matches
        .iter()
        .find(|m| m.training == *training)
        .with_context(|| format!("{training:?} is not among the matches of {generation:?}; give a training path from the scan's output"))?;
    let key = PairKey::of(result, m).with_context(|| {
        format!(
            "the content of {:?} or {:?} cannot be read to key its label; check both files are there",
            generation, training
        )
    })?;
    let context = replicant::review::PairContext::of(result, m, &last.model_key);
    let reviewer = match &args.reviewer {
        Some(name) => replicant::review::checked_reviewer(name)?.to_string(),
        None => replicant::review::default_reviewer(),
    };
    let label = if label == "clear" {
        None
    } else {
        Label::parse(label)
    };
    let (mut store, _) = replicant::pipeline::open_review(&project)?;
    if args.adjudicate {
        store.adjudicate(&key, label, &reviewer)?;
        eprintln!(
            "replicant: {} ~ {}: adjudicated {} (by {})",
            printable(&result.generation),
            printable(&m.training),
            label.map_or("withdrawn", |l| l.as_str()),
            printable(&reviewer)
        );
        return Ok(ExitCode::SUCCESS);
    }
    let names = (result.generation.as_str(), m.training.as_str());
    let mut record = store.set_label(&key, names, label, &reviewer, &context)?;
    if let Some(note) = &args.note {
        record = store.set_note(&key, names, note, &reviewer, &context)?;
    }
    eprintln!(
        "replicant: {} ~ {}: {} (by {}, {})",
        printable(&record.generation),
        printable(&record.training),
        record.label.map_or("cleared", |l| l.as_str()),
        printable(&record.reviewer),
        record.labelled_at
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs `replicant export`.
pub fn export(args: &ExportArgs) -> anyhow::Result<ExitCode> {
    use replicant::export::{ExportRequest, ReviewFormat, export_review_set};
    let format = match args.format.as_deref().and_then(ReviewFormat::parse) {
        Some(format) => format,
        None => match ReviewFormat::for_extension(&args.out) {
            Ok(format) => format,
            Err(message) => {
                eprintln!("replicant: {}", printable(&message));
                return Ok(ExitCode::from(2));
            }
        },
    };
    let project = replicant::pipeline::Project::open(&args.project)?;
    // Read-only: an export writes nothing into the project, so a project on read-only media
    // (or another account's) exports too. A project nobody has labelled has no store yet.
    let review_path = project.review_path();
    let (mut records, reviews) = if review_path.exists() {
        let store = replicant::review::ReviewStore::open_read_only(&review_path)?;
        (store.all()?, store.reviews()?)
    } else {
        (Vec::new(), Default::default())
    };
    let labelled = records
        .iter()
        .filter(|r| replicant::export::is_exported(r, &reviews))
        .count();
    let with_unlabelled = args.all || args.top.is_some();
    let added = if with_unlabelled {
        records.retain(|r| replicant::export::is_exported(r, &reviews));
        let unlabelled = scan_pairs_unlabelled(&project, &records, args.top)?;
        let added = unlabelled.len();
        records.extend(unlabelled);
        added
    } else {
        0
    };
    if records.is_empty() {
        eprintln!(
            "replicant: {} has no labelled pairs yet; label pairs in the desk or with `replicant label`, or give --all (or --top N) to export the scan's pairs for labelling elsewhere (nothing was written)",
            printable(&project.dir.display().to_string())
        );
        return Ok(ExitCode::from(1));
    }
    let names = current_names(&project)?;
    let scope = project.scope();
    let readable = |location: &replicant::catalog::ImageLocation| scope.contains(location);
    let report = export_review_set(
        &records,
        &args.out,
        ExportRequest {
            format,
            with_images: args.with_images,
            force: args.force,
            names: &names,
            readable: &readable,
            progress: &mut |_, _| true,
            reviews: &reviews,
            with_unlabelled,
        },
    )?;
    if with_unlabelled {
        eprintln!(
            "replicant: exported {} pairs ({labelled} labelled, {added} not yet labelled) to {}",
            report.pairs,
            args.out.display()
        );
    } else {
        eprintln!(
            "replicant: exported {} labelled pairs to {}",
            report.pairs,
            args.out.display()
        );
    }
    if let Some(dir) = &report.images_dir {
        eprintln!(
            "replicant: copied {} images into {}",
            report.images_copied,
            dir.display()
        );
    }
    for problem in &report.problems {
        eprintln!("replicant: warning: {}", printable(problem));
    }
    Ok(ExitCode::SUCCESS)
}

/// The last scan's pairs that none of `labelled` covers, as label-less records, most similar
/// first; at most `top` of them when given.
fn scan_pairs_unlabelled(
    project: &replicant::pipeline::Project,
    labelled: &[replicant::review::LabelRecord],
    top: Option<usize>,
) -> anyhow::Result<Vec<replicant::review::LabelRecord>> {
    let Some(mut last) = replicant::pipeline::LastScan::load(project)? else {
        anyhow::bail!(
            "{} has no scan results yet; run `replicant scan --project {}` first",
            project.dir.display(),
            project.dir.display()
        );
    };
    replicant::pipeline::fill_hashes(project, &mut last);
    let mut known: std::collections::HashSet<replicant::review::PairKey> =
        labelled.iter().map(|r| r.key.clone()).collect();
    let mut pairs = Vec::new();
    for result in &last.results {
        for m in &result.matches {
            let Some(key) = replicant::review::PairKey::of(result, m) else {
                continue;
            };
            if !known.insert(key.clone()) {
                continue;
            }
            pairs.push(replicant::review::LabelRecord {
                key,
                generation: result.generation.clone(),
                training: m.training.clone(),
                label: None,
                reviewer: String::new(),
                note: String::new(),
                labelled_at: String::new(),
                context: replicant::review::PairContext::of(result, m, &last.model_key),
            });
        }
    }
    pairs.sort_by(|a, b| b.context.similarity.total_cmp(&a.context.similarity));
    if let Some(top) = top {
        pairs.truncate(top);
    }
    Ok(pairs)
}

/// Every pair of the project's last scan under its current names, by key (empty before the
/// first scan).
fn current_names(
    project: &replicant::pipeline::Project,
) -> anyhow::Result<replicant::export::CurrentNames> {
    let Some(mut last) = replicant::pipeline::LastScan::load(project)? else {
        return Ok(Default::default());
    };
    replicant::pipeline::fill_hashes(project, &mut last);
    let mut names = replicant::export::CurrentNames::new();
    for result in &last.results {
        for m in &result.matches {
            if let Some(key) = replicant::review::PairKey::of(result, m) {
                names.insert(key, (result.generation.clone(), m.training.clone()));
            }
        }
    }
    Ok(names)
}

/// Runs `replicant demo`.
pub fn demo(args: &DemoArgs) -> anyhow::Result<ExitCode> {
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| replicant::embed::provision::data_dir().join("demo"));
    let spec = replicant::demo::DemoSpec {
        training: args.training,
        generations: args.generations,
        ..Default::default()
    };
    eprintln!(
        "replicant: making the demo set in {} ({} training images, {} generations)",
        dir.display(),
        spec.training,
        spec.generations
    );
    let set = replicant::demo::make_demo(&dir, &spec)
        .with_context(|| format!("cannot write the demo set into {}", dir.display()))?;
    if args.no_open {
        println!("{}", set.generations.display());
        println!("{}", set.training.display());
        return Ok(ExitCode::SUCCESS);
    }
    #[cfg(feature = "desk")]
    {
        let start = replicant::app::StartMode::Folders {
            generations: set.generations,
            training: vec![set.training],
            training_index: None,
            project: Some(dir.join("project")),
        };
        open_desk(
            start,
            Some(args.model.request()),
            args.regions,
            Shortlist::default(),
        )
    }
    #[cfg(not(feature = "desk"))]
    {
        println!("{}", set.generations.display());
        println!("{}", set.training.display());
        no_desk()
    }
}

/// The answer of a build without the desk to a command that needs it.
#[cfg(not(feature = "desk"))]
pub fn no_desk() -> anyhow::Result<ExitCode> {
    eprintln!(
        "replicant: this build has no review desk (built with --no-default-features); use `replicant scan`, `label` and `export`, or install the default build for the desk"
    );
    Ok(ExitCode::from(2))
}

/// Runs `replicant open`.
#[cfg(feature = "desk")]
pub fn open(args: &OpenArgs) -> anyhow::Result<ExitCode> {
    let start = match (&args.generations, &args.project) {
        (Some(generations), _) => {
            anyhow::ensure!(
                !args.training.is_empty() || args.training_index.is_some(),
                "give at least one --training SRC, or --training-index INDEX, with --generations"
            );
            replicant::app::StartMode::Folders {
                generations: generations.clone(),
                training: args.training.clone(),
                training_index: args.training_index.clone(),
                project: args.project.clone(),
            }
        }
        (None, Some(project)) => replicant::app::StartMode::Project(project.clone()),
        (None, None) => replicant::app::StartMode::Resume,
    };
    let shortlist = args.shortlist.settings();
    open_desk(start, Some(args.model.request()), args.regions, shortlist)
}

/// Runs `replicant open` in a build without the desk.
#[cfg(not(feature = "desk"))]
pub fn open(_args: &OpenArgs) -> anyhow::Result<ExitCode> {
    no_desk()
}

/// Opens the desk window.
#[cfg(feature = "desk")]
pub fn open_desk(
    start: replicant::app::StartMode,
    model: Option<ModelRequest>,
    regions: replicant::pipeline::regions::RegionMode,
    shortlist: Shortlist,
) -> anyhow::Result<ExitCode> {
    replicant::app::run(start, model, regions, shortlist).map_err(|err| anyhow::anyhow!("cannot open the window: {err}. The desk needs a display (X11 or Wayland) and a GPU or software Vulkan/GL driver; `replicant scan` works without one"))?;
    Ok(ExitCode::SUCCESS)
}
