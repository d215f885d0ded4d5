//! `replicant report`: the evidence report of a project, as JSON or one HTML page.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use replicant::audit::AuditOptions;
use replicant::audit::report_with_baseline;

/// `replicant report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The project folder (the one `scan --project` wrote).
    #[arg(long, value_name = "DIR")]
    pub project: PathBuf,
    /// Where to write: `.json` for the numbers, `.html` for one self-contained page.
    #[arg(long, value_name = "FILE.html|FILE.json")]
    pub out: PathBuf,
    /// The similarity threshold of the replication rate (default: the one the project's scan
    /// used).
    #[arg(long, value_parser = crate::cli::args::parse_similarity)]
    pub threshold: Option<f32>,
    /// The precision the calibrated threshold must reach on labelled pairs.
    #[arg(long, default_value_t = 0.9)]
    pub target_precision: f64,
    /// Training images sampled for the training-against-training baseline (all when fewer).
    #[arg(long, default_value_t = 1_000)]
    pub baseline_sample: usize,
    /// The baseline's sampling seed (recorded in the report).
    #[arg(long, default_value_t = 12_345)]
    pub seed: u64,
    /// The least number of generations a prompt phrase must be used by to be tested.
    #[arg(long, default_value_t = replicant::prompts::analysis::DEFAULT_MIN_GENERATIONS as u32,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub min_phrase_generations: u32,
    /// Replace --out if it exists.
    #[arg(long)]
    pub force: bool,
    /// The model and runtime, for a project scanned with the shortlist cascade: its baseline
    /// embeds the sampled training images' shortlists with full SSCD (once; cached).
    #[command(flatten)]
    pub model: crate::cli::args::ModelArgs,
}

/// Runs `replicant report`.
pub fn report(args: &ReportArgs) -> anyhow::Result<ExitCode> {
    // The page unless the name ends in .json (as the desk writes it); other names are refused
    // here, where a typo would otherwise give a page under a .jsn name.
    match args.out.extension().and_then(|e| e.to_str()) {
        Some(e)
            if ["html", "htm", "json"]
                .iter()
                .any(|x| e.eq_ignore_ascii_case(x)) => {}
        _ => anyhow::bail!(
            "{}: name the report FILE.html or FILE.json",
            args.out.display()
        ),
    }
    if args.out.exists() && !args.force {
        anyhow::bail!(
            "{} exists; give --force to replace it, or another --out",
            args.out.display()
        );
    }
    let options = AuditOptions {
        threshold: args.threshold,
        target_precision: args.target_precision,
        baseline_sample: args.baseline_sample,
        seed: args.seed,
        min_phrase_generations: args.min_phrase_generations as usize,
        ..AuditOptions::default()
    };
    let cancel = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let report = report_with_baseline(
        &args.project,
        &options,
        &args.model.request(),
        &mut |line| eprintln!("replicant: {line}"),
        &mut |_, _| {},
        &cancel,
    )
    .map_err(anyhow::Error::msg)?;
    replicant::audit::job::write(&report, &args.out).map_err(anyhow::Error::msg)?;
    let r = &report.replication_rate;
    eprintln!(
        "replicant: {} generations, replication rate {:.2}% (95% CI {:.2}-{:.2}%) at {:.2}; {} labelled pairs ({} labels by {} reviewers); report written to {}",
        report.generations,
        r.value * 100.0,
        r.ci95[0] * 100.0,
        r.ci95[1] * 100.0,
        report.threshold,
        report.labels.labelled_pairs,
        report.labels.labels,
        report.labels.reviewers.len(),
        args.out.display()
    );
    if report.labels.left_out_pairs > 0 {
        eprintln!(
            "replicant: left out {} labelled pairs ({} labels) that are not among the last scan's pairs (an earlier scan of other folders found them)",
            report.labels.left_out_pairs, report.labels.left_out_labels
        );
    }
    if let Some(why) = &report.baseline_unavailable {
        eprintln!("replicant: no baseline: {why}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `replicant plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The project folder (the one `scan --project` wrote).
    #[arg(long, value_name = "DIR")]
    pub project: PathBuf,
    /// Generations drawn from each similarity band (0.05 wide; all of a band's when fewer).
    #[arg(long, default_value_t = 10)]
    pub per_band: usize,
    /// The random generator's seed (recorded in the plan).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Replace the project's plan if it has one.
    #[arg(long)]
    pub force: bool,
}

/// Runs `replicant plan`: draws the review plan and saves it in the project.
pub fn plan(args: &PlanArgs) -> anyhow::Result<ExitCode> {
    use replicant::review::plan;
    let project = replicant::project::Project::open(&args.project)?;
    if plan::load(&project.dir)
        .map_err(anyhow::Error::msg)?
        .is_some()
        && !args.force
    {
        anyhow::bail!(
            "{} already has a review plan ({}); give --force to draw a new one",
            project.dir.display(),
            plan::PLAN_FILE
        );
    }
    let last = replicant::project::last_scan::LastScan::load(&project)?.with_context(|| {
        format!(
            "{} has no scan results yet; run `replicant scan --project {}` first",
            project.dir.display(),
            project.dir.display()
        )
    })?;
    let drawn = plan::sample(&last.results, args.per_band, args.seed);
    plan::save(&project.dir, &drawn).map_err(anyhow::Error::msg)?;
    for band in &drawn.bands {
        println!(
            "{:.2}-{:.2}  {:6} generations  {:4} drawn",
            band.from,
            band.from + replicant::stats::BAND,
            band.generations,
            band.sampled
        );
    }
    eprintln!(
        "replicant: {} generations drawn for review (seed {}), saved in {}",
        drawn.generations.len(),
        drawn.seed,
        project.dir.join(plan::PLAN_FILE).display()
    );
    Ok(ExitCode::SUCCESS)
}
