//! The scan engine on images the test makes itself (so it proves the engine anywhere), with
//! the real SSCD model and ONNX Runtime: copies rank their sources first, distinct scenes stay
//! below the threshold, caches work by content, bad files never stop a scan, and a scan killed
//! midway resumes from its cache.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use replicant::demo::{DemoKind, DemoSpec, make_demo};

#[test]
fn copies_rank_their_sources_first_and_distinct_scenes_stay_below_threshold() {
    let dir = tempfile::tempdir().expect("tempdir");
    let set = make_demo(
        dir.path(),
        &DemoSpec {
            training: 40,
            generations: 24,
            seed: 11,
        },
    )
    .expect("demo");
    let project = dir.path().join("project");
    let (results, summary) = common::scan(common::options(
        &set.generations,
        std::slice::from_ref(&set.training),
        &project,
    ));
    assert_eq!(summary.generations, 24);
    assert_eq!(summary.training_images, 40);
    assert!(summary.skipped.is_empty(), "{:?}", summary.skipped);
    for truth in &set.truth {
        let result = results
            .iter()
            .find(|r| r.generation == truth.generation)
            .expect("scanned");
        let top = &result.matches[0];
        match truth.kind {
            DemoKind::FullCopy => {
                assert_eq!(
                    top.training, truth.sources[0],
                    "{} ({})",
                    truth.generation, truth.transform
                );
                assert!(
                    top.similarity >= 0.5,
                    "{}: {:.3} ({})",
                    truth.generation,
                    top.similarity,
                    truth.transform
                );
            }
            DemoKind::NearCopy | DemoKind::Collage => {
                let found = result
                    .matches
                    .iter()
                    .any(|m| truth.sources.contains(&m.training));
                assert!(
                    found,
                    "{}: no source in the top 5 ({})",
                    truth.generation, truth.transform
                );
            }
            DemoKind::Distinct => {
                assert!(
                    top.similarity < 0.5,
                    "{}: distinct scene at {:.3}",
                    truth.generation,
                    top.similarity
                );
            }
        }
        assert!(
            result
                .prompt
                .as_deref()
                .is_some_and(|p| p.contains("abstract composition"))
        );
        assert!(
            top.training_caption
                .as_deref()
                .is_some_and(|c| c.starts_with("training scene"))
        );
    }
}

#[test]
fn renamed_and_unchanged_files_are_not_embedded_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let set = make_demo(
        dir.path(),
        &DemoSpec {
            training: 6,
            generations: 4,
            seed: 3,
        },
    )
    .expect("demo");
    let project = dir.path().join("project");
    let options = common::options(
        &set.generations,
        std::slice::from_ref(&set.training),
        &project,
    );
    let (_, first) = common::scan(options.clone());
    assert_eq!(first.embedded, 10);
    std::fs::rename(
        set.generations.join("gen_000.png"),
        set.generations.join("renamed é 名前.png"),
    )
    .expect("rename");
    let (results, second) = common::scan(options);
    assert_eq!(second.embedded, 0, "a renamed file was embedded again");
    assert!(results.iter().any(|r| r.generation == "renamed é 名前.png"));
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, bytes).expect("write");
}

#[test]
fn bad_files_are_listed_with_reasons_and_the_scan_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let set = make_demo(
        dir.path(),
        &DemoSpec {
            training: 6,
            generations: 4,
            seed: 5,
        },
    )
    .expect("demo");
    let good = std::fs::read(set.generations.join("gen_000.png")).expect("read");
    let gens = &set.generations;
    write(&gens.join("truncated.png"), &good[..good.len() / 3]);
    write(&gens.join("empty.jpg"), b"");
    write(
        &gens.join("notes-as-image.jpg"),
        b"this is text, not a JPEG",
    );
    let mut huge = good.clone();
    huge[16..20].copy_from_slice(&50_000u32.to_be_bytes());
    huge[20..24].copy_from_slice(&50_000u32.to_be_bytes());
    let crc = crc32fast::hash(&huge[12..29]);
    huge[29..33].copy_from_slice(&crc.to_be_bytes());
    write(&gens.join("sub dir/huge header.png"), &huge);
    write(&gens.join("misnamed.webp"), &good);
    let (results, summary) = common::scan(common::options(
        gens,
        std::slice::from_ref(&set.training),
        &dir.path().join("project"),
    ));
    let reason = |name: &str| {
        summary
            .skipped
            .iter()
            .find(|s| s.path == name)
            .map(|s| s.reason.clone())
            .unwrap_or_else(|| panic!("{name} not skipped: {:?}", summary.skipped))
    };
    assert!(reason("empty.jpg").contains("not a recognisable image"));
    assert!(reason("notes-as-image.jpg").contains("not a recognisable image"));
    assert!(
        reason("sub dir/huge header.png").contains("megapixel"),
        "{}",
        reason("sub dir/huge header.png")
    );
    // A truncated PNG is either refused as damaged or decoded as far as it goes; never a crash.
    if let Some(s) = summary.skipped.iter().find(|s| s.path == "truncated.png") {
        assert!(s.reason.contains("damaged or truncated"), "{}", s.reason);
    }
    assert!(
        results.iter().any(|r| r.generation == "misnamed.webp"),
        "misnamed file not decoded by content"
    );
    assert!(results.iter().any(|r| r.generation == "gen_000.png"));
}

fn replicant() -> Command {
    Command::new(env!("CARGO_BIN_EXE_replicant"))
}

#[test]
fn wrong_model_file_and_missing_runtime_fail_with_clear_messages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let set = make_demo(
        dir.path(),
        &DemoSpec {
            training: 2,
            generations: 1,
            seed: 2,
        },
    )
    .expect("demo");
    let bogus = dir.path().join("not-a-model.onnx");
    std::fs::write(&bogus, b"definitely not protobuf").expect("write");
    let output = replicant()
        .args(["scan", "--no-setup", "--generations"])
        .arg(&set.generations)
        .arg("--training")
        .arg(&set.training)
        .arg("--model")
        .arg(&bogus)
        .arg("--project")
        .arg(dir.path().join("p1"))
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("not-a-model.onnx") && stderr.contains("cannot load the model"),
        "{stderr}"
    );

    let output = replicant()
        .args([
            "scan",
            "--no-setup",
            "--ort-lib",
            "/nonexistent/libonnxruntime.so",
            "--generations",
        ])
        .arg(&set.generations)
        .arg("--training")
        .arg(&set.training)
        .arg("--project")
        .arg(dir.path().join("p2"))
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("/nonexistent/libonnxruntime.so") && stderr.contains("replicant setup"),
        "{stderr}"
    );
}

#[test]
fn cli_writes_json_lines_and_csv_and_rejects_bad_usage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let set = make_demo(
        dir.path(),
        &DemoSpec {
            training: 8,
            generations: 4,
            seed: 9,
        },
    )
    .expect("demo");
    let project = dir.path().join("project");
    let run = |out: &PathBuf| {
        replicant()
            .args(["scan", "--top-k", "3", "--generations"])
            .arg(&set.generations)
            .arg("--training")
            .arg(&set.training)
            .arg("--project")
            .arg(&project)
            .arg("--out")
            .arg(out)
            .output()
            .expect("run")
    };
    let jsonl = dir.path().join("out.jsonl");
    let output = run(&jsonl);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("replication rate") && stderr.contains("images/s"),
        "{stderr}"
    );
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&jsonl)
        .expect("read")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 4);
    for line in &lines {
        assert_eq!(line["matches"].as_array().expect("matches").len(), 3);
        assert_eq!(line["matches"][0]["rank"], 1);
        assert!(
            line["generation"]
                .as_str()
                .is_some_and(|g| g.starts_with("gen_"))
        );
        assert!(line["prompt"].is_string());
    }
    let csv_path = dir.path().join("out.csv");
    assert!(run(&csv_path).status.success());
    let mut reader = csv::Reader::from_path(&csv_path).expect("csv");
    assert_eq!(
        reader
            .headers()
            .expect("headers")
            .iter()
            .collect::<Vec<_>>(),
        [
            "generation",
            "prompt",
            "rank",
            "training",
            "similarity",
            "region",
            "layout",
            "verified",
            "ranked_by",
            "duplicates",
            "score",
            "generation_key",
            "generation_url",
            "training_key",
            "training_url"
        ]
    );
    // Fewer training images than 20 per generation: the cascade stays off, so every match is
    // ranked by full SSCD alone.
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("record")).collect();
    assert_eq!(records.len(), 12);
    assert!(records.iter().all(|r| r.get(8) == Some("sscd")));
    // Every match is verified: a structure agreement between -1 and 1.
    assert!(records.iter().all(|r| {
        r.get(7)
            .and_then(|v| v.parse::<f32>().ok())
            .is_some_and(|v| (-1.0..=1.0).contains(&v))
    }));
    // The score that ordered them: rows of one generation in falling score, none below its
    // similarity (the re-rank only adds).
    let number = |r: &csv::StringRecord, i: usize| -> f32 {
        r.get(i).and_then(|v| v.parse().ok()).expect("a number")
    };
    for pair in records.windows(2).filter(|w| w[0].get(0) == w[1].get(0)) {
        assert!(number(&pair[0], 10) >= number(&pair[1], 10), "{pair:?}");
    }
    assert!(records.iter().all(|r| number(r, 10) >= number(r, 4) - 1e-4));
    // The scan's own index of full SSCD embeddings: every match has a duplicate count.
    assert!(
        records
            .iter()
            .all(|r| r.get(9).is_some_and(|d| d.parse::<usize>().is_ok()))
    );

    let bad = replicant()
        .args([
            "scan",
            "--threshold",
            "5",
            "--generations",
            "x",
            "--training",
            "y",
        ])
        .output()
        .expect("run");
    assert_eq!(bad.status.code(), Some(2));
    let missing = replicant()
        .args([
            "scan",
            "--generations",
            "/no/such/folder",
            "--training",
            "/no/such/either",
        ])
        .output()
        .expect("run");
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/no/such"));
}

/// Regression: a scan killed with SIGKILL keeps every finished batch, and the next scan
/// embeds only the rest.
#[cfg(unix)]
#[test]
fn scan_killed_midway_resumes_from_its_cache() {
    let dir = tempfile::tempdir().expect("tempdir");
    let set = make_demo(
        dir.path(),
        &DemoSpec {
            training: 120,
            generations: 8,
            seed: 21,
        },
    )
    .expect("demo");
    let project = dir.path().join("project");
    let mut child = replicant()
        .args([
            "scan",
            "--batch",
            "8",
            "--decode-threads",
            "1",
            "--generations",
        ])
        .arg(&set.generations)
        .arg("--training")
        .arg(&set.training)
        .arg("--project")
        .arg(&project)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let cache = project.join("cache.sqlite");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(
            Instant::now() < deadline,
            "no batch reached the cache in time"
        );
        assert!(
            child.try_wait().expect("wait").is_none(),
            "scan finished before it could be killed"
        );
        let stored = rusqlite::Connection::open(&cache)
            .and_then(|c| {
                c.query_row("SELECT count(*) FROM embeddings WHERE view = ''", [], |r| {
                    r.get::<_, i64>(0)
                })
            })
            .unwrap_or(0);
        if stored >= 16 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    let stored: i64 = rusqlite::Connection::open(&cache)
        .and_then(|c| {
            c.query_row("SELECT count(*) FROM embeddings WHERE view = ''", [], |r| {
                r.get(0)
            })
        })
        .expect("count");
    assert!((16..128).contains(&stored), "stored {stored}");
    let (_, summary) = common::scan(common::options(
        &set.generations,
        std::slice::from_ref(&set.training),
        &project,
    ));
    assert_eq!(
        summary.embedded as i64,
        128 - stored,
        "resumed scan re-embedded finished work"
    );
    assert_eq!(summary.generations, 8);
}

/// Regression: flipped bytes inside the project's saved index gave NaN similarities and a
/// false replication rate with exit 0. The index's checksum is saved beside it and checked
/// on reload; a damaged one is rebuilt from the cached embeddings, so results are unchanged.
#[test]
fn a_damaged_project_index_is_rebuilt_not_trusted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let set = make_demo(
        dir.path(),
        &DemoSpec {
            training: 30,
            generations: 10,
            seed: 31,
        },
    )
    .expect("demo");
    let project = dir.path().join("project");
    let options = || {
        let mut options = common::options(
            &set.generations,
            std::slice::from_ref(&set.training),
            &project,
        );
        options.matching.regions = replicant::ranking::regions::RegionMode::Off;
        options
    };
    let (first, first_summary) = common::scan(options());
    let saved: Vec<PathBuf> = std::fs::read_dir(project.join("index"))
        .expect("index folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "usearch"))
        .collect();
    assert_eq!(saved.len(), 1, "{saved:?}");
    assert!(saved[0].with_extension("usearch.check").is_file());
    let mut bytes = std::fs::read(&saved[0]).expect("read index");
    let middle = bytes.len() / 2;
    for b in &mut bytes[middle..middle + 256] {
        *b = 0xFF;
    }
    std::fs::write(&saved[0], &bytes).expect("damage index");
    let (second, second_summary) = common::scan(options());
    assert_eq!(second_summary.embedded, 0, "everything was cached");
    assert_eq!(
        first_summary.at_or_above_threshold,
        second_summary.at_or_above_threshold
    );
    for (a, b) in first.iter().zip(&second) {
        assert_eq!(a.generation, b.generation);
        let top = |r: &replicant::ranking::matches::GenerationMatches| {
            r.matches
                .first()
                .map(|m| (m.training.clone(), m.similarity))
        };
        assert_eq!(top(a), top(b), "{}", a.generation);
    }
}
