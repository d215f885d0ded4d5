//! Paths that gave a wrong answer with exit 0, each reproduced through the real binary with
//! the real model, named after what broke (issue 19: numbers an auditor can defend).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use replicant::demo::{DemoSpec, make_demo};

fn run(command: &mut Command) -> (i32, String, String) {
    let out = command.output().expect("run replicant");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn replicant(args: &[&str]) -> Command {
    let mut command = Command::new(common::replicant_bin());
    command.args(args);
    command
}

fn p(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary path")
}

fn demo(root: &Path, training: usize, generations: usize, seed: u64) -> (PathBuf, PathBuf) {
    let set = make_demo(
        root,
        &DemoSpec {
            training,
            generations,
            seed,
        },
    )
    .expect("demo");
    (set.generations, set.training)
}

/// `scan` of the demo into `project`, regions off; returns the JSON Lines.
fn scan(generations: &Path, training: &Path, project: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "scan",
        "--generations",
        p(generations),
        "--training",
        p(training),
        "--project",
        p(project),
        "--regions",
        "off",
    ];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = run(&mut replicant(&args));
    assert_eq!(code, 0, "scan: {stderr}");
    stdout
}

/// `label` of the pair (`generation`, `training`) in `project` as `reviewer`, which must
/// succeed; `extra` adds `--note TEXT` or `--adjudicate`.
fn label_as(
    project: &Path,
    (generation, training): (&str, &str),
    label: &str,
    reviewer: &str,
    extra: &[&str],
) {
    let mut args = vec![
        "label",
        "--project",
        p(project),
        "--generation",
        generation,
        "--training",
        training,
        "--label",
        label,
        "--reviewer",
        reviewer,
    ];
    args.extend_from_slice(extra);
    let (code, _, stderr) = run(&mut replicant(&args));
    assert_eq!(code, 0, "label: {stderr}");
}

/// The first generation of a scan's JSON Lines and its top match's training image.
fn first_pair(jsonl: &str) -> (String, String) {
    let first: serde_json::Value =
        serde_json::from_str(jsonl.lines().next().expect("a line")).expect("json");
    (
        first["generation"]
            .as_str()
            .expect("generation")
            .to_string(),
        first["matches"][0]["training"]
            .as_str()
            .expect("training")
            .to_string(),
    )
}

fn embed(training: &[&Path], out: &Path, shard: &str, model: &str) -> (i32, String, String) {
    let mut args = vec!["embed", "--out", p(out), "--shard", shard, "--model", model];
    for t in training {
        args.extend(["--training", p(t)]);
    }
    run(&mut replicant(&args))
}

/// The demo's image files (not its metadata), sorted.
fn demo_images(folder: &Path) -> Vec<PathBuf> {
    common::image_files(folder)
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "png" || e == "jpg"))
        .collect()
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("read json")).expect("parse json")
}

/// A row of a worker's part overwritten with another row's bytes (same size) built an index
/// that lost an exact copy, and a re-run worker called the part complete by its size.
#[test]
fn a_part_row_overwritten_is_refused_by_the_build_and_redone_by_its_worker() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, training) = demo(dir.path(), 6, 1, 41);
    let parts = dir.path().join("parts");
    let (code, _, stderr) = embed(&[&training], &parts, "0/1", "sscd-distilled");
    assert_eq!(code, 0, "{stderr}");
    let manifest = read_json(&parts.join("part-0-of-1.json"));
    let rows = manifest["rows"].as_u64().expect("rows") as usize;
    let dims = manifest["dims"].as_u64().expect("dims") as usize;
    assert_eq!(rows, 6);
    let npy = parts.join("part-0-of-1.npy");
    let mut bytes = std::fs::read(&npy).expect("npy");
    let row = dims * 2;
    let data = bytes.len() - rows * row;
    let second = bytes[data + row..data + 2 * row].to_vec();
    bytes[data..data + row].copy_from_slice(&second);
    std::fs::write(&npy, &bytes).expect("damage");

    let index = dir.path().join("index");
    let (code, _, stderr) = run(&mut replicant(&[
        "index",
        "build",
        "--embeddings",
        p(&parts),
        "--out",
        p(&index),
    ]));
    assert_ne!(code, 0, "a damaged part was merged: {stderr}");
    assert!(stderr.contains("part-0-of-1.npy"), "{stderr}");
    assert!(stderr.contains("--shard 0/1"), "the remedy: {stderr}");
    assert!(!index.exists(), "no index is left behind");

    let (code, stdout, stderr) = embed(&[&training], &parts, "0/1", "sscd-distilled");
    assert_eq!(code, 0, "{stderr}");
    assert!(
        !stderr.contains("already complete"),
        "the damaged part was taken as complete: {stderr}"
    );
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).expect("summary");
    assert_eq!(summary["reused"], false);
    assert!(
        summary["redone_because"]
            .as_str()
            .is_some_and(|why| why.contains("does not match its manifest")),
        "{summary}"
    );
    let (code, _, stderr) = run(&mut replicant(&[
        "index",
        "build",
        "--embeddings",
        p(&parts),
        "--out",
        p(&index),
    ]));
    assert_eq!(code, 0, "{stderr}");
    // A third run finds the part intact and keeps it.
    let (code, stdout, stderr) = embed(&[&training], &parts, "0/1", "sscd-distilled");
    assert_eq!(code, 0, "{stderr}");
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).expect("summary");
    assert_eq!(summary["reused"], true, "{stderr}");
}

/// An index manifest edited to claim another model was trusted: `verify` said intact and a
/// scan matched sscd-distilled vectors as SSCD ones.
#[test]
fn an_index_manifest_that_claims_another_model_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (generations, training) = demo(dir.path(), 5, 2, 43);
    let parts = dir.path().join("parts");
    let (code, _, stderr) = embed(&[&training], &parts, "0/1", "sscd-distilled");
    assert_eq!(code, 0, "{stderr}");
    let index = dir.path().join("index");
    let (code, _, stderr) = run(&mut replicant(&[
        "index",
        "build",
        "--embeddings",
        p(&parts),
        "--out",
        p(&index),
    ]));
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = run(&mut replicant(&["index", "verify", p(&index)]));
    assert_eq!(code, 0, "{stderr}");

    // Full SSCD's model key, from a part embedded with it.
    let sscd_parts = dir.path().join("sscd-parts");
    let one = dir.path().join("one");
    std::fs::create_dir_all(&one).expect("mkdir");
    let first = demo_images(&training)[0].clone();
    std::fs::copy(&first, one.join(first.file_name().expect("name"))).expect("copy");
    let (code, _, stderr) = embed(&[&one], &sscd_parts, "0/1", "sscd");
    assert_eq!(code, 0, "{stderr}");
    let sscd_key = read_json(&sscd_parts.join("part-0-of-1.json"))["model_key"]
        .as_str()
        .expect("key")
        .to_string();

    // Edited by hand: the checksum of the manifest's own content no longer matches.
    let manifest_path = index.join("manifest.json");
    let original = std::fs::read_to_string(&manifest_path).expect("manifest");
    let distilled_key = read_json(&manifest_path)["model_key"]
        .as_str()
        .expect("key")
        .to_string();
    std::fs::write(&manifest_path, original.replace(&distilled_key, &sscd_key)).expect("edit");
    let (code, _, stderr) = run(&mut replicant(&["index", "verify", p(&index)]));
    assert_ne!(code, 0, "an edited manifest was called intact: {stderr}");
    assert!(stderr.contains("own checksum"), "{stderr}");
    let project = dir.path().join("project");
    let scan_args = [
        "scan",
        "--generations",
        p(&generations),
        "--training-index",
        p(&index),
        "--project",
        p(&project),
        "--shortlist",
        "off",
        "--regions",
        "off",
    ];
    let (code, _, stderr) = run(&mut replicant(&scan_args));
    assert_ne!(code, 0, "a scan trusted an edited manifest: {stderr}");

    // Sealed again with the library (as someone covering their tracks would): the vectors
    // still carry the model that made them.
    let mut manifest: replicant::index::prebuilt::Manifest =
        serde_json::from_str(&original).expect("manifest");
    manifest.model_key = sscd_key.into();
    let sealed = manifest.sealed();
    std::fs::write(
        &manifest_path,
        serde_json::to_vec_pretty(&sealed).expect("json"),
    )
    .expect("write");
    let (code, _, stderr) = run(&mut replicant(&scan_args));
    assert_ne!(
        code, 0,
        "distilled vectors were matched as SSCD ones: {stderr}"
    );
    assert!(stderr.contains("probe image"), "{stderr}");
}

/// A 0-byte `.tar` and a gzip file named `.tar` vanished from a worker's account and from
/// the index, while the plain scan named both.
#[test]
fn workers_and_the_index_account_for_empty_and_compressed_shards() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, images) = demo(dir.path(), 4, 1, 47);
    let shards = dir.path().join("shards");
    common::pack_shards(&demo_images(&images)[..2], &shards, 2, 0);
    std::fs::write(shards.join("empty.tar"), b"").expect("empty");
    let plain = std::fs::read(shards.join("00000.tar")).expect("shard");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&plain).expect("gzip");
    std::fs::write(shards.join("gz.tar"), gz.finish().expect("gzip")).expect("gz");

    let parts = dir.path().join("parts");
    let mut named = Vec::new();
    for shard in ["0/2", "1/2"] {
        let (code, stdout, stderr) = embed(&[&shards], &parts, shard, "sscd-distilled");
        assert_eq!(code, 0, "{stderr}");
        let summary: serde_json::Value = serde_json::from_str(stdout.trim()).expect("summary");
        for cut in summary["truncated_shards"].as_array().expect("list") {
            named.push(cut["shard"].as_str().expect("name").to_string());
        }
    }
    named.sort();
    assert_eq!(named, ["empty.tar", "gz.tar"], "each worker names its own");

    let index = dir.path().join("index");
    let (code, _, stderr) = run(&mut replicant(&[
        "index",
        "build",
        "--embeddings",
        p(&parts),
        "--out",
        p(&index),
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("empty.tar"), "{stderr}");
    assert!(stderr.contains("gzip-compressed"), "{stderr}");
    assert!(
        !stderr.chars().any(|c| c.is_control() && c != '\n'),
        "raw bytes in the message: {stderr:?}"
    );
    let manifest = read_json(&index.join("manifest.json"));
    let mut kept: Vec<&str> = manifest["truncated_shards"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|c| c["shard"].as_str())
        .collect();
    kept.sort_unstable();
    assert_eq!(kept, ["empty.tar", "gz.tar"]);
    assert_eq!(manifest["rows"], 2, "{manifest}");
}

/// Two members named `dup.png` in one shard became one training image, and `label` silently
/// picked the first.
#[test]
fn repeated_member_names_stay_two_training_images_that_can_be_labelled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, images) = demo(dir.path(), 4, 1, 53);
    let files = demo_images(&images);
    let training = dir.path().join("shard-training");
    std::fs::create_dir_all(&training).expect("mkdir");
    let shard = training.join("s.tar");
    {
        let mut builder = tar::Builder::new(std::fs::File::create(&shard).expect("tar"));
        for (name, file) in [
            ("dup.png", &files[0]),
            ("dup.png", &files[1]),
            ("x.png", &files[2]),
        ] {
            let bytes = std::fs::read(file).expect("image");
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(&mut header, name, bytes.as_slice())
                .expect("append");
        }
        builder.finish().expect("finish");
    }
    // The generation is an exact copy of the second `dup.png`.
    let generations = dir.path().join("copies");
    std::fs::create_dir_all(&generations).expect("mkdir");
    std::fs::copy(&files[1], generations.join("g.png")).expect("copy");
    let project = dir.path().join("project");
    let args = [
        "scan",
        "--generations",
        p(&generations),
        "--training",
        p(&training),
        "--project",
        p(&project),
        "--regions",
        "off",
    ];
    let (code, stdout, stderr) = run(&mut replicant(&args));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("s.tar/dup.png") && stderr.contains("dup.png#2"),
        "the summary names the repeat: {stderr}"
    );
    let result: serde_json::Value =
        serde_json::from_str(stdout.lines().next().expect("a line")).expect("json");
    let names: Vec<&str> = result["matches"]
        .as_array()
        .expect("matches")
        .iter()
        .filter_map(|m| m["training"].as_str())
        .collect();
    assert_eq!(names[0], "s.tar/dup.png#2", "{names:?}");
    assert!(names.contains(&"s.tar/dup.png"), "{names:?}");

    let (code, _, stderr) = run(&mut replicant(&[
        "label",
        "--project",
        p(&project),
        "--generation",
        "g.png",
        "--training",
        "s.tar/dup.png#2",
        "--label",
        "full_copy",
        "--reviewer",
        "ann",
    ]));
    assert_eq!(code, 0, "{stderr}");
    let out = dir.path().join("labels.jsonl");
    let (code, _, stderr) = run(&mut replicant(&[
        "export",
        "--project",
        p(&project),
        "--out",
        p(&out),
    ]));
    assert_eq!(code, 0, "{stderr}");
    let row: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&out)
            .expect("export")
            .lines()
            .next()
            .expect("a row"),
    )
    .expect("json");
    let second = blake3::hash(&std::fs::read(&files[1]).expect("image"))
        .to_hex()
        .to_string();
    assert_eq!(
        row["training_hash"],
        second.as_str(),
        "the label is on the second member"
    );
}

/// Bob full copy, Carol distinct, an adjudication of full copy, then Bob clears: the export
/// lost the pair, Carol's label and the adjudication. And one reviewer's note replaced
/// another's.
#[test]
fn one_reviewers_clear_leaves_the_others_labels_and_notes_in_the_export() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (generations, training) = demo(dir.path(), 6, 2, 59);
    let project = dir.path().join("project");
    let (g, t) = first_pair(&scan(&generations, &training, &project, &[]));
    let pair = (g.as_str(), t.as_str());
    label_as(
        &project,
        pair,
        "full_copy",
        "bob",
        &["--note", "bob's reason"],
    );
    label_as(
        &project,
        pair,
        "distinct",
        "carol",
        &["--note", "carol's reason"],
    );
    label_as(&project, pair, "full_copy", "dan", &["--adjudicate"]);
    label_as(&project, pair, "clear", "bob", &[]);
    let out = dir.path().join("review.jsonl");
    let (code, _, stderr) = run(&mut replicant(&[
        "export",
        "--project",
        p(&project),
        "--out",
        p(&out),
    ]));
    assert_eq!(code, 0, "{stderr}");
    let text = std::fs::read_to_string(&out).expect("export");
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("row"))
        .collect();
    assert_eq!(rows.len(), 1, "{text}");
    let row = &rows[0];
    assert_eq!(row["final_label"], "full_copy", "the adjudication: {row}");
    assert_eq!(row["reviewers"], serde_json::json!({"carol": "distinct"}));
    assert_eq!(row["notes"]["bob"], "bob's reason", "{row}");
    assert_eq!(row["notes"]["carol"], "carol's reason", "{row}");
}

/// `--project` adopted any folder and overwrote the user's own `project.json` and
/// `last_scan.json`.
#[test]
fn a_folder_of_the_users_own_files_is_not_adopted_as_a_project() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (generations, training) = demo(dir.path(), 3, 1, 61);
    let mine = dir.path().join("mine");
    std::fs::create_dir_all(&mine).expect("mkdir");
    std::fs::write(mine.join("project.json"), b"my own project plan").expect("write");
    std::fs::write(mine.join("last_scan.json"), b"my own notes").expect("write");
    let (code, _, stderr) = run(&mut replicant(&[
        "scan",
        "--generations",
        p(&generations),
        "--training",
        p(&training),
        "--project",
        p(&mine),
    ]));
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains("not a Replicant project"), "{stderr}");
    assert_eq!(
        std::fs::read(mine.join("project.json")).expect("read"),
        b"my own project plan"
    );
    assert_eq!(
        std::fs::read(mine.join("last_scan.json")).expect("read"),
        b"my own notes"
    );
    let entries = std::fs::read_dir(&mine).expect("list").count();
    assert_eq!(entries, 2, "nothing was added either");
}

/// Two scans into one project both exited 0, and the project could describe one while its
/// results held the other's.
#[test]
fn a_second_scan_into_a_held_project_is_refused_and_names_the_holder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (generations, training) = demo(dir.path(), 3, 1, 67);
    let project = dir.path().join("project");
    let held = replicant::project::Project::lock_for_scan(&project).expect("lock");
    let (code, _, stderr) = run(&mut replicant(&[
        "scan",
        "--generations",
        p(&generations),
        "--training",
        p(&training),
        "--project",
        p(&project),
        "--regions",
        "off",
    ]));
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains("another scan is writing"), "{stderr}");
    assert!(
        stderr.contains(&format!("process {}", std::process::id())),
        "the holder is named: {stderr}"
    );
    assert!(!project.join("last_scan.json").exists());
    drop(held);
    scan(&generations, &training, &project, &[]);
    assert!(project.join("last_scan.json").exists());
}

/// Small things that misled: a blank reviewer, an output extension that is not written, an
/// export of a project nobody labelled, every error printed twice with colour codes.
#[test]
fn small_things_that_misled_are_refused_or_said_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (generations, training) = demo(dir.path(), 4, 2, 71);
    let project = dir.path().join("project");

    // An `--out` extension that is not written (once `.parquet` wrote JSON Lines under that
    // name; Parquet is written now) is refused before scanning.
    let spreadsheet = dir.path().join("results.xlsx");
    let (code, _, stderr) = run(&mut replicant(&[
        "scan",
        "--generations",
        p(&generations),
        "--training",
        p(&training),
        "--project",
        p(&project),
        "--out",
        p(&spreadsheet),
    ]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(".xlsx") && stderr.contains(".parquet"),
        "{stderr}"
    );
    assert!(
        !spreadsheet.exists() && !project.exists(),
        "nothing was scanned"
    );

    let jsonl = scan(&generations, &training, &project, &[]);
    let first: serde_json::Value =
        serde_json::from_str(jsonl.lines().next().expect("line")).expect("json");

    // Export before any label: said so, not "Invalid path".
    let out = dir.path().join("labels.csv");
    let (code, _, stderr) = run(&mut replicant(&[
        "export",
        "--project",
        p(&project),
        "--out",
        p(&out),
    ]));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("no labelled pairs yet"), "{stderr}");
    assert!(!out.exists());

    // A blank reviewer name made a reviewer of its own.
    let (code, _, stderr) = run(&mut replicant(&[
        "label",
        "--project",
        p(&project),
        "--generation",
        first["generation"].as_str().expect("g"),
        "--training",
        first["matches"][0]["training"].as_str().expect("t"),
        "--label",
        "distinct",
        "--reviewer",
        " ",
    ]));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("reviewer name is needed"), "{stderr}");
    assert!(
        !project.join("review.sqlite").exists() || {
            let store =
                replicant::review::ReviewStore::open_read_only(&project.join("review.sqlite"))
                    .expect("store");
            store.all().expect("labels").is_empty()
        }
    );

    // An error: once, and without colour codes when stderr is not a terminal.
    let (code, _, stderr) = run(&mut replicant(&[
        "scan",
        "--generations",
        p(&dir.path().join("no such folder")),
        "--training",
        p(&training),
        "--project",
        p(&dir.path().join("other")),
    ]));
    assert_eq!(code, 1, "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "colour codes: {stderr:?}");
    assert_eq!(
        stderr.matches("no such folder").count(),
        1,
        "printed once: {stderr}"
    );
}

/// `scan --threshold 0.95` printed one rate and `report` on the same project another (at
/// 0.5); the settings a rate depends on were written nowhere.
#[test]
fn settings_are_recorded_beside_every_number_and_the_report_uses_the_scans_threshold() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (generations, training) = demo(dir.path(), 8, 4, 73);
    let project = dir.path().join("project");
    let results = dir.path().join("results.jsonl");
    let (code, _, stderr) = run(&mut replicant(&[
        "scan",
        "--generations",
        p(&generations),
        "--training",
        p(&training),
        "--project",
        p(&project),
        "--threshold",
        "0.95",
        "--out",
        p(&results),
    ]));
    assert_eq!(code, 0, "{stderr}");
    let sidecar = read_json(&dir.path().join("results.jsonl.settings.json"));
    let settings = &sidecar["settings"];
    assert_eq!(settings["threshold"], 0.95);
    assert_eq!(settings["regions_asked"], "auto");
    assert!(
        settings["regions_reason"]
            .as_str()
            .is_some_and(|why| why.contains("auto")),
        "{sidecar}"
    );
    // Fine windows kept for composites only (`fine_budget`) are a decision only auto makes, so
    // the flag that gives it again is auto itself.
    let decided = if settings["fine_budget"].is_u64() {
        "auto"
    } else if settings["coarse_windows"] == true {
        if settings["fine_windows"] == true {
            "on"
        } else {
            "coarse"
        }
    } else {
        "off"
    };
    let reproduce = sidecar["reproduce"].as_str().expect("reproduce");
    assert!(
        reproduce.contains(&format!("--regions {decided}")),
        "{reproduce}"
    );
    assert!(reproduce.contains("--threshold 0.95"), "{reproduce}");
    assert_eq!(settings["loading"], "composite-on-white");

    let report = dir.path().join("report.json");
    let (code, _, stderr) = run(&mut replicant(&[
        "report",
        "--project",
        p(&project),
        "--out",
        p(&report),
    ]));
    assert_eq!(code, 0, "{stderr}");
    let report = read_json(&report);
    assert_eq!(report["threshold"], 0.95, "the scan's threshold");
    assert_eq!(report["threshold_source"], "the scan's");
    assert_eq!(report["provenance"]["settings"]["threshold"], 0.95);

    // The decision reproduced with the one flag gives the same results.
    let again = dir.path().join("again.jsonl");
    let mut args: Vec<String> = vec![
        "scan".into(),
        "--generations".into(),
        p(&generations).into(),
        "--training".into(),
        p(&training).into(),
        "--project".into(),
        p(&dir.path().join("again-project")).into(),
        "--out".into(),
        p(&again).into(),
    ];
    args.extend(reproduce.split_whitespace().skip(2).map(str::to_string));
    let (code, _, stderr) = run(Command::new(common::replicant_bin()).args(&args));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        std::fs::read(&results).expect("first"),
        std::fs::read(&again).expect("again"),
        "the recorded settings give the same results"
    );
}

/// The paper's protocol as a preset: no regions, no re-rank, no cascade, threshold 0.5, and
/// transparency dropped as PIL's `convert('RGB')` drops it.
#[test]
fn the_somepalli_preset_is_recorded_and_loads_transparency_as_pil_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Two flat transparent images whose hidden colours differ: composited on white they are
    // one white image; with alpha dropped they are red and blue.
    let generations = dir.path().join("generations");
    let training = dir.path().join("training");
    for (folder, name, colour) in [
        (&generations, "red.png", [200u8, 20, 20, 0]),
        (&training, "blue.png", [20u8, 20, 200, 0]),
    ] {
        std::fs::create_dir_all(folder).expect("mkdir");
        image::RgbaImage::from_pixel(64, 64, image::Rgba(colour))
            .save(folder.join(name))
            .expect("png");
    }
    let similarity = |extra: &[&str], project: &str| -> (f64, serde_json::Value) {
        let out = dir.path().join(format!("{project}.jsonl"));
        let mut args = vec![
            "scan",
            "--generations",
            p(&generations),
            "--training",
            p(&training),
            "--project",
        ];
        let project_dir = dir.path().join(project);
        args.push(p(&project_dir));
        args.extend(["--out", p(&out)]);
        args.extend_from_slice(extra);
        let (code, stdout, stderr) = run(&mut replicant(&args));
        assert_eq!(code, 0, "{stdout}{stderr}");
        let line: serde_json::Value = serde_json::from_str(
            std::fs::read_to_string(&out)
                .expect("results")
                .lines()
                .next()
                .expect("line"),
        )
        .expect("json");
        let sidecar = read_json(&dir.path().join(format!("{project}.jsonl.settings.json")));
        (
            line["matches"][0]["similarity"]
                .as_f64()
                .expect("similarity"),
            sidecar,
        )
    };
    let (composited, _) = similarity(&["--regions", "off"], "default");
    let (dropped, sidecar) = similarity(&["--preset", "somepalli-2022"], "paper");
    assert!(composited > 0.95, "white on white: {composited}");
    assert!(dropped < composited - 0.1, "red against blue: {dropped}");
    let settings = &sidecar["settings"];
    assert_eq!(settings["preset"], "somepalli-2022");
    assert_eq!(settings["loading"], "drop-alpha");
    assert_eq!(settings["coarse_windows"], false);
    assert_eq!(settings["layout_rerank"], false);
    assert_eq!(settings["threshold"], 0.5);
    assert!(settings["shortlist_size"].is_null());

    // The preset is the method: its parts cannot be changed beside it.
    let (code, _, stderr) = run(&mut replicant(&[
        "scan",
        "--generations",
        p(&generations),
        "--training",
        p(&training),
        "--preset",
        "somepalli-2022",
        "--regions",
        "on",
    ]));
    assert_eq!(code, 2, "{stderr}");
}

/// `export --all` and `--top N` send the scan's pairs out to be labelled elsewhere; outputs
/// follow the umask (they were 0600, unreadable by a colleague).
#[cfg(unix)]
#[test]
fn the_review_set_can_be_sent_out_whole_and_outputs_follow_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let (generations, training) = demo(dir.path(), 6, 3, 79);
    let project = dir.path().join("project");
    let jsonl = scan(&generations, &training, &project, &["--top-k", "2"]);
    let pairs: usize = jsonl
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json")["matches"]
                .as_array()
                .expect("matches")
                .len()
        })
        .sum();
    let all = dir.path().join("all.csv");
    let shell = format!(
        "umask 022 && exec '{}' export --project '{}' --out '{}' --all",
        common::replicant_bin().display(),
        project.display(),
        all.display()
    );
    let (code, _, stderr) = run(Command::new("sh").args(["-c", &shell]));
    assert_eq!(code, 0, "{stderr}");
    let rows = csv::Reader::from_path(&all).expect("csv").records().count();
    assert_eq!(rows, pairs, "every pair of the scan");
    let mode = std::fs::metadata(&all).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o644, "mode {mode:o} under umask 022");

    let top = dir.path().join("top.jsonl");
    let (code, _, stderr) = run(&mut replicant(&[
        "export",
        "--project",
        p(&project),
        "--out",
        p(&top),
        "--top",
        "2",
    ]));
    assert_eq!(code, 0, "{stderr}");
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(&top)
        .expect("top")
        .lines()
        .map(|l| serde_json::from_str(l).expect("row"))
        .collect();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r["label"] == ""));
    let mut all_similarities: Vec<f64> = jsonl
        .lines()
        .flat_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            v["matches"]
                .as_array()
                .expect("matches")
                .iter()
                .map(|m| m["similarity"].as_f64().expect("s"))
                .collect::<Vec<_>>()
        })
        .collect();
    all_similarities.sort_by(|a, b| b.total_cmp(a));
    let got: Vec<f64> = rows
        .iter()
        .map(|r| r["similarity"].as_f64().expect("s"))
        .collect();
    assert_eq!(got, all_similarities[..2], "the two most similar pairs");
}

/// Re-scanning a project with other folders mixed the older scan's labels into the report's
/// counts.
#[test]
fn labels_of_an_earlier_scans_pairs_are_left_out_and_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (generations, training) = demo(&dir.path().join("a"), 5, 2, 83);
    let (other_generations, _) = demo(&dir.path().join("b"), 5, 2, 89);
    let project = dir.path().join("project");
    let (g, t) = first_pair(&scan(&generations, &training, &project, &[]));
    for who in ["ann", "ben"] {
        label_as(&project, (&g, &t), "near_copy", who, &[]);
    }
    let report = |name: &str| {
        let out = dir.path().join(name);
        let (code, _, stderr) = run(&mut replicant(&[
            "report",
            "--project",
            p(&project),
            "--out",
            p(&out),
        ]));
        assert_eq!(code, 0, "{stderr}");
        (read_json(&out)["labels"].clone(), stderr)
    };
    let (labels, stderr) = report("before.json");
    assert_eq!(labels["labelled_pairs"], 1);
    assert_eq!(labels["labels"], 2);
    assert!(
        stderr.contains("1 labelled pairs (2 labels by 2 reviewers)"),
        "{stderr}"
    );

    scan(&other_generations, &training, &project, &[]);
    let (labels, stderr) = report("after.json");
    assert_eq!(labels["labelled_pairs"], 0, "{labels}");
    assert_eq!(labels["left_out_pairs"], 1);
    assert_eq!(labels["left_out_labels"], 2);
    assert!(stderr.contains("left out 1 labelled pairs"), "{stderr}");
}

/// A review could not travel: two reviewers on two machines could not end with one project.
/// Here each labels their own copy of the project (the folders copied elsewhere, as on another
/// machine); Bob's export is merged into Ann's, and the project's agreement, disputes and
/// adjudication are the ones a shared store gives.
#[test]
fn two_reviewers_on_two_machines_merge_into_one_project_as_if_they_shared_a_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (generations, training) = demo(&dir.path().join("ann-machine"), 6, 3, 97);
    // Bob's machine: the same files under other paths.
    let bob_root = dir.path().join("bob-machine");
    for (from, to) in [(&generations, "generations"), (&training, "training")] {
        let to = bob_root.join(to);
        std::fs::create_dir_all(&to).expect("mkdir");
        for file in common::image_files(from) {
            std::fs::copy(&file, to.join(file.file_name().expect("name"))).expect("copy");
        }
    }
    let projects = ["ann", "bob", "shared"].map(|name| dir.path().join(format!("{name}-project")));
    let jsonl = scan(&generations, &training, &projects[0], &[]);
    scan(
        &bob_root.join("generations"),
        &bob_root.join("training"),
        &projects[1],
        &[],
    );
    scan(&generations, &training, &projects[2], &[]);
    let pairs: Vec<(String, String)> = jsonl
        .lines()
        .take(3)
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            (
                v["generation"].as_str().expect("g").to_string(),
                v["matches"][0]["training"].as_str().expect("t").to_string(),
            )
        })
        .collect();
    let label =
        |project: &Path, (g, t): &(String, String), label: &str, who: &str, extra: &[&str]| {
            label_as(project, (g, t), label, who, extra);
        };
    // The same review, on two machines and in one shared store.
    for (ann, bob) in [(&projects[0], &projects[1]), (&projects[2], &projects[2])] {
        label(
            ann,
            &pairs[0],
            "full_copy",
            "ann",
            &["--note", "the whole image"],
        );
        label(ann, &pairs[1], "near_copy", "ann", &[]);
        label(bob, &pairs[0], "full_copy", "bob", &[]);
        label(
            bob,
            &pairs[1],
            "distinct",
            "bob",
            &["--note", "only the style"],
        );
        label(bob, &pairs[2], "distinct", "bob", &[]);
        label(bob, &pairs[1], "near_copy", "carol", &["--adjudicate"]);
    }
    for format in ["csv", "jsonl"] {
        let out = dir.path().join(format!("bob.{format}"));
        let (code, _, stderr) = run(&mut replicant(&[
            "export",
            "--project",
            p(&projects[1]),
            "--out",
            p(&out),
        ]));
        assert_eq!(code, 0, "{stderr}");
        let (code, _, stderr) = run(&mut replicant(&[
            "label",
            "import",
            "--project",
            p(&projects[0]),
            p(&out),
        ]));
        assert_eq!(code, 0, "{stderr}");
        if format == "csv" {
            assert!(
                stderr.contains("added 3 labels and 1 notes (by bob) and 1 adjudications"),
                "{stderr}"
            );
        } else {
            // The same review again: nothing new, idempotent.
            assert!(
                stderr.contains("added 0 labels and 0 notes and 0 adjudications; 5 already here"),
                "{stderr}"
            );
        }
    }
    let labels = |project: &Path, name: &str| {
        let out = dir.path().join(format!("{name}.json"));
        let (code, _, stderr) = run(&mut replicant(&[
            "report",
            "--project",
            p(project),
            "--out",
            p(&out),
        ]));
        assert_eq!(code, 0, "{stderr}");
        let mut labels = read_json(&out)["labels"].clone();
        // When each label was given differs between the stores; what they say does not.
        for list in ["pairs", "final_pairs"] {
            for pair in labels[list].as_array_mut().expect("list") {
                pair["labelled_at"] = serde_json::Value::Null;
            }
        }
        labels
    };
    let merged = labels(&projects[0], "merged");
    let shared = labels(&projects[2], "shared");
    assert_eq!(merged, shared, "the merged project reads as the shared one");
    assert_eq!(merged["reviewers"], serde_json::json!(["ann", "bob"]));
    assert_eq!(merged["double_reviewed"], 2);
    assert_eq!(merged["adjudicated"], 1);

    // A file of another project's pairs matches nothing here, and says so.
    let (other_generations, other_training) = demo(&dir.path().join("other"), 4, 2, 101);
    let other = dir.path().join("other-project");
    scan(&other_generations, &other_training, &other, &[]);
    let (code, _, stderr) = run(&mut replicant(&[
        "label",
        "import",
        "--project",
        p(&other),
        p(&dir.path().join("bob.csv")),
    ]));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("match no pair"), "{stderr}");
}

/// Scan and embed printed nothing between their start and end when stderr was a log file,
/// so a Slurm or Ray job showed no life.
#[test]
fn progress_reaches_a_log_at_a_steady_interval() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (generations, training) = demo(dir.path(), 12, 6, 103);
    let project = dir.path().join("project");
    let mut command = replicant(&[
        "scan",
        "--generations",
        p(&generations),
        "--training",
        p(&training),
        "--project",
        p(&project),
        "--regions",
        "off",
        "--batch",
        "2",
    ]);
    command.env("REPLICANT_PROGRESS_SECS", "0");
    let (code, _, stderr) = run(&mut command);
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("replicant: embedded "))
        .collect();
    assert!(lines.len() >= 3, "one line per interval: {stderr}");
    let done: Vec<usize> = lines
        .iter()
        .filter_map(|l| {
            l.trim_start_matches("replicant: embedded ")
                .split('/')
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert!(done.windows(2).all(|w| w[0] <= w[1]), "{lines:?}");
    assert!(lines.iter().all(|l| l.contains("images/s")), "{lines:?}");
    assert!(
        lines[..lines.len() - 1].iter().any(|l| l.contains("ETA")),
        "{lines:?}"
    );
    assert!(
        lines
            .last()
            .is_some_and(|l| l.contains("18/18") && l.contains("done")),
        "{lines:?}"
    );
}

/// The report's counts did not say what they counted, its plots had no axes, the copy rate
/// did not say which bands it rests on, and a disputed pair showed as "unlabelled".
#[test]
fn the_report_says_what_it_counts_and_shows_a_disputed_pair() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (generations, training) = demo(dir.path(), 8, 4, 107);
    let project = dir.path().join("project");
    let (g, t) = first_pair(&scan(&generations, &training, &project, &[]));
    for (who, label) in [("ann", "full_copy"), ("bob", "distinct")] {
        label_as(&project, (&g, &t), label, who, &[]);
    }
    let out = dir.path().join("report.html");
    let (code, _, stderr) = run(&mut replicant(&[
        "report",
        "--project",
        p(&project),
        "--out",
        p(&out),
    ]));
    assert_eq!(code, 0, "{stderr}");
    let html = std::fs::read_to_string(&out).expect("html");
    for text in [
        "Labelled pairs: 1 (2 labels)",
        "Reviewers (2): ann, bob",
        "highest SSCD similarity (cosine)",
        "share of images",
        "generation vs training (4 generations)",
        "<span class=\"chip disputed\">disputed</span> ann: <span class=\"chip full_copy\">",
        "the threshold: the scan's",
        "replicant scan --model sscd",
    ] {
        assert!(html.contains(text), "{text:?} is not in the report");
    }
    let covered = html
        .split("It covers the similarity bands ")
        .nth(1)
        .or_else(|| html.split("No band has a labelled pair yet").nth(1));
    assert!(
        covered.is_some(),
        "the copy rate says which bands it covers"
    );
}
