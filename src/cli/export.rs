//! `replicant export`: the review set as CSV, JSON Lines or one HTML page.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use replicant::fsutil::printable;

/// `replicant export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The project folder.
    #[arg(long, value_name = "DIR")]
    pub project: PathBuf,
    /// The file to write.
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
    /// csv, jsonl, html, parquet, or review-html: a page on which a reviewer labels the pairs in
    /// any browser and saves them for `replicant label import` (default: from the file's
    /// extension, else csv).
    #[arg(long, value_parser = ["csv", "jsonl", "html", "parquet", "review-html"])]
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
    let project = replicant::project::Project::open(&args.project)?;
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
            project_identity: Some(&project.identity()),
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
    project: &replicant::project::Project,
    labelled: &[replicant::review::LabelRecord],
    top: Option<usize>,
) -> anyhow::Result<Vec<replicant::review::LabelRecord>> {
    let Some(mut last) = replicant::project::last_scan::LastScan::load(project)? else {
        anyhow::bail!(
            "{} has no scan results yet; run `replicant scan --project {}` first",
            project.dir.display(),
            project.dir.display()
        );
    };
    replicant::project::review::fill_hashes(project, &mut last);
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
    project: &replicant::project::Project,
) -> anyhow::Result<replicant::export::CurrentNames> {
    let Some(mut last) = replicant::project::last_scan::LastScan::load(project)? else {
        return Ok(Default::default());
    };
    replicant::project::review::fill_hashes(project, &mut last);
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
