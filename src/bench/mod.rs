//! `replicant bench`: measures, in one run, the model's raw throughput on pre-decoded images,
//! the end-to-end scan throughput on the same images, their ratio, the cached re-scan time,
//! (with `--worker`) one embedding worker on the images as a folder and as tar shards, and
//! (when installed) Immaculate on the same folder.

mod worker;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use replicant::catalog::walk_images;
use replicant::decode::{DecodeLimits, decode_file};
use replicant::embed::{Embedder, resize_for_model};
use replicant::pipeline::{ScanOptions, load_embedder, resolve_runtime};

use crate::cli::{ModelArgs, run_scan_with_progress};

/// `replicant bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The folder of images to measure on (searched recursively).
    #[arg(long, value_name = "DIR")]
    pub images: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Images per inference batch.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Use at most this many images.
    #[arg(long, default_value_t = 1000)]
    pub limit: usize,
    /// Decoding threads for the end-to-end scan (0: one per core; at most 256).
    #[arg(long, default_value_t = 0, value_parser = crate::cli::parse_threads)]
    pub decode_threads: usize,
    /// A Python with `immaculate[sscd]` installed, to time Immaculate on the same folder.
    #[arg(long, value_name = "PYTHON")]
    pub immaculate_python: Option<PathBuf>,
    /// Also time one `embed` worker on the same images as a folder and as WebDataset tar
    /// shards, and the index built from its part.
    #[arg(long)]
    pub worker: bool,
}

/// A hard link where the file system allows it, else a copy: real files, since Immaculate
/// does not follow symbolic links.
fn link_or_copy(from: &Path, to: &Path) -> std::io::Result<()> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let from = std::fs::canonicalize(from)?;
    std::fs::hard_link(&from, to).or_else(|_| std::fs::copy(&from, to).map(|_| ()))
}

/// Runs the benchmark and prints a table.
pub fn run(args: &BenchArgs) -> anyhow::Result<ExitCode> {
    let catalog = walk_images(&args.images)?;
    // Plain files only: the comparison with Immaculate needs files it can read.
    let mut entries: Vec<_> = catalog
        .images
        .into_iter()
        .filter(|e| e.location.member().is_none())
        .collect();
    entries.truncate(args.limit);
    let request = args.model.request();
    let (library, model) = resolve_runtime(&request, &mut |line| eprintln!("replicant: {line}"))
        .map_err(anyhow::Error::msg)?;
    let mut embedder = load_embedder(&request, &library, &model)?;
    let preprocess = embedder.preprocess().clone();

    // Pre-decode every image that decodes (the same set the scan will embed).
    let mut prepared = Vec::new();
    let mut usable = Vec::new();
    let decode_started = Instant::now();
    for entry in &entries {
        if let Ok(decoded) = decode_file(entry.location.file(), &DecodeLimits::default()) {
            prepared.push(resize_for_model(&decoded.rgb, &preprocess));
            usable.push(entry.clone());
        }
    }
    anyhow::ensure!(
        !prepared.is_empty(),
        "no decodable images in {}",
        args.images.display()
    );
    let n = prepared.len();
    let decode_secs = decode_started.elapsed().as_secs_f64();
    eprintln!(
        "replicant: bench on {n} images from {} with {} on {}",
        args.images.display(),
        embedder.model_key(),
        embedder.execution_provider()
    );

    // Warm up, then the raw model throughput.
    let warm: Vec<&[u8]> = prepared
        .iter()
        .take(args.batch)
        .map(Vec::as_slice)
        .collect();
    embedder.embed_batch(&warm)?;
    let started = Instant::now();
    for chunk in prepared.chunks(args.batch.max(1)) {
        let refs: Vec<&[u8]> = chunk.iter().map(Vec::as_slice).collect();
        embedder.embed_batch(&refs)?;
    }
    let raw_secs = started.elapsed().as_secs_f64();
    drop(embedder);
    drop(prepared);

    // The same images through a full scan: half as training, half as generations.
    let work = tempfile::tempdir().context("temporary folder")?;
    let (training, generations) = (
        work.path().join("training"),
        work.path().join("generations"),
    );
    for (i, entry) in usable.iter().enumerate() {
        let side = if i % 2 == 0 { &training } else { &generations };
        link_or_copy(
            entry.location.file(),
            &side.join(format!(
                "{i:06}-{}",
                entry
                    .location
                    .file()
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
            )),
        )?;
    }
    std::fs::create_dir_all(&generations)?;
    std::fs::create_dir_all(&training)?;
    let mut options = ScanOptions::new(generations.clone(), vec![training.clone()]);
    options.project_dir = Some(work.path().join("project"));
    options.model = request;
    options.batch_size = args.batch;
    options.decode_threads = args.decode_threads;
    // Whole-image matching: the comparison is one embedding per image on both sides.
    options.regions = replicant::pipeline::regions::RegionMode::Off;
    let started = Instant::now();
    let (_, summary) = run_scan_with_progress(options.clone())?.context("scan cancelled")?;
    let e2e_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let (_, rescan) = run_scan_with_progress(options)?.context("scan cancelled")?;
    let rescan_secs = started.elapsed().as_secs_f64();

    let raw_rate = n as f64 / raw_secs;
    let e2e_rate = summary.embedded as f64 / e2e_secs;
    println!("images                      {n}");
    println!("raw model (pre-decoded)     {raw_rate:8.1} images/s  ({raw_secs:.2} s)");
    println!(
        "end-to-end scan             {e2e_rate:8.1} images/s  ({e2e_secs:.2} s, {} embedded)",
        summary.embedded
    );
    println!("end-to-end / raw            {:8.3}", e2e_rate / raw_rate);
    println!(
        "read+decode+resize, 1 core  {:8.1} ms/image",
        decode_secs * 1000.0 / n as f64
    );
    println!(
        "cached re-scan              {rescan_secs:8.2} s  ({} embedded)",
        rescan.embedded
    );

    if args.worker {
        let files: Vec<PathBuf> = usable
            .iter()
            .map(|e| e.location.file().to_path_buf())
            .collect();
        worker::run(args, &files, work.path())?;
    }

    if let Some(python) = &args.immaculate_python {
        let folder = work.path().join("all");
        for (i, entry) in usable.iter().enumerate() {
            link_or_copy(
                entry.location.file(),
                &folder.join(format!(
                    "{i:06}-{}",
                    entry
                        .location
                        .file()
                        .file_name()
                        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
                )),
            )?;
        }
        let started = Instant::now();
        let status = Command::new(python)
            .args([
                "-m",
                "immaculate",
                "--method",
                model_method(&args.model.model),
                "--json",
            ])
            .arg(&folder)
            .stdout(Stdio::null())
            .status()
            .with_context(|| format!("cannot run {}", python.display()))?;
        let secs = started.elapsed().as_secs_f64();
        anyhow::ensure!(status.success(), "Immaculate failed: {status}");
        println!(
            "Immaculate (same images)    {:8.1} images/s  ({secs:.2} s)",
            n as f64 / secs
        );
        println!(
            "end-to-end / Immaculate     {:8.3}",
            e2e_rate / (n as f64 / secs)
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn model_method(model: &str) -> &'static str {
    if model.contains("distilled") {
        "sscd_distilled"
    } else {
        "sscd"
    }
}
