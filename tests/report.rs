//! `replicant report` end to end on the fixtures with the real model: scan through the CLI,
//! label pairs through the CLI, and check the report's JSON field by field against values
//! this test derives itself from the scan's output, the labels it gave and the textbook
//! formulas.

mod common;

use std::collections::BTreeSet;

use serde_json::Value;

/// The Wilson 95% interval, written out again here so the report is checked against an
/// independent computation.
fn wilson(k: f64, n: f64) -> (f64, f64) {
    let z = 1.959_963_984_540_054f64;
    let p = k / n;
    let centre = p + z * z / (2.0 * n);
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    let d = 1.0 + z * z / n;
    (
        ((centre - half) / d).max(0.0),
        ((centre + half) / d).min(1.0),
    )
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

#[test]
fn report_json_matches_the_scan_and_the_labels_field_by_field() {
    let Some(fixtures) = common::fixtures_dir() else {
        return;
    };
    let work = tempfile::tempdir().expect("tempdir");
    let (generations, training) = common::fixture_layout(&fixtures, work.path());
    let project = work.path().join("project");
    let results = work.path().join("r.jsonl");
    let (code, _, err) = common::run_replicant(&[
        "scan",
        "--generations",
        generations.to_str().expect("utf-8"),
        "--training",
        training.to_str().expect("utf-8"),
        "--project",
        project.to_str().expect("utf-8"),
        "--regions",
        "off",
        "--shortlist",
        "off",
        "--out",
        results.to_str().expect("utf-8"),
    ]);
    assert!(code == 0 || code == 2, "scan failed ({code}): {err}");

    // What the scan wrote: each generation's matches.
    let rows: Vec<Value> = std::fs::read_to_string(&results)
        .expect("results")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let top = |row: &Value| -> (f64, String) {
        row["matches"]
            .as_array()
            .expect("matches")
            .iter()
            .map(|m| {
                (
                    m["similarity"].as_f64().expect("similarity"),
                    m["training"].as_str().expect("training").to_string(),
                )
            })
            .fold((f64::NEG_INFINITY, String::new()), |a, b| {
                if b.0 > a.0 { b } else { a }
            })
    };
    let n = rows.len() as f64;
    let replicated = rows.iter().filter(|r| top(r).0 >= 0.5).count() as f64;
    let duplicated = rows.iter().filter(|r| top(r).0 >= 0.95).count() as f64;

    // Label four top pairs as one reviewer: the two most similar full copies, one near copy
    // and one distinct, spread over the similarity range.
    let mut tops: Vec<(f64, String, String)> = rows
        .iter()
        .map(|r| {
            let (s, t) = top(r);
            (
                s,
                r["generation"].as_str().expect("generation").to_string(),
                t,
            )
        })
        .filter(|(s, _, _)| s.is_finite())
        .collect();
    tops.sort_by(|a, b| b.0.total_cmp(&a.0));
    // Labels are keyed by content: keep one generation per content (some fixtures are
    // byte-identical copies under two names).
    let mut seen = BTreeSet::new();
    tops.retain(|(_, generation, training)| {
        let bytes = std::fs::read(generations.join(generation)).unwrap_or_default();
        seen.insert((blake3::hash(&bytes).to_hex().to_string(), training.clone()))
    });
    let chosen = [
        (&tops[0], "full_copy"),
        (&tops[1], "full_copy"),
        (&tops[tops.len() / 2], "near_copy"),
        (&tops[tops.len() - 1], "distinct"),
    ];
    let label_as = |generation: &str, training: &str, label: &str, reviewer: &str| {
        common::run_ok(&[
            "label",
            "--project",
            project.to_str().expect("utf-8"),
            "--generation",
            generation,
            "--training",
            training,
            "--label",
            label,
            "--reviewer",
            reviewer,
        ]);
    };
    for ((_, generation, training), label) in &chosen {
        label_as(generation, training, label, "alice");
    }
    // A second reviewer agrees on the two full copies and calls the near copy distinct.
    for ((_, generation, training), label) in [
        (chosen[0].0, "full_copy"),
        (chosen[1].0, "full_copy"),
        (chosen[2].0, "distinct"),
    ] {
        label_as(generation, training, label, "bob");
    }

    let out = work.path().join("report.json");
    common::run_ok(&[
        "report",
        "--project",
        project.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
        "--target-precision",
        "0.75",
    ]);
    let report: Value =
        serde_json::from_slice(&std::fs::read(&out).expect("report")).expect("report json");

    assert_eq!(report["generations"].as_u64(), Some(rows.len() as u64));
    assert_eq!(report["threshold"].as_f64(), Some(0.5));
    for (field, count) in [
        ("replication_rate", replicated),
        ("duplicate_rate", duplicated),
    ] {
        let rate = &report[field];
        assert_eq!(rate["count"].as_f64(), Some(count), "{field}");
        assert!(close(rate["value"].as_f64().expect("value"), count / n));
        let (lo, hi) = wilson(count, n);
        assert!(
            close(rate["ci95"][0].as_f64().expect("lo"), lo),
            "{field} lo"
        );
        assert!(
            close(rate["ci95"][1].as_f64().expect("hi"), hi),
            "{field} hi"
        );
    }

    // Duplicate counts: the scan writes one on every match (its own index search); the
    // report's mean over the matches at or above the threshold (an exact search of its own)
    // must agree with the mean of what the scan wrote.
    let mut written = Vec::new();
    for m in rows
        .iter()
        .flat_map(|r| r["matches"].as_array().expect("matches"))
    {
        let duplicates = m["duplicates"]
            .as_u64()
            .expect("a duplicate count on every match");
        if m["similarity"].as_f64().expect("similarity") >= 0.5 {
            written.push(duplicates as f64);
        }
    }
    let counts = &report["duplicate_counts"];
    assert_eq!(
        counts["replicated_matches"].as_u64(),
        Some(written.len() as u64)
    );
    let written_mean = written.iter().sum::<f64>() / written.len() as f64;
    assert!(close(
        counts["replicated_mean"].as_f64().expect("mean"),
        written_mean
    ));

    // The baseline samples every training image (fewer than 1,000), with the default seed.
    let training_images = report["training_images"].as_u64().expect("training images");
    assert!(training_images >= 80, "{training_images}");
    let baseline = &report["baseline"];
    assert_eq!(baseline["sample"].as_u64(), Some(training_images));
    assert_eq!(baseline["seed"].as_u64(), Some(12_345));
    let p = |which: &str, q: &str| baseline[which][q].as_f64().expect("percentile");
    for which in ["train_train", "generation_train"] {
        assert!(p(which, "p50") <= p(which, "p90") && p(which, "p90") <= p(which, "p95"));
        assert!(p(which, "p95") <= p(which, "p99") && p(which, "p99") <= 1.0 + 1e-6);
    }
    // Generations here are mostly copies of training images, which training images are of
    // each other far less often.
    assert!(p("generation_train", "p50") > p("train_train", "p50") + 0.2);

    // Labels: two reviewers, three pairs reviewed twice, one disagreement. Final labels: the
    // two agreed full copies and alice's lone distinct; the disputed pair has none.
    let labels = &report["labels"];
    assert_eq!(labels["reviewers"], serde_json::json!(["alice", "bob"]));
    assert_eq!(
        labels["counts"],
        serde_json::json!({"full_copy": 2, "distinct": 1})
    );
    assert_eq!(labels["double_reviewed"].as_u64(), Some(3));
    assert_eq!(labels["disagreements"].as_u64(), Some(1));
    // Cohen's kappa by hand: (full, full) twice and (near, distinct): po = 2/3; alice's
    // marginals full 2/3, near 1/3; bob's full 2/3, distinct 1/3; pe = 4/9; kappa = 0.4.
    let cohen = &labels["cohen_kappa"][0];
    assert_eq!(
        (cohen["a"].as_str(), cohen["b"].as_str()),
        (Some("alice"), Some("bob"))
    );
    assert_eq!(cohen["n"].as_u64(), Some(3));
    assert!(close(cohen["kappa"].as_f64().expect("kappa"), 0.4));
    // Fleiss' kappa by hand over the same three pairs: P = 1, 1, 0 (mean 2/3); label shares
    // 4/6, 1/6, 1/6, so pe = 1/2; kappa = (2/3 - 1/2) / (1/2) = 1/3.
    assert!(close(
        labels["fleiss_kappa"].as_f64().expect("fleiss"),
        1.0 / 3.0
    ));

    // The calibrated threshold, by hand: the lowest labelled similarity whose pairs at or
    // above reach 0.75 precision.
    // Over the final labels: the disputed near copy (chosen[2]) has none.
    let mut labelled: Vec<(f64, bool)> = [&chosen[0], &chosen[1], &chosen[3]]
        .iter()
        .map(|((s, _, _), l)| (*s, *l != "distinct"))
        .collect();
    labelled.sort_by(|a, b| a.0.total_cmp(&b.0));
    let expected = labelled.iter().find_map(|&(s, _)| {
        let above: Vec<bool> = labelled
            .iter()
            .filter(|(x, _)| *x >= s)
            .map(|(_, c)| *c)
            .collect();
        let precision = above.iter().filter(|c| **c).count() as f64 / above.len() as f64;
        (precision >= 0.75).then_some((s, precision))
    });
    let calibration = &report["calibration"];
    assert_eq!(calibration["labelled_pairs"].as_u64(), Some(3));
    let (threshold, precision) = expected.expect("a threshold reaches 0.75");
    assert!((calibration["threshold"].as_f64().expect("threshold") - threshold).abs() < 1e-4);
    assert!(close(
        calibration["precision"].as_f64().expect("precision"),
        precision
    ));

    // Provenance: the generations' content hash re-derived from the files.
    let hashes: BTreeSet<String> = rows
        .iter()
        .filter_map(|r| std::fs::read(generations.join(r["generation"].as_str()?)).ok())
        .map(|bytes| blake3::hash(&bytes).to_hex().to_string())
        .collect();
    let mut hasher = blake3::Hasher::new();
    for hash in &hashes {
        hasher.update(hash.as_bytes());
    }
    let provenance = &report["provenance"];
    assert_eq!(
        provenance["generations_blake3"].as_str(),
        Some(hasher.finalize().to_hex().as_str())
    );
    let model = provenance["model_file"].as_str().expect("model file");
    let model_hash = blake3::hash(&std::fs::read(model).expect("model")).to_hex();
    assert_eq!(
        provenance["model_blake3"].as_str(),
        Some(model_hash.as_str())
    );
    assert!(
        provenance["model_key"]
            .as_str()
            .is_some_and(|k| k.starts_with("sscd@"))
    );

    // Adjudicating the disputed pair sets its final label, kept apart from both reviewers'.
    common::run_ok(&[
        "label",
        "--project",
        project.to_str().expect("utf-8"),
        "--generation",
        &chosen[2].0.1,
        "--training",
        &chosen[2].0.2,
        "--label",
        "near_copy",
        "--reviewer",
        "carol",
        "--adjudicate",
    ]);
    common::run_ok(&[
        "report",
        "--project",
        project.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
        "--force",
    ]);
    let adjudicated: Value =
        serde_json::from_slice(&std::fs::read(&out).expect("report")).expect("report json");
    let labels = &adjudicated["labels"];
    assert_eq!(
        labels["counts"],
        serde_json::json!({"full_copy": 2, "near_copy": 1, "distinct": 1})
    );
    assert_eq!(labels["disagreements"].as_u64(), Some(0));
    assert_eq!(labels["adjudicated"].as_u64(), Some(1));
    assert_eq!(labels["reviewers"], serde_json::json!(["alice", "bob"]));
    assert_eq!(
        adjudicated["calibration"]["labelled_pairs"].as_u64(),
        Some(4)
    );

    // The review set export: the final label as `label`, and a column per reviewer.
    let csv_path = work.path().join("review.csv");
    common::run_ok(&[
        "export",
        "--project",
        project.to_str().expect("utf-8"),
        "--out",
        csv_path.to_str().expect("utf-8"),
    ]);
    let mut reader = csv::Reader::from_path(&csv_path).expect("csv");
    let headers = reader.headers().expect("headers").clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name} in {headers:?}"))
    };
    let (label, final_label, alice, bob) = (
        column("label"),
        column("final_label"),
        column("label:alice"),
        column("label:bob"),
    );
    let disputed = reader
        .records()
        .map(|r| r.expect("row"))
        .find(|r| r[0] == chosen[2].0.1 && r[1] == chosen[2].0.2)
        .expect("the disputed pair is exported");
    assert_eq!(
        (
            &disputed[label],
            &disputed[final_label],
            &disputed[alice],
            &disputed[bob]
        ),
        ("near_copy", "near_copy", "near_copy", "distinct")
    );

    // The page: self-contained, and never written over without --force.
    let page = work.path().join("report.html");
    let args = [
        "report",
        "--project",
        project.to_str().expect("utf-8"),
        "--out",
        page.to_str().expect("utf-8"),
    ];
    common::run_ok(&args);
    let html = std::fs::read_to_string(&page).expect("page");
    assert!(html.contains("<svg"), "the histogram is drawn inline");
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "the page fetches nothing"
    );
    assert!(html.contains(&format!("{} of {} = ", replicated, rows.len())));
    let (code, _, err) = common::run_replicant(&args);
    assert_eq!(
        code, 1,
        "an existing report is not replaced without --force"
    );
    assert!(err.contains("--force"), "{err}");
}
