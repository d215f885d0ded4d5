//! The training-side commands: `replicant embed` (one worker of a sharded embedding run) and
//! `replicant index build | verify` (a reusable training index from the workers' parts).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use replicant::fsutil::printable;
use replicant::index::Dtype;
use replicant::index::VectorStore;
use replicant::index::prebuilt::{
    FileCheck, INDEX_FILE, PrebuiltIndex, ROWS_FILE, read_manifest, verify_index_file,
};
use replicant::scan::ScanEvent;
use replicant::shards::build::{IndexBuildOptions, build_index};
use replicant::shards::worker::{EmbedOptions, start_embed};

use super::args::ModelArgs;
use super::progress::phase_label;

/// `replicant embed`.
#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// A training source: a folder (of images and/or WebDataset .tar shards) or one .tar
    /// shard; repeat for several. Every worker must get the same sources in the same order.
    #[arg(long, value_name = "SRC", required = true)]
    pub training: Vec<PathBuf>,
    /// The output folder shared by all workers (parts and per-worker caches go here).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Which worker this is, of how many: worker I takes the work units whose position is
    /// I mod N (units: tar shards sorted by path, then slices of 1,000 plain files).
    #[arg(long, value_name = "I/N", default_value = "0/1", value_parser = parse_shard)]
    pub shard: (usize, usize),
    #[command(flatten)]
    pub model: ModelArgs,
    /// Images per inference batch (0: 16 on the CPU, 128 on a GPU).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u16).range(0..=1024))]
    pub batch: u16,
    /// Decoding threads (0: one per core; at most 256).
    #[arg(long, default_value_t = 0, value_name = "N", value_parser = super::args::parse_threads)]
    pub decode_threads: usize,
}

fn parse_shard(text: &str) -> Result<(usize, usize), String> {
    let (i, n) = text
        .split_once('/')
        .ok_or("give the worker as I/N, e.g. 0/8")?;
    let i: usize = i.trim().parse().map_err(|e| format!("worker {i:?}: {e}"))?;
    let n: usize = n.trim().parse().map_err(|e| format!("count {n:?}: {e}"))?;
    if n == 0 || i >= n {
        return Err(format!(
            "worker {i} of {n}: the worker must be 0 to {}",
            n.saturating_sub(1)
        ));
    }
    Ok((i, n))
}

/// `replicant index`.
#[derive(Debug, Args)]
pub struct IndexArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: IndexCommand,
}

/// The `index` subcommands.
#[derive(Debug, Subcommand)]
pub enum IndexCommand {
    /// Merge the parts of `replicant embed` into one training index.
    Build(IndexBuildArgs),
    /// Check an index against the sizes and hashes its manifest recorded.
    Verify(IndexVerifyArgs),
}

/// `replicant index build`.
#[derive(Debug, Args)]
pub struct IndexBuildArgs {
    /// Folders of parts (`part-I-of-N.*`), merged in the order given.
    #[arg(long, value_name = "DIR", num_args = 1.., required = true)]
    pub embeddings: Vec<PathBuf>,
    /// The index folder to write.
    #[arg(long, value_name = "INDEX")]
    pub out: PathBuf,
    /// How vectors are stored: f16 (default), i8 (half the size) or f32.
    #[arg(long, default_value = "f16", value_parser = clap::value_parser!(Dtype))]
    pub dtype: Dtype,
    /// Replace an existing index folder.
    #[arg(long)]
    pub force: bool,
}

/// `replicant index verify`.
#[derive(Debug, Args)]
pub struct IndexVerifyArgs {
    /// The index folder.
    #[arg(value_name = "INDEX")]
    pub index: PathBuf,
}

/// Runs `replicant embed`: progress on stderr, one JSON summary line on stdout.
pub fn embed(args: &EmbedArgs) -> anyhow::Result<ExitCode> {
    let (worker, workers) = args.shard;
    let options = EmbedOptions {
        training: args.training.clone(),
        out: args.out.clone(),
        worker,
        workers,
        model: args.model.request(),
        batch_size: usize::from(args.batch),
        decode_threads: args.decode_threads,
        models: Default::default(),
    };
    let handle = start_embed(options, None);
    let terminal = std::io::stderr().is_terminal();
    let mut log = super::progress::ProgressLog::new();
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {msg} [{bar:30}] {pos}/{len} ({per_sec}, ETA {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    for event in handle.events.iter() {
        match event {
            ScanEvent::Phase(phase) => bar.set_message(phase_label(phase)),
            ScanEvent::Catalogued {
                training,
                to_process,
                ..
            } => {
                bar.set_length(to_process as u64);
                bar.suspend(|| {
                    eprintln!(
                        "replicant: worker {worker}/{workers}: {training} training images in its units; {to_process} to read"
                    )
                });
            }
            ScanEvent::Info(line) => bar.suspend(|| eprintln!("replicant: {}", printable(&line))),
            ScanEvent::Progress(progress) => {
                bar.set_position(progress.done as u64);
                if !terminal {
                    log.progress(&progress);
                }
            }
            ScanEvent::Skipped(file) => bar.suspend(|| {
                eprintln!(
                    "replicant: skipped {}: {}",
                    printable(&file.path),
                    printable(&file.reason)
                )
            }),
            _ => {}
        }
    }
    bar.finish_and_clear();
    match handle.result.recv() {
        Ok(Ok(Some(summary))) => {
            for shard in &summary.truncated_shards {
                eprintln!(
                    "replicant: tar shard {} cut short: {} members read; {}",
                    printable(&shard.shard),
                    shard.members_read,
                    printable(&shard.detail)
                );
            }
            eprintln!(
                "replicant: {}: {} rows, {} skipped, {} of {} units, {:.1} s{}",
                summary.part,
                summary.rows,
                summary.skipped.len(),
                summary.units,
                summary.units_total,
                summary.seconds,
                if summary.reused {
                    " (already complete)"
                } else {
                    ""
                }
            );
            let mut stdout = std::io::stdout().lock();
            serde_json::to_writer(&mut stdout, &summary)?;
            writeln!(stdout)?;
            Ok(ExitCode::SUCCESS)
        }
        Ok(Ok(None)) => {
            eprintln!("replicant: embedding cancelled");
            Ok(ExitCode::from(1))
        }
        Ok(Err(message)) => anyhow::bail!("embedding failed: {message}"),
        Err(_) => anyhow::bail!("the worker stopped without a result"),
    }
}

/// Runs `replicant index ...`.
pub fn index(args: &IndexArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        IndexCommand::Build(args) => index_build(args),
        IndexCommand::Verify(args) => index_verify(args),
    }
}

fn index_build(args: &IndexBuildArgs) -> anyhow::Result<ExitCode> {
    let options = IndexBuildOptions {
        embeddings: args.embeddings.clone(),
        out: args.out.clone(),
        dtype: args.dtype,
        force: args.force,
        store: VectorStore::default(),
    };
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} adding [{bar:30}] {pos}/{len} ({per_sec}, ETA {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let summary = build_index(&options, &mut |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })?;
    bar.finish_and_clear();
    eprintln!(
        "replicant: index {}: {} rows of {} ({} dims, {}), {} search, {:.1} MB index + {:.1} MB rows, built in {:.1} s ({:.0} adds/s)",
        summary.index.display(),
        summary.rows,
        summary.model_key,
        summary.dims,
        summary.dtype.as_str(),
        if summary.exact {
            "exact"
        } else {
            "approximate (HNSW)"
        },
        summary.index_bytes as f64 / 1e6,
        summary.rows_bytes as f64 / 1e6,
        summary.seconds,
        summary.adds_per_sec
    );
    print_account(&summary.skipped, &summary.truncated_shards, &summary.notes);
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer(&mut stdout, &summary)?;
    writeln!(stdout)?;
    Ok(ExitCode::SUCCESS)
}

/// The training images and shards an index (or a worker) could not use, and its notes.
fn print_account(
    skipped: &[replicant::ranking::matches::SkippedFile],
    truncated: &[replicant::ranking::matches::TruncatedShard],
    notes: &[replicant::ranking::matches::SkippedFile],
) {
    if !skipped.is_empty() {
        eprintln!("replicant: {} training files skipped:", skipped.len());
        for file in skipped {
            eprintln!("    {}: {}", printable(&file.path), printable(&file.reason));
        }
    }
    if !truncated.is_empty() {
        eprintln!(
            "replicant: {} tar shards cut short or unreadable (their members before the cut are in the index):",
            truncated.len()
        );
        for shard in truncated {
            eprintln!(
                "    {}: {} members read; {}",
                printable(&shard.shard),
                shard.members_read,
                printable(&shard.detail)
            );
        }
    }
    if !notes.is_empty() {
        eprintln!("replicant: notes:");
        for file in notes {
            eprintln!("    {}: {}", printable(&file.path), printable(&file.reason));
        }
    }
}

fn index_verify(args: &IndexVerifyArgs) -> anyhow::Result<ExitCode> {
    let manifest = read_manifest(&args.index)?;
    verify_index_file(&args.index, &manifest)?;
    let rows_path = args.index.join(ROWS_FILE);
    let rows = FileCheck::of(&rows_path)?;
    anyhow::ensure!(
        rows == manifest.rows_file,
        "{}: {ROWS_FILE} does not match its manifest (damaged or replaced); build the index again",
        args.index.display()
    );
    let opened = PrebuiltIndex::open(&args.index, &*VectorStore::default())?;
    eprintln!(
        "replicant: {} is intact: its manifest, {INDEX_FILE} and {ROWS_FILE} match their recorded checksums; {} rows of {} ({} dims, {})",
        args.index.display(),
        opened.index.len(),
        manifest.model_key,
        manifest.dims,
        manifest.dtype.as_str()
    );
    print_account(
        &manifest.skipped,
        &manifest.truncated_shards,
        &manifest.notes,
    );
    Ok(ExitCode::SUCCESS)
}
