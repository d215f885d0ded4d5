//! `replicant bench`: measures, in one run, the model's raw throughput on pre-decoded images,
//! the end-to-end scan throughput on the same images, their ratio, the cached re-scan time,
//! (with `--worker`) one embedding worker on the images as a folder and as tar shards, and
//! (when installed) Immaculate on the same folder.

pub mod cascade;
pub mod index;
pub mod placement;
mod worker;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use replicant::catalog::walk_images;
use replicant::decode::{DecodeLimits, decode_for_model, decode_image};
use replicant::embed::request::load_embedder;
use replicant::embed::request::resolve_runtime;
use replicant::embed::{Embedder, resize_for_model};
use replicant::scan::ScanOptions;

use crate::cli::args::ModelArgs;
use crate::cli::progress::run_scan_with_progress;

/// `replicant bench`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    /// Another benchmark: the shortlist cascade, or the training index at scale.
    #[command(subcommand)]
    pub what: Option<BenchWhat>,
    /// The folder of images to measure on (searched recursively).
    #[arg(long, value_name = "DIR")]
    pub images: Option<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Images per inference batch.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Use at most this many images.
    #[arg(long, default_value_t = 1000)]
    pub limit: usize,
    /// Decoding threads for the end-to-end scan (0: one per core; at most 256).
    #[arg(long, default_value_t = 0, value_parser = crate::cli::args::parse_threads)]
    pub decode_threads: usize,
    /// A Python with `immaculate[sscd]` installed, to time Immaculate on the same folder.
    #[arg(long, value_name = "PYTHON")]
    pub immaculate_python: Option<PathBuf>,
    /// Also time one `embed` worker on the same images as a folder and as WebDataset tar
    /// shards, and the index built from its part.
    #[arg(long)]
    pub worker: bool,
}

/// The benchmarks besides the scan's.
#[derive(Debug, clap::Subcommand)]
pub enum BenchWhat {
    /// Cold scans with the shortlist cascade off and on, for training sets 20x and 100x the
    /// generations.
    Cascade(cascade::CascadeBenchArgs),
    /// Build, open and query an index of N clustered vectors.
    Index(index::IndexBenchArgs),
    /// Which execution provider ran each node of the models (ONNX Runtime's profiler): on a
    /// GPU, whether any compute node fell back to the CPU.
    Placement(placement::PlacementArgs),
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
///
/// Over 100 lines on purpose: the benchmark's runs in the order its table prints them, each timed
/// against the others in the same process (ratios, not seconds, are what it reports).
pub fn run(args: &BenchArgs) -> anyhow::Result<ExitCode> {
    match &args.what {
        Some(BenchWhat::Cascade(cascade)) => return cascade::run(cascade),
        Some(BenchWhat::Index(index)) => return index::run(index),
        Some(BenchWhat::Placement(placement)) => return placement::run(placement),
        None => {}
    }
    let Some(images) = &args.images else {
        anyhow::bail!(
            "give --images DIR (a folder of images), or `bench cascade`, `bench index` or `bench placement`"
        );
    };
    let catalog = walk_images(images)?;
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

    // Pre-decode every image that decodes (the same set the scan will embed), timing each:
    // read, decode and resize for the model, on this one thread, as a scan's decode worker
    // does them.
    let mut prepared = Vec::new();
    let mut usable = Vec::new();
    let mut decode_times = DecodeTimes::default();
    let side = preprocess.width.max(preprocess.height);
    let mut reduced = Vec::new();
    let mut jpegs = 0usize;
    for entry in &entries {
        let started = Instant::now();
        let Ok(bytes) = std::fs::read(entry.location.file()) else {
            continue;
        };
        if let Ok(decoded) = decode_for_model(&bytes, &DecodeLimits::default(), side) {
            prepared.push(resize_for_model(&decoded.rgb, &preprocess));
            decode_times.add(decoded.format, started.elapsed().as_secs_f64() * 1000.0);
            jpegs += usize::from(decoded.format == image::ImageFormat::Jpeg);
            if decoded.rgb.dimensions() != decoded.full_size {
                reduced.push((prepared.len() - 1, bytes));
            }
            usable.push(entry.clone());
        }
    }
    anyhow::ensure!(
        !prepared.is_empty(),
        "no decodable images in {}",
        images.display()
    );
    let n = prepared.len();
    eprintln!(
        "replicant: bench on {n} images from {} with {} on {}",
        images.display(),
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
    let agreement = reduced_agreement(&mut embedder, &prepared, &reduced, &preprocess)?;
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
            &side.join(numbered_name(i, entry.location.file())),
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
    options.matching.regions = replicant::ranking::regions::RegionMode::Off;
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
    decode_times.print();
    match agreement {
        Some((worst, mean)) => println!(
            "  JPEGs decoded reduced     {:8} of {jpegs}; embedding cosine to a full decode: worst {worst:.4}, mean {mean:.4}",
            reduced.len()
        ),
        None => println!("  JPEGs decoded reduced            0 of {jpegs}"),
    }
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
                &folder.join(numbered_name(i, entry.location.file())),
            )?;
        }
        let started = Instant::now();
        let status = Command::new(python)
            .args([
                "-m",
                "immaculate",
                "--method",
                &model_method(&args.model.model),
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

/// For each JPEG decoded at a reduced scale (`reduced`: its position in `prepared` and its
/// bytes), the cosine between its embedding and that of a full decode: (worst, mean).
fn reduced_agreement(
    embedder: &mut replicant::embed::OnnxEmbedder,
    prepared: &[Vec<u8>],
    reduced: &[(usize, Vec<u8>)],
    preprocess: &replicant::embed::Preprocess,
) -> anyhow::Result<Option<(f32, f32)>> {
    let mut cosines = Vec::with_capacity(reduced.len());
    for (position, bytes) in reduced {
        let full = decode_image(bytes, &DecodeLimits::default())?;
        let full_input = resize_for_model(&full.rgb, preprocess);
        let vectors = embedder.embed_batch(&[prepared[*position].as_slice(), &full_input])?;
        cosines.push(replicant::embed::cosine(&vectors[0], &vectors[1]));
    }
    if cosines.is_empty() {
        return Ok(None);
    }
    let worst = cosines.iter().copied().fold(f32::INFINITY, f32::min);
    let mean = cosines.iter().sum::<f32>() / cosines.len() as f32;
    Ok(Some((worst, mean)))
}

/// Per-image read+decode+resize times, by format.
#[derive(Default)]
struct DecodeTimes {
    all: Vec<f64>,
    by_format: std::collections::BTreeMap<String, Vec<f64>>,
}

impl DecodeTimes {
    fn add(&mut self, format: image::ImageFormat, millis: f64) {
        self.all.push(millis);
        self.by_format
            .entry(format!("{format:?}"))
            .or_default()
            .push(millis);
    }

    fn median(times: &[f64]) -> f64 {
        let mut sorted = times.to_vec();
        sorted.sort_by(f64::total_cmp);
        match sorted.len() {
            0 => 0.0,
            n if n % 2 == 1 => sorted[n / 2],
            n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        }
    }

    fn mean(times: &[f64]) -> f64 {
        times.iter().sum::<f64>() / times.len().max(1) as f64
    }

    fn print(&self) {
        println!(
            "read+decode+resize, 1 core  {:8.1} ms/image (median)",
            Self::median(&self.all)
        );
        println!(
            "  mean                      {:8.1} ms/image",
            Self::mean(&self.all)
        );
        for (format, times) in &self.by_format {
            println!(
                "  {:<26}{:8.1} ms/image median, {:.1} mean, {:.1} max ({} images)",
                format,
                Self::median(times),
                Self::mean(times),
                times.iter().copied().fold(0.0, f64::max),
                times.len()
            );
        }
    }
}

/// The Python package's method for `model`: its file's stem (the default model's for a file
/// given by path).
fn model_method(model: &str) -> String {
    let file = replicant::embed::ModelChoice::parse(model)
        .builtin_file_name()
        .or_else(|| replicant::embed::ModelChoice::default().builtin_file_name())
        .unwrap_or_default();
    file.trim_end_matches(".onnx").to_string()
}

/// The bench's name for its `i`-th image: the number first (so names never collide and sort
/// in the bench's order), then the file's own name.
fn numbered_name(i: usize, file: &std::path::Path) -> String {
    format!(
        "{i:06}-{}",
        file.file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    )
}
