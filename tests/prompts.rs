//! The prompt side of an audit, end to end on real images: captions drawn as prompts and
//! generations linked back to them (own source / another / nothing), a phrase planted in the
//! prompts of the copies coming first in the report, and the statistics checked against
//! SciPy's `fisher_exact` and a Benjamini-Hochberg written out in `tests/prompt_stats.py`
//! (its Python is `REPLICANT_SCIPY_PYTHON`, which `.ci/run` installs; without it the check
//! skips outside CI and fails in CI).

mod common;

use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};

/// The scikit-image sample pictures of the fixtures: small, real, and unrelated to each other.
fn sample_pictures(fixtures: &Path) -> PathBuf {
    fixtures.join("pkg-sample-images/scikit-image-0.26.0/skimage/data")
}

/// Links `names` of `from` into `to`, each under its own name or the one given.
fn place(from: &Path, to: &Path, names: &[(&str, &str)]) {
    std::fs::create_dir_all(to).expect("folder");
    for (name, as_name) in names {
        let source = from.join(name);
        assert!(
            source.is_file(),
            "{} is missing from the fixtures",
            source.display()
        );
        std::os::unix::fs::symlink(&source, to.join(as_name)).expect("link");
    }
}

fn json_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .expect("read")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// The project's report as JSON (made anew), with `extra` flags.
fn report_of(project: &Path, extra: &[&str]) -> serde_json::Value {
    let path = project.with_extension("report.json");
    let (project_s, path_s) = (project.to_string_lossy(), path.to_string_lossy());
    let mut args = vec![
        "report",
        "--project",
        &project_s,
        "--out",
        &path_s,
        "--force",
    ];
    args.extend(extra);
    common::run_ok(&args);
    serde_json::from_slice(&std::fs::read(&path).expect("report")).expect("json")
}

/// C(n, k) as a float, for the exact p-values worked here.
fn choose(n: u64, k: u64) -> f64 {
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

#[test]
fn a_phrase_planted_in_the_prompts_of_the_copies_comes_first() {
    let Some(fixtures) = common::fixtures_dir() else {
        return;
    };
    let pictures = sample_pictures(&fixtures);
    let dir = tempfile::tempdir().expect("tempdir");
    let (training, generations) = (dir.path().join("training"), dir.path().join("generations"));
    let trained = [
        "astronaut.png",
        "brick.png",
        "camera.png",
        "cell.png",
        "chelsea.png",
        "clock_motion.png",
        "coffee.png",
        "coins.png",
        "color.png",
        "grass.png",
        "gravel.png",
        "horse.png",
    ];
    place(&pictures, &training, &trained.map(|n| (n, n)));
    // Six copies of training images, nine pictures the training set does not hold.
    let copies = [
        "astronaut.png",
        "brick.png",
        "camera.png",
        "chelsea.png",
        "coffee.png",
        "coins.png",
    ];
    let others = [
        "hubble_deep_field.jpg",
        "ihc.png",
        "logo.png",
        "moon.png",
        "page.png",
        "retina.jpg",
        "rocket.jpg",
        "text.png",
        "microaneurysms.png",
    ];
    place(&pictures, &generations, &copies.map(|n| (n, n)));
    place(&pictures, &generations, &others.map(|n| (n, n)));
    // Each prompt has words of its own; the copies' share "Canvas Wall-Art Print".
    let words = [
        "amber", "birch", "cobalt", "dune", "ember", "fjord", "glacier", "harbor", "iris",
        "juniper", "kelp", "lagoon", "meadow", "nectar", "orchid",
    ];
    let mut metadata = String::new();
    for (i, name) in copies.iter().chain(&others).enumerate() {
        // Each word is in two prompts (the i-th and the (14-i)-th), below the five a phrase
        // needs; the planted phrase is in six.
        let prompt = if i < copies.len() {
            format!("{} Canvas Wall-Art Print, {}", words[i], words[14 - i])
        } else {
            format!("{}, {}", words[i], words[14 - i])
        };
        metadata.push_str(&serde_json::json!({"file_name": name, "prompt": prompt}).to_string());
        metadata.push('\n');
    }
    std::fs::write(generations.join("metadata.jsonl"), metadata).expect("metadata");
    let project = dir.path().join("project");
    let out = dir.path().join("matches.jsonl");
    common::run_ok(&[
        "scan",
        "--generations",
        &generations.to_string_lossy(),
        "--training",
        &training.to_string_lossy(),
        "--project",
        &project.to_string_lossy(),
        "--out",
        &out.to_string_lossy(),
    ]);
    // The design holds: exactly the copies reach the threshold.
    let replicated: Vec<String> = json_lines(&out)
        .iter()
        .filter(|r| r["matches"][0]["similarity"].as_f64().unwrap_or(0.0) >= 0.5)
        .map(|r| r["generation"].as_str().expect("name").to_string())
        .collect();
    let mut expected: Vec<String> = copies.iter().map(|c| c.to_string()).collect();
    let mut found = replicated.clone();
    expected.sort();
    found.sort();
    assert_eq!(found, expected, "the copies and only they reach 0.5");

    let report = report_of(&project, &[]);
    let phrases = report["prompt_phrases"].as_array().expect("prompt_phrases");
    let first = &phrases[0];
    assert_eq!(first["phrase"], "canvas wall art print", "{phrases:?}");
    assert_eq!(
        (first["generations"].as_u64(), first["replicated"].as_u64()),
        (Some(6), Some(6))
    );
    // 15 generations, 6 replicated, the 6 with the phrase all replicated: p = 1 / C(15, 6).
    let p = 1.0 / choose(15, 6);
    let got = first["p_value"].as_f64().expect("p");
    assert!((got - p).abs() < 1e-12, "{got} against {p}");
    // Only the phrase and the nine shorter ones inside it are used by five generations or
    // more (every other word is one prompt's), all ten with the same p: q = p * 10 / 10.
    assert_eq!(phrases.len(), 10, "{phrases:?}");
    assert!((first["q_value"].as_f64().expect("q") - p).abs() < 1e-12);
    assert_eq!(first["rate"], 1.0);
    assert_eq!(report["prompts"]["basis"], "threshold");
    assert_eq!(report["prompts"]["generations"], 15);
    // In the captions: the training images have none, so both counts are of nothing.
    let in_captions = &report["prompts"]["in_captions"][0];
    assert_eq!(in_captions["phrase"], "canvas wall art print");
    assert_eq!(in_captions["all"]["total"], 0);

    // With labels, they decide: one copy labelled distinct leaves 5 of the phrase's 6
    // labelled generations replicated, among the labelled ones only.
    for (generation, label) in [
        ("astronaut.png", "distinct"),
        ("brick.png", "full_copy"),
        ("moon.png", "distinct"),
    ] {
        let training = if generation == "moon.png" {
            json_lines(&out)
                .iter()
                .find(|r| r["generation"] == generation)
                .map(|r| {
                    r["matches"][0]["training"]
                        .as_str()
                        .expect("name")
                        .to_string()
                })
                .expect("moon's match")
        } else {
            generation.to_string()
        };
        common::run_ok(&[
            "label",
            "--project",
            &project.to_string_lossy(),
            "--generation",
            generation,
            "--training",
            &training,
            "--label",
            label,
            "--reviewer",
            "ann",
        ]);
    }
    let report = report_of(&project, &["--min-phrase-generations", "2"]);
    assert_eq!(report["prompts"]["basis"], "labels");
    assert_eq!(report["prompts"]["generations"], 3);
    let phrase = report["prompt_phrases"]
        .as_array()
        .expect("phrases")
        .iter()
        .find(|p| p["phrase"] == "canvas wall art print")
        .expect("the phrase is tested");
    assert_eq!(
        (
            phrase["generations"].as_u64(),
            phrase["replicated"].as_u64()
        ),
        (Some(2), Some(1))
    );
    // [[1, 1], [0, 1]]: P(X >= 1) with 3 generations, 1 replicated, 2 with the phrase = 2/3.
    assert!((phrase["p_value"].as_f64().expect("p") - 2.0 / 3.0).abs() < 1e-12);
}

#[test]
fn sampled_captions_link_generations_to_their_own_source_another_or_none() {
    let Some(fixtures) = common::fixtures_dir() else {
        return;
    };
    let pictures = sample_pictures(&fixtures);
    let dir = tempfile::tempdir().expect("tempdir");
    let training = dir.path().join("training");
    let names = [
        "astronaut.png",
        "brick.png",
        "camera.png",
        "chelsea.png",
        "coffee.png",
        "coins.png",
        "grass.png",
        "horse.png",
    ];
    place(&pictures, &training, &names.map(|n| (n, n)));
    // Six captioned (a metadata file), two without a caption.
    let mut metadata = String::new();
    for name in &names[..6] {
        let caption = format!("a photograph called {}", name.trim_end_matches(".png"));
        metadata.push_str(&serde_json::json!({"file_name": name, "caption": caption}).to_string());
        metadata.push('\n');
    }
    std::fs::write(training.join("metadata.jsonl"), metadata).expect("metadata");
    let training_s = training.to_string_lossy().into_owned();
    let sample = |seed: &str, out: &Path, extra: &[&str]| {
        let mut args = vec![
            "prompts",
            "sample",
            "--training",
            &training_s,
            "--n",
            "4",
            "--seed",
            seed,
            "--out",
        ];
        let out_s = out.to_string_lossy().into_owned();
        args.push(&out_s);
        args.extend(extra);
        common::run_replicant(&args)
    };
    let prompts = dir.path().join("prompts.jsonl");
    let (code, stdout, stderr) = sample("1", &prompts, &[]);
    assert_eq!(code, 0, "{stderr}");
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).expect("summary");
    assert_eq!(
        (
            summary["prompts"].as_u64(),
            summary["captioned"].as_u64(),
            summary["without_caption"].as_u64()
        ),
        (Some(4), Some(6), Some(2))
    );
    // Not replaced without --force; the same seed gives the same file, another seed another.
    let (code, _, stderr) = sample("1", &prompts, &[]);
    assert_eq!(code, 1);
    assert!(stderr.contains("--force"), "{stderr}");
    let again = dir.path().join("again.jsonl");
    assert_eq!(sample("1", &again, &[]).0, 0);
    assert_eq!(
        std::fs::read(&prompts).expect("read"),
        std::fs::read(&again).expect("read")
    );
    let other = dir.path().join("other.jsonl");
    assert_eq!(sample("2", &other, &[]).0, 0);
    assert_ne!(
        std::fs::read(&prompts).expect("read"),
        std::fs::read(&other).expect("read")
    );
    let lines = json_lines(&prompts);
    let ids: Vec<&str> = lines
        .iter()
        .map(|l| l["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, ["p000001", "p000002", "p000003", "p000004"]);
    for line in &lines {
        let training_name = line["training"].as_str().expect("training");
        let bytes = std::fs::read(training.join(training_name)).expect("source");
        assert_eq!(
            line["training_hash"],
            blake3::hash(&bytes).to_hex().as_str()
        );
        assert_eq!(
            line["prompt"],
            format!(
                "a photograph called {}",
                training_name.trim_end_matches(".png")
            )
        );
        assert!(line["seed"].is_u64());
    }

    // p000001: a copy of its own caption's image. img_b.png (given p000002 in metadata): a
    // copy of another training image. p000003: a picture the training set does not hold.
    // p000004 was not generated; stray.png is linked to nothing.
    let generations = dir.path().join("generations");
    let source = |i: usize| lines[i]["training"].as_str().expect("training").to_string();
    let not_second = names
        .iter()
        .find(|n| **n != source(1))
        .expect("another image");
    place(
        &training,
        &generations,
        &[(&source(0), "p000001.png"), (not_second, "img_b.png")],
    );
    place(
        &pictures,
        &generations,
        &[("moon.png", "p000003.png"), ("text.png", "stray.png")],
    );
    std::fs::write(
        generations.join("metadata.jsonl"),
        "{\"file_name\": \"img_b.png\", \"id\": \"p000002\"}\n",
    )
    .expect("metadata");
    let project = dir.path().join("project");
    let mut options = common::options(&generations, std::slice::from_ref(&training), &project);
    options.prompt_set = Some(prompts.clone());
    let (results, scanned) = common::scan(options);
    let split = scanned.prompt_sources.expect("a prompt set was given");
    assert_eq!(split.linked, 3);
    assert_eq!(
        (
            split.own_source.count,
            split.other_training.count,
            split.nothing.count
        ),
        (1, 1, 1)
    );
    assert_eq!(
        split.own_source.ci95,
        replicant::stats::wilson(1, 3, replicant::stats::Z95)
    );
    let linked = |name: &str| {
        results.iter().find(|r| r.generation == name).and_then(|r| {
            r.prompt_source
                .as_ref()
                .map(|s| (s.id.clone(), r.prompt.clone()))
        })
    };
    assert_eq!(
        linked("img_b.png"),
        Some((
            "p000002".to_string(),
            lines[1]["prompt"].as_str().map(String::from)
        ))
    );
    assert_eq!(linked("stray.png"), None);

    let report = report_of(&project, &[]);
    let sources = &report["prompts"]["sources"];
    assert_eq!(sources["linked"], 3);
    assert_eq!(
        [
            &sources["own_source"]["count"],
            &sources["other_training"]["count"],
            &sources["nothing"]["count"]
        ],
        [1, 1, 1]
    );
}

#[test]
fn fisher_and_benjamini_hochberg_agree_with_scipy() {
    let python = std::env::var_os("REPLICANT_SCIPY_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("python3"));
    let has_scipy = std::process::Command::new(&python)
        .args(["-c", "import scipy"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_scipy {
        assert!(
            !common::in_ci(),
            "SciPy missing and CI must run this test: .ci/run installs it (REPLICANT_SCIPY_PYTHON)"
        );
        eprintln!("SKIPPED: needs a Python with SciPy (REPLICANT_SCIPY_PYTHON)");
        return;
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(23);
    let mut tables = Vec::new();
    for i in 0..300 {
        // Small tables, then the sizes of a 9,000-prompt audit, then a million generations.
        let scale: usize = match i % 3 {
            0 => 12,
            1 => 9_000,
            _ => 1_000_000,
        };
        let with = rng.gen_range(1..=(scale / 4).max(2));
        let replicated = rng.gen_range(0..=(scale / 20).max(3));
        let a = rng.gen_range(0..=with.min(replicated));
        let (b, c) = (with - a, replicated - a);
        let d = scale.saturating_sub(a + b + c);
        tables.push([a, b, c, d]);
    }
    let fisher: Vec<f64> = tables
        .iter()
        .map(|&[a, b, c, d]| replicant::stats::fisher_exact_greater(a, b, c, d))
        .collect();
    let p_lists: Vec<Vec<f64>> = (0..50)
        .map(|_| {
            let n = rng.gen_range(1..200);
            (0..n)
                .map(|_| {
                    // Ties and tiny values, as phrases give them.
                    if rng.gen_bool(0.2) {
                        0.05
                    } else {
                        rng.r#gen::<f64>().powi(4)
                    }
                })
                .collect()
        })
        .collect();
    let bh: Vec<Vec<f64>> = p_lists
        .iter()
        .map(|p| replicant::stats::benjamini_hochberg(p))
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("stats.json");
    std::fs::write(
        &data,
        serde_json::json!({"tables": tables, "fisher": fisher, "p_lists": p_lists, "bh": bh})
            .to_string(),
    )
    .expect("write");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/prompt_stats.py");
    let out = std::process::Command::new(&python)
        .arg(&script)
        .arg(&data)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
