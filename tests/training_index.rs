//! The training side at scale, end to end on the fixtures with the real model and runtime:
//! WebDataset tar shards scan like the same images in a folder (bad and cut members reported,
//! the rest going on), `replicant embed` workers write parts that `replicant index build`
//! merges into an index whose scan gives the same matches as a single-machine scan, finished
//! parts are not redone, a damaged index is refused, and a model mismatch is a clear error.

mod common;

use common::run_replicant as run;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use replicant::catalog::MAX_IMAGE_FILE_BYTES;
use replicant::ranking::matches::GenerationMatches;

/// blake3 of the bytes behind each match of each generation, with its similarity.
fn top_hashes(results: &[GenerationMatches]) -> HashMap<String, Vec<(String, f32)>> {
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
                    (blake3::hash(&bytes).to_hex().to_string(), m.similarity)
                })
                .collect();
            (r.generation.clone(), hashes)
        })
        .collect()
}

/// Asserts two scans matched every generation to the same training images (by content, so
/// byte-identical training images count as the same), rank by rank; two images whose
/// similarities tie within 1e-3 may swap.
fn assert_same_matches(a: &[GenerationMatches], b: &[GenerationMatches], what: &str) {
    let (a, b) = (top_hashes(a), top_hashes(b));
    assert_eq!(a.len(), b.len(), "{what}: generation counts differ");
    let mut compared = 0;
    for (generation, left) in &a {
        let right = b
            .get(generation)
            .unwrap_or_else(|| panic!("{what}: {generation} missing"));
        assert_eq!(left.len(), right.len(), "{what}: {generation}");
        for (rank, ((lh, ls), (rh, rs))) in left.iter().zip(right).enumerate() {
            assert!(
                (ls - rs).abs() < 1e-3,
                "{what}: {generation} rank {}: similarity {ls} vs {rs}",
                rank + 1
            );
            let tie = left
                .iter()
                .zip(right)
                .any(|((h, s), _)| h == rh && (s - ls).abs() < 1e-3);
            assert!(
                lh == rh || tie,
                "{what}: {generation} rank {}: different training images",
                rank + 1
            );
            compared += 1;
        }
    }
    assert!(compared > 100, "{what}: only {compared} matches compared");
}

/// Asserts every match of both scans carries a duplicate count, and that the two scans
/// count the same duplicates in all (the same training images, whichever index holds them).
fn assert_same_duplicates(a: &[GenerationMatches], b: &[GenerationMatches], what: &str) {
    let total = |results: &[GenerationMatches]| -> usize {
        results
            .iter()
            .flat_map(|r| &r.matches)
            .map(|m| {
                m.duplicates
                    .unwrap_or_else(|| panic!("{what}: {} has no duplicate count", m.training))
            })
            .sum()
    };
    assert_eq!(total(a), total(b), "{what}: duplicate counts differ");
}

fn last_json(stdout: &str) -> serde_json::Value {
    let line = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_else(|| panic!("no output: {stdout:?}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"))
}

/// Writes a shard of `images` then cuts it in the middle of the data of its image member
/// `cut_at` (0-based); returns how many image members precede the cut, and what was packed.
fn cut_shard(
    images: &[PathBuf],
    dir: &Path,
    number: usize,
    cut_at: usize,
) -> (usize, Vec<common::Packed>) {
    let packed = common::pack_shards(images, dir, images.len(), number);
    let path = dir.join(format!("{number:05}.tar"));
    let mut archive = tar::Archive::new(std::fs::File::open(&path).expect("open"));
    let mut cut = None;
    let mut image_members = 0;
    for entry in archive.entries_with_seek().expect("entries") {
        let entry = entry.expect("entry");
        let name = entry.path().expect("name").to_string_lossy().into_owned();
        if name.ends_with(".txt") || name.ends_with(".json") {
            continue;
        }
        if image_members == cut_at {
            cut = Some(entry.raw_file_position() + entry.size() / 2);
            break;
        }
        image_members += 1;
    }
    let cut = cut.expect("member to cut");
    let bytes = std::fs::read(&path).expect("read");
    std::fs::write(&path, &bytes[..cut as usize]).expect("cut");
    (image_members, packed)
}

#[test]
fn shards_workers_and_a_shared_index_give_the_scans_matches() {
    let Some(fixtures) = common::fixtures_dir() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (generations, training) = common::fixture_layout(&fixtures, dir.path());
    let all = common::image_files(&training);
    // Four wallpapers (distractors, no generation's source) go to a shard cut short.
    let wallpapers: Vec<PathBuf> = all
        .iter()
        .filter(|p| p.to_string_lossy().contains("debian-wallpapers"))
        .take(4)
        .cloned()
        .collect();
    let kept: Vec<PathBuf> = all
        .iter()
        .filter(|p| !wallpapers.contains(p))
        .cloned()
        .collect();
    let shards = dir.path().join("shards");
    let packed = common::pack_shards(&kept, &shards, 40, 0);
    let (before_cut, cut_members) = cut_shard(&wallpapers, &shards, 9, 2);
    assert_eq!(before_cut, 2);
    // A shard with a damaged member beside a good one.
    {
        let file = std::fs::File::create(shards.join("00008.tar")).expect("create");
        let mut builder = tar::Builder::new(file);
        for (name, data) in [
            (
                "000080000.jpg",
                b"\xff\xd8\xff\xe0 not really a JPEG".to_vec(),
            ),
            (
                "000080001.png",
                std::fs::read(&wallpapers[3]).expect("read"),
            ),
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(&mut header, name, data.as_slice())
                .expect("append");
        }
        builder.finish().expect("finish");
    }
    // The same images in a plain folder: what a scan of the shards must equal.
    let folder = dir.path().join("folder");
    for image in kept
        .iter()
        .chain(&wallpapers[..2])
        .chain(std::iter::once(&wallpapers[3]))
    {
        let name = image.strip_prefix(&training).expect("under training");
        common::link(&training, &name.to_string_lossy(), &folder);
    }

    // 1. A scan of the shards folder against a scan of the plain folder.
    let (from_shards, summary) = common::scan(common::options(
        &generations,
        std::slice::from_ref(&shards),
        &dir.path().join("project-shards"),
    ));
    let (from_folder, folder_summary) = common::scan(common::options(
        &generations,
        std::slice::from_ref(&folder),
        &dir.path().join("project-folder"),
    ));
    // Files no decoder here reads (a 64-bit float TIFF among the sample images) are skipped
    // in both, with the same reason.
    let undecodable: Vec<&str> = folder_summary
        .skipped
        .iter()
        .filter(|s| s.side == replicant::ranking::matches::Side::Training)
        .map(|s| s.reason.as_str())
        .collect();
    let decodable = kept.len() + 2 + 1 - undecodable.len();
    for reason in &undecodable {
        assert!(
            summary.skipped.iter().any(|s| s.reason == *reason),
            "{reason} not reported for the shards"
        );
    }
    assert_eq!(summary.training_images, decodable);
    assert_eq!(folder_summary.training_images, decodable);
    assert_same_matches(&from_shards, &from_folder, "shards vs folder");
    assert_eq!(
        summary.truncated_shards.len(),
        1,
        "{:?}",
        summary.truncated_shards
    );
    let cut = &summary.truncated_shards[0];
    assert_eq!(cut.shard, "00009.tar");
    assert_eq!(cut.members_read, 2);
    assert!(cut.detail.contains("000090002"), "{}", cut.detail);
    let bad = summary
        .skipped
        .iter()
        .find(|s| s.path == "00008.tar/000080000.jpg")
        .unwrap_or_else(|| panic!("damaged member not reported: {:?}", summary.skipped));
    assert!(bad.reason.contains("damaged"), "{}", bad.reason);
    // Names are SHARD.tar/MEMBER, captions come from KEY.txt, img2dataset's key and url from
    // KEY.json, bytes by offset.
    let by_name: HashMap<&str, &common::Packed> =
        packed.iter().map(|p| (p.name.as_str(), p)).collect();
    let mut named = 0;
    for m in from_shards.iter().flat_map(|r| &r.matches) {
        if let Some(p) = by_name.get(m.training.as_str()) {
            assert_eq!(m.training_caption.as_deref(), Some(p.caption.as_str()));
            assert_eq!(
                (m.training_key.as_deref(), m.training_url.as_deref()),
                (Some(p.key.as_str()), Some(p.url.as_str()))
            );
            let bytes = m.training_path.read(MAX_IMAGE_FILE_BYTES).expect("member");
            assert_eq!(bytes, std::fs::read(&p.original).expect("original"));
            named += 1;
        } else {
            assert!(m.training.starts_with("0000"), "{}", m.training);
        }
    }
    assert!(
        named > 100,
        "only {named} matches named by their shard member"
    );

    // 2. Three embedding workers, then one index, then a scan against it.
    let out = dir.path().join("embeddings");
    let out_s = out.to_string_lossy().into_owned();
    let shards_s = shards.to_string_lossy().into_owned();
    let mut rows = 0;
    let mut skipped = 0;
    let mut truncated = 0;
    for worker in 0..3 {
        let shard = format!("{worker}/3");
        let (code, stdout, stderr) = run(&[
            "embed",
            "--training",
            &shards_s,
            "--out",
            &out_s,
            "--shard",
            &shard,
        ]);
        assert_eq!(code, 0, "worker {shard}: {stderr}");
        let summary = last_json(&stdout);
        assert_eq!(summary["part"], format!("part-{worker}-of-3"));
        assert_eq!(summary["reused"], false);
        rows += summary["rows"].as_u64().expect("rows");
        skipped += summary["skipped"].as_array().expect("skipped").len();
        truncated += summary["truncated_shards"].as_array().expect("cut").len();
    }
    assert_eq!(rows as usize, decodable);
    // Skipped: the undecodable files, the damaged member, and the cut shard (listed with the
    // skips too, so a reviewer sees it where skips are shown).
    assert_eq!((skipped, truncated), (undecodable.len() + 2, 1));
    let parts: Vec<String> = std::fs::read_dir(&out)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("part-") && n.ends_with(".npy"))
        .collect();
    assert_eq!(parts.len(), 3, "{parts:?}");
    // A worker run again leaves its finished part as it is.
    let npy = out.join("part-1-of-3.npy");
    let written = std::fs::metadata(&npy)
        .and_then(|m| m.modified())
        .expect("mtime");
    let (code, stdout, stderr) = run(&[
        "embed",
        "--training",
        &shards_s,
        "--out",
        &out_s,
        "--shard",
        "1/3",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(last_json(&stdout)["reused"], true);
    assert_eq!(
        std::fs::metadata(&npy)
            .and_then(|m| m.modified())
            .expect("mtime"),
        written
    );

    let index = dir.path().join("index");
    let index_s = index.to_string_lossy().into_owned();
    let (code, stdout, stderr) =
        run(&["index", "build", "--embeddings", &out_s, "--out", &index_s]);
    assert_eq!(code, 0, "{stderr}");
    let built = last_json(&stdout);
    assert_eq!(built["rows"].as_u64(), Some(decodable as u64));
    assert_eq!(built["exact"], true);
    let (code, _, stderr) = run(&["index", "build", "--embeddings", &out_s, "--out", &index_s]);
    assert_eq!(code, 1, "an existing index is not replaced without --force");
    assert!(stderr.contains("--force"), "{stderr}");
    let (code, _, stderr) = run(&["index", "verify", &index_s]);
    assert_eq!(code, 0, "{stderr}");
    // Captions drawn from the index's rows, as from the shards themselves: the same packed
    // sample (caption, key, url) and its bytes' hash.
    let prompts = dir.path().join("prompts.jsonl");
    let (code, _, stderr) = run(&[
        "prompts",
        "sample",
        "--training-index",
        &index_s,
        "--n",
        "7",
        "--seed",
        "3",
        "--out",
        &prompts.to_string_lossy(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let drawn: Vec<serde_json::Value> = std::fs::read_to_string(&prompts)
        .expect("prompts")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a line"))
        .collect();
    assert_eq!(drawn.len(), 7);
    for line in &drawn {
        let name = line["training"].as_str().expect("training");
        // The cut shard's members before the cut are samples too, packed as the others.
        let p = by_name
            .get(name)
            .copied()
            .or_else(|| cut_members.iter().find(|p| p.name == name))
            .unwrap_or_else(|| panic!("{name} is not a packed sample"));
        assert_eq!(line["prompt"], p.caption.as_str());
        assert_eq!(
            (line["key"].as_str(), line["url"].as_str()),
            (Some(p.key.as_str()), Some(p.url.as_str()))
        );
        let bytes = std::fs::read(&p.original).expect("original");
        assert_eq!(
            line["training_hash"],
            blake3::hash(&bytes).to_hex().as_str()
        );
    }

    let mut options = common::options(&generations, &[], &dir.path().join("project-index"));
    options.training_index = Some(index.clone());
    let (from_index, index_summary) = common::scan(options);
    assert_eq!(index_summary.training_images, decodable);
    assert_eq!(
        index_summary.embedded,
        from_index.len(),
        "only generations are embedded"
    );
    assert_same_matches(&from_shards, &from_index, "single machine vs index");
    assert_same_duplicates(&from_shards, &from_index, "single machine vs index");
    // The evidence report of a project on a prebuilt index samples its vectors for the
    // baseline (every row here, fewer than 1,000).
    let report_path = dir.path().join("report.json");
    let (code, _, stderr) = run(&[
        "report",
        "--project",
        &dir.path().join("project-index").to_string_lossy(),
        "--out",
        &report_path.to_string_lossy(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report_path).expect("report")).expect("json");
    assert_eq!(
        report["baseline"]["sample"].as_u64(),
        Some(decodable as u64),
        "{report}"
    );
    assert!(report["duplicate_counts"]["all_mean"].is_number());
    assert_eq!(
        report["training_images"].as_u64(),
        Some(decodable as u64),
        "{report}"
    );
    let same_names = from_shards
        .iter()
        .zip(&from_index)
        .all(|(a, b)| a.generation == b.generation);
    assert!(same_names, "generations in the same order");
    // The index keeps each sample's key and url (workers' parts, then the index's rows).
    let mut keyed = 0;
    for m in from_index.iter().flat_map(|r| &r.matches) {
        if let Some(p) = by_name.get(m.training.as_str()) {
            assert_eq!(
                (m.training_key.as_deref(), m.training_url.as_deref()),
                (Some(p.key.as_str()), Some(p.url.as_str())),
                "{}",
                m.training
            );
            keyed += 1;
        }
    }
    assert!(keyed > 100, "only {keyed} matches from the index keyed");
    let first = &from_index[0].matches[0];
    assert!(
        first.training.starts_with("0000") && first.training.contains(".tar/"),
        "{}",
        first.training
    );

    // 3. A changed shard is embedded again by its worker (and only its new image).
    common::pack_shards(&wallpapers[3..], &shards, 1, 8);
    let (code, stdout, stderr) = run(&[
        "embed",
        "--training",
        &shards_s,
        "--out",
        &out_s,
        "--shard",
        "0/3",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let redone = last_json(&stdout);
    assert_eq!(redone["reused"], false);
    assert_eq!(
        redone["embedded"], 0,
        "its image was embedded before: {redone}"
    );

    // 4. A damaged index is refused by verify and by a scan.
    let file = index.join("index.usearch");
    let mut bytes = std::fs::read(&file).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&file, &bytes).expect("write");
    let (code, _, stderr) = run(&["index", "verify", &index_s]);
    assert_eq!(code, 1);
    assert!(stderr.contains("does not match"), "{stderr}");
    let project = dir.path().join("project-damaged");
    let (code, _, stderr) = run(&[
        "scan",
        "--generations",
        &generations.to_string_lossy(),
        "--training-index",
        &index_s,
        "--project",
        &project.to_string_lossy(),
    ]);
    assert_eq!(code, 1);
    assert!(stderr.contains("index.usearch does not match"), "{stderr}");
}

#[test]
fn an_index_of_another_model_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let set = replicant::demo::make_demo(
        dir.path(),
        &replicant::demo::DemoSpec {
            training: 6,
            generations: 2,
            seed: 5,
        },
    )
    .expect("demo");
    let images = common::image_files(&set.training);
    let shards = dir.path().join("shards");
    common::pack_shards(&images, &shards, 3, 0);
    let out = dir.path().join("embeddings");
    let (code, _, stderr) = run(&[
        "embed",
        "--training",
        &shards.to_string_lossy(),
        "--out",
        &out.to_string_lossy(),
        "--model",
        "sscd-distilled",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let index = dir.path().join("index");
    let (code, _, stderr) = run(&[
        "index",
        "build",
        "--embeddings",
        &out.to_string_lossy(),
        "--out",
        &index.to_string_lossy(),
        "--dtype",
        "i8",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = run(&[
        "scan",
        "--generations",
        &set.generations.to_string_lossy(),
        "--training-index",
        &index.to_string_lossy(),
        "--project",
        &dir.path().join("project").to_string_lossy(),
        // Without the cascade (which re-scores a distilled index with full SSCD), the
        // index's model must be the scan's.
        "--shortlist",
        "off",
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("built with model sscd-distilled@")
            && stderr.contains("this scan runs sscd@"),
        "{stderr}"
    );
    let (code, _, stderr) = run(&["embed", "--training", "x", "--out", "y", "--shard", "3/3"]);
    assert_eq!(
        code, 2,
        "a worker index out of range is bad usage: {stderr}"
    );
}

/// Regression: a worker killed with SIGKILL keeps every finished batch in its own cache, and
/// the next run of the same worker embeds only the rest, then writes its part.
#[cfg(unix)]
#[test]
fn a_killed_worker_resumes_from_its_own_cache() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().expect("tempdir");
    let set = replicant::demo::make_demo(
        dir.path(),
        &replicant::demo::DemoSpec {
            training: 120,
            generations: 1,
            seed: 23,
        },
    )
    .expect("demo");
    let shards = dir.path().join("shards");
    common::pack_shards(&common::image_files(&set.training), &shards, 30, 0);
    let out = dir.path().join("embeddings");
    let args = |shard: &str| {
        vec![
            "embed".to_string(),
            "--batch".into(),
            "8".into(),
            "--decode-threads".into(),
            "1".into(),
            "--training".into(),
            shards.to_string_lossy().into_owned(),
            "--out".into(),
            out.to_string_lossy().into_owned(),
            "--shard".into(),
            shard.into(),
        ]
    };
    let mut child = Command::new(common::replicant_bin())
        .args(args("1/2"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let cache = replicant::shards::worker::worker_cache_path(&out, 1, 2);
    let count = || {
        rusqlite::Connection::open(&cache)
            .and_then(|c| {
                c.query_row("SELECT count(*) FROM embeddings WHERE view = ''", [], |r| {
                    r.get::<_, i64>(0)
                })
            })
            .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while count() < 16 {
        assert!(
            Instant::now() < deadline,
            "no batch reached the cache in time"
        );
        assert!(
            child.try_wait().expect("wait").is_none(),
            "the worker finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    let stored = count();
    // Worker 1 of 2 has shards 00001 and 00003: 60 images.
    assert!((16..60).contains(&stored), "stored {stored}");
    assert!(
        !out.join("part-1-of-2.json").exists(),
        "no part from a killed worker"
    );
    let (code, stdout, stderr) = run(&args("1/2").iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "{stderr}");
    let summary = last_json(&stdout);
    assert_eq!(summary["rows"], 60);
    assert_eq!(summary["cached"].as_i64(), Some(stored), "{summary}");
    assert_eq!(summary["embedded"].as_i64(), Some(60 - stored), "{summary}");
}

/// `examples/slurm_embed.sh` as each task of a 2-task array would run it (the variables Slurm
/// sets, given by hand): both parts appear and merge into one index.
#[cfg(unix)]
#[test]
fn the_slurm_script_runs_one_worker_per_array_task() {
    let dir = tempfile::tempdir().expect("tempdir");
    let set = replicant::demo::make_demo(
        dir.path(),
        &replicant::demo::DemoSpec {
            training: 9,
            generations: 1,
            seed: 3,
        },
    )
    .expect("demo");
    let shards = dir.path().join("shards");
    common::pack_shards(&common::image_files(&set.training), &shards, 3, 0);
    let out = dir.path().join("embeddings");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/slurm_embed.sh");
    let mut rows = 0;
    for task in 0..2 {
        let done = Command::new("bash")
            .arg(&script)
            .arg(&shards)
            .arg(&out)
            .args(["--", "--batch", "4"])
            .env("SLURM_ARRAY_TASK_ID", task.to_string())
            .env("SLURM_ARRAY_TASK_COUNT", "2")
            .env("SLURM_CPUS_PER_TASK", "1")
            .env("REPLICANT_BIN", common::replicant_bin())
            .output()
            .expect("run the script");
        assert!(
            done.status.success(),
            "task {task}: {}",
            String::from_utf8_lossy(&done.stderr)
        );
        let summary = last_json(&String::from_utf8_lossy(&done.stdout));
        assert_eq!(summary["part"], format!("part-{task}-of-2"));
        rows += summary["rows"].as_u64().expect("rows");
    }
    // Shards 00000 and 00002 go to task 0, 00001 to task 1.
    assert_eq!(rows, 9);
    let (code, stdout, stderr) = run(&[
        "index",
        "build",
        "--embeddings",
        &out.to_string_lossy(),
        "--out",
        &dir.path().join("index").to_string_lossy(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(last_json(&stdout)["rows"], 9);
}
