//! The command line: the commands and their arguments, one file per command.

pub mod args;
pub mod bench;
pub mod desk;
pub mod eval;
pub mod export;
pub mod label;
pub mod progress;
pub mod prompts;
pub mod report;
pub mod scan;
pub mod setup;
pub mod training;

use clap::{Parser, Subcommand};

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
    /// Find each generation's closest training images (JSON Lines, CSV or Parquet).
    Scan(scan::ScanArgs),
    /// Install ONNX Runtime and the SSCD models with pip into the data folder.
    Setup(setup::SetupArgs),
    /// Measure raw model and end-to-end scan throughput (and Immaculate's, if given).
    Bench(bench::BenchArgs),
    /// Open the review desk on these folders (a scan starts at once).
    Open(desk::OpenArgs),
    /// Make the demo set (procedural training scenes and generations) and open the desk on it.
    Demo(desk::DemoArgs),
    /// Label a pair in a project's review store, as the desk does.
    Label(label::LabelArgs),
    /// Export a project's labelled pairs (CSV, JSON Lines, HTML or Parquet).
    Export(export::ExportArgs),
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
    /// The prompt side of an audit: draw captions from a training set as prompts (`sample`).
    Prompts(prompts::PromptsArgs),
}
