//! `replicant label`: label one pair, or merge other reviewers' exports.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use replicant::fsutil::printable;

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

/// Runs `replicant label import`.
fn label_import(project: &std::path::Path, files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let project = replicant::project::Project::open(project)?;
    let mut matched_any = false;
    for file in files {
        let rows = replicant::project::label_import::read_for(&project, file)?;
        let report = replicant::project::label_import::import_rows(&project, file, &rows)?;
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
    let project = replicant::project::Project::open(project)?;
    let mut last = replicant::project::last_scan::LastScan::load(&project)?.with_context(|| {
        format!(
            "{} has no scan results yet; run `replicant scan --project {}` first",
            project.dir.display(),
            project.dir.display()
        )
    })?;
    replicant::project::review::fill_hashes(&project, &mut last);
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
    let (mut store, _) = replicant::project::review::open_review(&project)?;
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
