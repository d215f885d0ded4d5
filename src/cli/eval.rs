//! `replicant eval`: recall of known copies, and flags on pairs that are not copies, from a
//! scan's results and a truth file.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use replicant::eval::{Evaluation, Figures, evaluate, read_results, read_truth};

/// `replicant eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Truth: a CSV in the fixtures' pairs.csv form (derived_path, source_path, kind; set
    /// optional) or a review set from `replicant export` (CSV).
    #[arg(long, value_name = "FILE.csv")]
    pub truth: PathBuf,
    /// The scan's results (`replicant scan --out FILE.jsonl`).
    #[arg(long, value_name = "FILE.jsonl")]
    pub results: PathBuf,
    /// Similarity at or above which a pair is flagged.
    #[arg(long, default_value_t = replicant::ranking::matches::DEFAULT_THRESHOLD, value_parser = super::args::parse_similarity)]
    pub threshold: f32,
    /// Print one JSON object on one line (the last line of stdout) instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `replicant eval`.
pub fn eval(args: &EvalArgs) -> anyhow::Result<ExitCode> {
    let truth = match read_truth(&args.truth) {
        Ok(truth) => truth,
        Err(err) => {
            eprintln!("replicant: error: {err}");
            return Ok(ExitCode::from(2));
        }
    };
    let results = match read_results(&args.results) {
        Ok(results) => results,
        Err(err) => {
            eprintln!("replicant: error: {err}");
            return Ok(ExitCode::from(2));
        }
    };
    let evaluation = evaluate(&truth, &results, args.threshold);
    if args.json {
        println!("{}", serde_json::to_string(&evaluation)?);
    } else {
        print_table(&evaluation, args.threshold);
    }
    Ok(ExitCode::SUCCESS)
}

fn rate(value: Option<f64>) -> String {
    value.map_or_else(|| "-".into(), |v| format!("{v:.2}"))
}

fn row(name: &str, f: &Figures, width: usize) -> String {
    format!(
        "{name:<width$} {:>4} {:>6} {:>6}  {:>4} {:>6} {:>6}  {:>9}  {:>9}  {:>7}",
        f.full_copy.n,
        rate(f.full_copy.recall_at_1),
        rate(f.full_copy.recall_at_5),
        f.near_copy.n,
        rate(f.near_copy.recall_at_1),
        rate(f.near_copy.recall_at_5),
        format!("{}/{}", f.style_only.flagged, f.style_only.n),
        format!("{}/{}", f.negative.flagged, f.negative.n),
        f.missing,
    )
}

fn print_table(evaluation: &Evaluation, threshold: f32) {
    let width = evaluation
        .by_set
        .keys()
        .chain(evaluation.by_category.keys())
        .map(|k| replicant::fsutil::printable(k).chars().count())
        .max()
        .unwrap_or(0)
        .max(16);
    println!(
        "{:<width$} {:>4} {:>6} {:>6}  {:>4} {:>6} {:>6}  {:>9}  {:>9}  {:>7}",
        "", "full", "R@1", "R@5", "near", "R@1", "R@5", "style>=t", "neg>=t", "missing"
    );
    for (set, figures) in &evaluation.by_set {
        println!(
            "{}",
            row(&replicant::fsutil::printable(set), figures, width)
        );
    }
    println!("{}", row("overall", &evaluation.overall, width));
    if !evaluation.by_category.is_empty() {
        println!("by kind of copy:");
        for (category, figures) in &evaluation.by_category {
            println!(
                "{}",
                row(&replicant::fsutil::printable(category), figures, width)
            );
        }
    }
    println!(
        "(R@1, R@5: share of copies with their source at rank 1 / in the first five; style>=t, neg>=t: style-only pairs and generations without a source flagged at {threshold:.2}; missing: truth rows whose generation is not in the results, counted as misses)"
    );
}
