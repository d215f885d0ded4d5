//! `replicant bench cascade`: for demo sets whose training side is 20x and 100x the
//! generations (by default), a cold scan with the shortlist cascade off and on (each into a
//! fresh project, default settings otherwise), their times and ratio, and recall@1/@5 of each
//! against the set's ground truth, in one run.

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use replicant::demo::{DemoSpec, make_demo};
use replicant::eval::{Evaluation, ListedMatches, evaluate, read_truth};
use replicant::ranking::cascade::{Shortlist, ShortlistMode};
use replicant::ranking::matches::GenerationMatches;
use replicant::scan::ScanOptions;

use crate::cli::args::ModelArgs;
use crate::cli::progress::run_scan_with_progress;

/// `replicant bench cascade`.
#[derive(Debug, Args)]
pub struct CascadeBenchArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Generations in each demo set.
    #[arg(long, default_value_t = 20)]
    pub generations: usize,
    /// Training images per generation, one demo set each.
    #[arg(long, value_delimiter = ',', default_value = "20,100")]
    pub ratios: Vec<usize>,
    /// Images per inference batch.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Seed of the demo sets.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Re-scored training images per generation (default: the scan's).
    #[arg(long)]
    pub shortlist_size: Option<usize>,
    /// Region matching for both scans, as `scan --regions` (auto, on, off).
    #[arg(long, default_value = "auto", value_parser = clap::value_parser!(replicant::ranking::regions::RegionMode))]
    pub regions: replicant::ranking::regions::RegionMode,
}

struct Timed {
    secs: f64,
    evaluation: Evaluation,
    saved: usize,
}

fn scan(
    args: &CascadeBenchArgs,
    generations: &Path,
    training: &Path,
    project: &Path,
    mode: ShortlistMode,
    truth_csv: &Path,
) -> anyhow::Result<Timed> {
    let mut options = ScanOptions::new(generations.to_path_buf(), vec![training.to_path_buf()]);
    options.project_dir = Some(project.to_path_buf());
    options.model = args.model.request();
    options.batch_size = args.batch;
    options.matching.regions = args.regions;
    options.shortlist = Shortlist {
        mode,
        size: args.shortlist_size,
    };
    let started = Instant::now();
    let (results, summary) = run_scan_with_progress(options)?.context("scan cancelled")?;
    let secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        (mode == ShortlistMode::On) == summary.cascade.is_some(),
        "the cascade did not run as asked ({mode:?})"
    );
    let truth = read_truth(truth_csv)?;
    Ok(Timed {
        secs,
        evaluation: evaluate(&truth, &listed(&results), summary.threshold),
        saved: summary.cascade.map_or(0, |c| c.full_embeddings_saved),
    })
}

/// The results as `replicant eval` reads them.
fn listed(results: &[GenerationMatches]) -> HashMap<String, ListedMatches> {
    results
        .iter()
        .map(|r| {
            (
                r.generation.clone(),
                r.matches
                    .iter()
                    .map(|m| (m.training.clone(), m.similarity))
                    .collect(),
            )
        })
        .collect()
}

fn recall(e: &Evaluation) -> String {
    let rate = |v: Option<f64>| v.map_or_else(|| "-".into(), |v| format!("{v:.2}"));
    format!(
        "recall@1 full {} near {}, recall@5 full {} near {}, sourceless flagged {}/{}",
        rate(e.overall.full_copy.recall_at_1),
        rate(e.overall.near_copy.recall_at_1),
        rate(e.overall.full_copy.recall_at_5),
        rate(e.overall.near_copy.recall_at_5),
        e.overall.negative.flagged,
        e.overall.negative.n,
    )
}

/// Runs the cascade benchmark and prints a table.
pub fn run(args: &CascadeBenchArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.generations > 0, "--generations must be at least 1");
    let work = tempfile::tempdir().context("temporary folder")?;
    for &ratio in &args.ratios {
        let dir = work.path().join(format!("ratio-{ratio}"));
        let training = ratio * args.generations;
        eprintln!(
            "replicant: making a demo set of {training} training images and {} generations",
            args.generations
        );
        let set = make_demo(
            &dir,
            &DemoSpec {
                training,
                generations: args.generations,
                seed: args.seed,
            },
        )
        .with_context(|| format!("cannot write the demo set into {}", dir.display()))?;
        let truth = dir.join("demo_truth.csv");
        let off = scan(
            args,
            &set.generations,
            &set.training,
            &dir.join("project-off"),
            ShortlistMode::Off,
            &truth,
        )?;
        let on = scan(
            args,
            &set.generations,
            &set.training,
            &dir.join("project-on"),
            ShortlistMode::On,
            &truth,
        )?;
        println!(
            "cascade {ratio}:1 ({training} training images, {} generations)",
            args.generations
        );
        println!(
            "  full SSCD       {:8.2} s  cold  {}",
            off.secs,
            recall(&off.evaluation)
        );
        println!(
            "  cascade         {:8.2} s  cold  {}  ({} full-SSCD embeddings saved)",
            on.secs,
            recall(&on.evaluation),
            on.saved
        );
        println!("  cascade / full  {:8.3}", on.secs / off.secs);
    }
    Ok(ExitCode::SUCCESS)
}
