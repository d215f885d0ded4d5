//! The embedding worker run by an existing engine for real: `examples/ray_embed.py` starts a
//! local Ray cluster and runs one `replicant embed --shard I/N` per Ray task over WebDataset
//! shards packed from the fixtures; the parts load in numpy as float16; the index built from
//! them gives every generation the same top-5 as a single-machine scan of the shards
//! (byte-identical training images count as the same).
//!
//! Ray comes from PyPI: `.ci/run` installs it into a virtual environment in its cache and
//! names its Python in `REPLICANT_RAY_PYTHON`. Without Ray the test skips with a message on a
//! developer's machine, and fails in CI.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use replicant::catalog::MAX_IMAGE_FILE_BYTES;
use replicant::ranking::matches::GenerationMatches;

/// A Python that can import Ray, if there is one.
fn ray_python() -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = std::env::var_os("REPLICANT_RAY_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain([PathBuf::from("python3")])
        .collect();
    candidates.into_iter().find(|python| {
        Command::new(python)
            .args(["-c", "import ray, numpy"])
            .output()
            .is_ok_and(|out| out.status.success())
    })
}

fn top5_by_content(results: &[GenerationMatches]) -> HashMap<String, Vec<String>> {
    results
        .iter()
        .map(|r| {
            let hashes = r
                .matches
                .iter()
                .map(|m| {
                    let bytes = m
                        .training_path
                        .read(MAX_IMAGE_FILE_BYTES)
                        .unwrap_or_else(|e| panic!("{}: {e}", m.training_path.display()));
                    blake3::hash(&bytes).to_hex().to_string()
                })
                .collect();
            (r.generation.clone(), hashes)
        })
        .collect()
}

fn check_parts_in_numpy(python: &Path, out: &Path) -> u64 {
    let script = r#"
import glob, json, sys
import numpy as np
total = 0
for npy in sorted(glob.glob(sys.argv[1] + "/part-*.npy")):
    a = np.load(npy)
    meta = json.load(open(npy[:-4] + ".json"))
    rows = sum(1 for line in open(npy[:-4] + ".jsonl") if line.strip())
    assert a.dtype == np.float16, a.dtype
    assert a.ndim == 2 and a.shape == (meta["rows"], meta["dims"]) == (rows, 512), (a.shape, meta["rows"], rows)
    norms = np.linalg.norm(a.astype(np.float32), axis=1)
    assert a.shape[0] == 0 or abs(norms - 1).max() < 0.01, norms
    total += a.shape[0]
print(total)
"#;
    let done = Command::new(python)
        .args(["-c", script])
        .arg(out)
        .output()
        .expect("run python");
    assert!(
        done.status.success(),
        "numpy could not read the parts: {}",
        String::from_utf8_lossy(&done.stderr)
    );
    String::from_utf8_lossy(&done.stdout)
        .trim()
        .parse()
        .expect("row count")
}

#[test]
fn ray_runs_the_worker_and_the_merged_index_matches_a_single_machine_scan() {
    let Some(fixtures) = common::fixtures_dir() else {
        return;
    };
    let Some(python) = ray_python() else {
        assert!(
            !common::in_ci(),
            "Ray is not importable and CI must run this test: .ci/run installs it (REPLICANT_RAY_PYTHON)"
        );
        eprintln!(
            "SKIPPED: Ray is not installed; `python3 -m venv V && V/bin/pip install ray==2.60.0 numpy`, then REPLICANT_RAY_PYTHON=V/bin/python"
        );
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (generations, training) = common::fixture_layout(&fixtures, dir.path());
    let shards = dir.path().join("shards");
    let packed = common::pack_shards(&common::image_files(&training), &shards, 25, 0);
    assert!(packed.len() > 75, "{} images packed", packed.len());

    let out = dir.path().join("embeddings");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ray_embed.py");
    let done = Command::new(&python)
        .arg(&example)
        .arg("--training")
        .arg(&shards)
        .arg("--out")
        .arg(&out)
        .arg("--replicant")
        .arg(common::replicant_bin())
        .args(["--shards", "3", "--cpus-per-task", "1"])
        .env("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
        .output()
        .expect("run the Ray example");
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert!(
        done.status.success(),
        "ray_embed.py failed: {}\n{stdout}",
        String::from_utf8_lossy(&done.stderr)
    );
    let last = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .expect("summary line");
    let summary: serde_json::Value = serde_json::from_str(last).expect("summary JSON");
    assert_eq!(
        summary["parts"],
        serde_json::json!(["part-0-of-3", "part-1-of-3", "part-2-of-3"])
    );
    assert_eq!(summary["failed_workers"], serde_json::json!([]));
    let rows = summary["rows"].as_u64().expect("rows");
    assert_eq!(check_parts_in_numpy(&python, &out), rows);

    let index = dir.path().join("index");
    let built = Command::new(common::replicant_bin())
        .args(["index", "build", "--embeddings"])
        .arg(&out)
        .arg("--out")
        .arg(&index)
        .output()
        .expect("index build");
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );

    let (single, single_summary) = common::scan(common::options(
        &generations,
        std::slice::from_ref(&shards),
        &dir.path().join("project-single"),
    ));
    assert_eq!(single_summary.training_images as u64, rows);
    let mut options = common::options(&generations, &[], &dir.path().join("project-index"));
    options.training_index = Some(index);
    let (merged, merged_summary) = common::scan(options);
    assert_eq!(merged_summary.training_images as u64, rows);
    let (single, merged) = (top5_by_content(&single), top5_by_content(&merged));
    assert_eq!(single.len(), merged.len());
    assert!(single.len() > 90, "{} generations", single.len());
    for (generation, top5) in &single {
        assert_eq!(
            Some(top5),
            merged.get(generation),
            "{generation}: the merged index's top-5 differs from the single-machine scan's"
        );
    }
}
