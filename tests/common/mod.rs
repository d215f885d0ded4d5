//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod onnx_model;

use std::path::{Path, PathBuf};

use replicant::embed::request::ModelRequest;
use replicant::ranking::matches::{GenerationMatches, sort_by_top_similarity};
use replicant::scan::ScanEvent;
use replicant::scan::ScanOptions;
use replicant::scan::ScanSummary;
use replicant::scan::start_scan;

/// Whether this run is CI's (`CI` set), where every test's data must be present: a test that
/// would skip for want of data fails there instead.
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// `../shared/fixtures` beside the project, when present. Tests that need it skip (loudly)
/// only when it is absent in a user's own clone; in CI, which always has it, its absence
/// fails the test.
pub fn fixtures_dir() -> Option<PathBuf> {
    shared_pairs_dir("fixtures")
}

/// `../shared/more-fixtures`, as [`fixtures_dir`] finds `../shared/fixtures`.
pub fn more_fixtures_dir() -> Option<PathBuf> {
    shared_pairs_dir("more-fixtures")
}

/// `../shared/NAME` when it holds a `pairs.csv`; its absence fails in CI and skips (loudly)
/// elsewhere.
fn shared_pairs_dir(name: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared")
        .join(name);
    if dir.join("pairs.csv").is_file() {
        Some(dir)
    } else if in_ci() {
        panic!("../shared/{name} is absent, and CI always has it: the test cannot run");
    } else {
        eprintln!("SKIPPED: ../shared/{name} is absent (a user's clone); CI always has it");
        None
    }
}

/// The model request for tests: the built-in SSCD model, installed with pip if missing.
/// A test that needs the model fails (never skips) when it cannot be had.
pub fn sscd() -> ModelRequest {
    ModelRequest {
        auto_setup: true,
        ..ModelRequest::default()
    }
}

/// Scan options for tests, with a project folder of their own.
pub fn options(generations: &Path, training: &[PathBuf], project: &Path) -> ScanOptions {
    let mut options = ScanOptions::new(generations.to_path_buf(), training.to_vec());
    options.project_dir = Some(project.to_path_buf());
    options.model = sscd();
    options
}

/// Runs a scan to the end; panics with the scan's message if it fails.
pub fn scan(options: ScanOptions) -> (Vec<GenerationMatches>, ScanSummary) {
    let handle = start_scan(options, None);
    let mut results = Vec::new();
    for event in handle.events.iter() {
        match event {
            ScanEvent::Generation(result) => results.push(*result),
            ScanEvent::Finished(summary) => {
                sort_by_top_similarity(&mut results);
                return (results, *summary);
            }
            ScanEvent::Failed(message) => panic!("scan failed: {message}"),
            ScanEvent::Cancelled => panic!("scan cancelled"),
            _ => {}
        }
    }
    panic!("scan ended without a final event")
}

/// Symlinks `rel` (relative to `from`) into `to`, keeping its relative path.
pub fn link(from: &Path, rel: &str, to: &Path) {
    let dst = to.join(rel);
    if let Some(parent) = dst.parent() {
        std::fs::create_dir_all(parent).expect("create folder");
    }
    if !dst.exists() {
        #[cfg(unix)]
        std::os::unix::fs::symlink(from.join(rel), &dst).expect("symlink");
        #[cfg(not(unix))]
        std::fs::copy(from.join(rel), &dst).expect("copy");
    }
}

/// One row of `pairs.csv`.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Pair {
    pub set: String,
    pub derived_path: String,
    pub source_path: String,
    pub kind: String,
}

/// The fixture pairs.
pub fn pairs(fixtures: &Path) -> Vec<Pair> {
    let mut reader = csv::Reader::from_path(fixtures.join("pairs.csv")).expect("pairs.csv");
    reader
        .deserialize()
        .map(|row| row.expect("pair row"))
        .collect()
}

/// Lays the fixtures out as the issue asks: training = every source plus the wallpapers and
/// sample images; generations = the derived images, AugLy's look-alikes `dfdc_2`/`dfdc_3`,
/// and the odd files of idealo-imagededup (corrupt, misnamed, PNM, alpha). Returns
/// (generations, training).
pub fn fixture_layout(fixtures: &Path, root: &Path) -> (PathBuf, PathBuf) {
    let generations = root.join("generations");
    let training = root.join("training");
    let pairs = pairs(fixtures);
    let derived: std::collections::HashSet<&str> =
        pairs.iter().map(|p| p.derived_path.as_str()).collect();
    let sources: std::collections::HashSet<&str> =
        pairs.iter().map(|p| p.source_path.as_str()).collect();
    for rel in &derived {
        link(fixtures, rel, &generations);
    }
    for rel in &sources {
        link(fixtures, rel, &training);
    }
    for entry in walkdir::WalkDir::new(fixtures)
        .into_iter()
        .filter_map(Result::ok)
    {
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(fixtures)
            .expect("under fixtures")
            .to_string_lossy()
            .into_owned();
        if derived.contains(rel.as_str()) || sources.contains(rel.as_str()) {
            continue;
        }
        if !image_like(&rel) {
            continue;
        }
        if rel.starts_with("idealo-imagededup/")
            || rel.ends_with("dfdc_2.jpg")
            || rel.ends_with("dfdc_3.jpg")
        {
            link(fixtures, &rel, &generations);
        } else if rel.starts_with("debian-wallpapers/") || rel.starts_with("pkg-sample-images/") {
            link(fixtures, &rel, &training);
        }
    }
    (generations, training)
}

/// Whether a fixture file's name has an image extension (the layouts link only those).
pub fn image_like(rel: &str) -> bool {
    let lower = rel.to_ascii_lowercase();
    [
        ".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".pbm", ".pgm", ".ppm",
        ".svg",
    ]
    .iter()
    .any(|ext| lower.ends_with(ext))
}

/// A scan's results as `replicant eval` reads them: each generation's matches (training name
/// and similarity) in rank order.
pub fn listed(
    results: &[GenerationMatches],
) -> std::collections::HashMap<String, replicant::eval::ListedMatches> {
    results
        .iter()
        .map(|r| {
            let matches = r
                .matches
                .iter()
                .map(|m| (m.training.clone(), m.similarity))
                .collect();
            (r.generation.clone(), matches)
        })
        .collect()
}

/// Decoded pixels of an image file, for "pixel-identical" checks.
pub fn pixels(path: &Path) -> Option<image::RgbImage> {
    image::open(path).ok().map(|i| i.to_rgb8())
}

/// One image packed into a shard: its name in results and the file it came from.
#[derive(Debug, Clone)]
pub struct Packed {
    /// `SHARD.tar/MEMBER`, relative to the shards folder.
    pub name: String,
    /// The original file.
    pub original: PathBuf,
    /// The caption written beside it.
    pub caption: String,
    /// The `key` and `url` of its `KEY.json`.
    pub key: String,
    pub url: String,
}

/// Packs `images` into WebDataset shards in `dir` as img2dataset writes them: shard
/// `NNNNN.tar` holds `per_shard` samples, each `KEY.EXT` (the image's own extension),
/// `KEY.txt` (a caption) and `KEY.json` (`key`, `url`, `caption`), KEY being the shard
/// number (5 digits) and the sample's index (4 digits). `first_shard` numbers the first.
pub fn pack_shards(
    images: &[PathBuf],
    dir: &Path,
    per_shard: usize,
    first_shard: usize,
) -> Vec<Packed> {
    std::fs::create_dir_all(dir).expect("shards folder");
    let mut packed = Vec::new();
    for (s, chunk) in images.chunks(per_shard.max(1)).enumerate() {
        let shard_no = first_shard + s;
        let shard_name = format!("{shard_no:05}.tar");
        let file = std::fs::File::create(dir.join(&shard_name)).expect("create shard");
        let mut builder = tar::Builder::new(file);
        for (i, image) in chunk.iter().enumerate() {
            let key = format!("{shard_no:05}{i:04}");
            let ext = image.extension().map_or_else(
                || "jpg".to_string(),
                |e| e.to_string_lossy().to_ascii_lowercase(),
            );
            let bytes = std::fs::read(image).expect("read image");
            let caption = format!(
                "caption of {}",
                image
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
            );
            let url = format!("https://example.org/{key}.{ext}");
            let json = serde_json::json!({"key": key, "url": url, "caption": caption});
            let member = format!("{key}.{ext}");
            for (name, data) in [
                (member.clone(), bytes),
                (format!("{key}.txt"), caption.clone().into_bytes()),
                (format!("{key}.json"), json.to_string().into_bytes()),
            ] {
                let mut header = tar::Header::new_gnu();
                header.set_size(data.len() as u64);
                header.set_mode(0o644);
                header.set_cksum();
                builder
                    .append_data(&mut header, &name, data.as_slice())
                    .expect("append member");
            }
            packed.push(Packed {
                name: format!("{shard_name}/{member}"),
                original: image.clone(),
                caption,
                key,
                url,
            });
        }
        builder.finish().expect("finish shard");
    }
    packed
}

/// The image files under `dir` (following links), sorted by path.
pub fn image_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().to_path_buf())
        .collect();
    files.sort();
    files
}

/// The path of the `replicant` binary built for the tests, or `REPLICANT_TEST_BIN` when set:
/// the same checks run against another build (an older one, to see a regression test fail
/// before its fix).
pub fn replicant_bin() -> PathBuf {
    std::env::var_os("REPLICANT_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_replicant")))
}

/// Runs the binary with `args`; returns (status code, stdout, stderr).
pub fn run_replicant(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(replicant_bin())
        .args(args)
        .output()
        .expect("run replicant");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs the binary with `args`, which must succeed; returns its stderr.
#[allow(dead_code)]
pub fn run_ok(args: &[&str]) -> String {
    let (code, _, stderr) = run_replicant(args);
    assert_eq!(code, 0, "replicant {}: {stderr}", args.join(" "));
    stderr
}
