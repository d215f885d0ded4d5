//! Regressions found by an adversarial run and a line-by-line read, each named after what
//! broke, each through the real binary with the real model: nothing a user wrote is
//! overwritten, nothing goes missing or is hidden, labels stay with their pairs whatever the
//! folders, and hostile or damaged input gets a clear message.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use replicant::demo::{DemoSpec, make_demo};

fn replicant() -> Command {
    Command::new(common::replicant_bin())
}

fn run(command: &mut Command) -> (i32, String, String) {
    let out = command.output().expect("run replicant");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn demo(root: &Path, training: usize, generations: usize) -> (PathBuf, PathBuf) {
    let set = make_demo(
        root,
        &DemoSpec {
            training,
            generations,
            seed: 29,
        },
    )
    .expect("demo");
    (set.generations, set.training)
}

fn scan_args(generations: &Path, training: &[&Path], project: &Path) -> Command {
    let mut command = replicant();
    command
        .arg("scan")
        .arg("--generations")
        .arg(generations)
        .arg("--project")
        .arg(project)
        .args(["--regions", "off"]);
    for t in training {
        command.arg("--training").arg(t);
    }
    command
}

fn first_pair(jsonl: &str) -> (String, String) {
    let value: serde_json::Value =
        serde_json::from_str(jsonl.lines().next().expect("a line")).expect("json");
    (
        value["generation"]
            .as_str()
            .expect("generation")
            .to_string(),
        value["matches"][0]["training"]
            .as_str()
            .expect("training")
            .to_string(),
    )
}

#[test]
fn scan_out_refuses_an_existing_file_without_force_and_writes_atomically() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (generations, training) = demo(dir.path(), 4, 2);
    let out = dir.path().join("results.jsonl");
    std::fs::write(&out, "precious\n").expect("write");
    let project = dir.path().join("project");
    let (code, _, stderr) = run(scan_args(&generations, &[&training], &project)
        .arg("--out")
        .arg(&out));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&out).expect("read"), "precious\n");
    let (code, _, stderr) = run(scan_args(&generations, &[&training], &project)
        .arg("--out")
        .arg(&out)
        .arg("--force"));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&out).expect("read").lines().count(),
        2
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary file left behind");
}

/// A label belongs to its pair by content: adding a training folder (which prefixes every
/// training name), re-scanning with the folders in another order and moving the project all
/// keep it on its pair, and the export shows the pair under its current names.
#[test]
fn a_label_stays_with_its_pair_when_folders_are_added_reordered_or_the_project_moves() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (generations, training) = demo(dir.path(), 8, 3);
    let other = dir.path().join("more-training");
    make_demo(
        &dir.path().join("other-set"),
        &DemoSpec {
            training: 4,
            generations: 1,
            seed: 77,
        },
    )
    .expect("demo");
    std::fs::rename(dir.path().join("other-set/training"), &other).expect("move");
    let project = dir.path().join("project");
    let (code, stdout, stderr) = run(&mut scan_args(&generations, &[&training], &project));
    assert_eq!(code, 0, "{stderr}");
    let (generation, trained) = first_pair(&stdout);
    let (code, _, stderr) = run(replicant()
        .args(["label", "--project"])
        .arg(&project)
        .args([
            "--generation",
            &generation,
            "--training",
            &trained,
            "--label",
            "full_copy",
            "--note",
            "kept",
        ]));
    assert_eq!(code, 0, "{stderr}");

    // A second training folder: names become "<folder>/<name>".
    let (code, stdout, stderr) = run(&mut scan_args(&generations, &[&training, &other], &project));
    assert_eq!(code, 0, "{stderr}");
    let prefix = training
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let renamed = format!("{prefix}/{trained}");
    assert!(stdout.contains(&renamed), "{stdout}");
    // Then the other order.
    let (code, _, stderr) = run(&mut scan_args(&generations, &[&other, &training], &project));
    assert_eq!(code, 0, "{stderr}");
    // Then the project moves.
    let moved = dir.path().join("moved-project");
    std::fs::rename(&project, &moved).expect("move project");
    let csv = dir.path().join("review.csv");
    let (code, _, stderr) = run(replicant()
        .args(["export", "--project"])
        .arg(&moved)
        .arg("--out")
        .arg(&csv));
    assert_eq!(code, 0, "{stderr}");
    let mut reader = csv::Reader::from_path(&csv).expect("csv");
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 1, "the label was not orphaned or duplicated");
    assert_eq!(&rows[0][0], generation);
    assert_eq!(&rows[0][1], renamed, "shown under its current name");
    assert_eq!(&rows[0][4], "full_copy");
    assert_eq!(&rows[0][6], "kept");
}

/// Exported images depended on the working folder: the project stored paths relative to
/// where the scan ran, so an export from elsewhere embedded nothing or the wrong files.
#[test]
fn exports_read_the_same_files_from_any_working_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (generations, training) = demo(dir.path(), 6, 2);
    let project = dir.path().join("project");
    // Scan with paths relative to the temporary folder.
    let rel = |p: &Path| p.strip_prefix(dir.path()).expect("inside").to_path_buf();
    let (code, stdout, stderr) = run(replicant()
        .current_dir(dir.path())
        .args(["scan", "--regions", "off", "--generations"])
        .arg(rel(&generations))
        .arg("--training")
        .arg(rel(&training))
        .arg("--project")
        .arg("project"));
    assert_eq!(code, 0, "{stderr}");
    let (generation, trained) = first_pair(&stdout);
    let (code, _, stderr) = run(replicant()
        .args(["label", "--project"])
        .arg(&project)
        .args([
            "--generation",
            &generation,
            "--training",
            &trained,
            "--label",
            "near_copy",
        ]));
    assert_eq!(code, 0, "{stderr}");
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let out = elsewhere.path().join("set.csv");
    let (code, _, stderr) = run(replicant()
        .current_dir(elsewhere.path())
        .args(["export", "--with-images", "--project"])
        .arg(&project)
        .arg("--out")
        .arg(&out));
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    let copied: Vec<PathBuf> = std::fs::read_dir(elsewhere.path().join("set_images"))
        .expect("images")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(copied.len(), 2);
    let original = std::fs::read(generations.join(&generation)).expect("original");
    assert!(
        copied
            .iter()
            .any(|p| std::fs::read(p).expect("copy") == original),
        "the generation's own bytes were copied"
    );
}

/// `--with-images` copied any path a tampered store named.
#[test]
fn with_images_never_copies_a_file_outside_the_project() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (generations, training) = demo(dir.path(), 6, 2);
    let project = dir.path().join("project");
    let (code, stdout, stderr) = run(&mut scan_args(&generations, &[&training], &project));
    assert_eq!(code, 0, "{stderr}");
    let (generation, trained) = first_pair(&stdout);
    run(replicant()
        .args(["label", "--project"])
        .arg(&project)
        .args([
            "--generation",
            &generation,
            "--training",
            &trained,
            "--label",
            "distinct",
        ]));
    let secret = dir.path().join("secret.txt");
    std::fs::write(&secret, "not yours").expect("write");
    let conn = rusqlite::Connection::open(project.join("review.sqlite")).expect("open");
    let context: String = conn
        .query_row("SELECT context FROM labels", [], |r| r.get(0))
        .expect("context");
    let mut value: serde_json::Value = serde_json::from_str(&context).expect("json");
    value["training_path"] = serde_json::Value::String(secret.to_string_lossy().into_owned());
    conn.execute(
        "UPDATE labels SET context = ?1",
        [serde_json::to_string(&value).expect("json")],
    )
    .expect("tamper");
    drop(conn);
    let out = dir.path().join("set.html");
    let (code, _, stderr) = run(replicant()
        .args(["export", "--with-images", "--project"])
        .arg(&project)
        .arg("--out")
        .arg(&out));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("outside the project's folders"), "{stderr}");
    for entry in std::fs::read_dir(dir.path().join("set_images")).expect("images") {
        let bytes = std::fs::read(entry.expect("entry").path()).expect("read");
        assert_ne!(bytes, b"not yours");
    }
}

/// One name that is not UTF-8 made the project's results unsavable (exit 0 all the same), so
/// every later `label` said "no scan results yet"; and two such names collapsed into one.
#[cfg(unix)]
#[test]
fn names_that_are_not_text_are_saved_labelled_and_kept_apart() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let (generations, training) = demo(dir.path(), 6, 1);
    let source = std::fs::read_dir(&generations)
        .expect("list")
        .filter_map(Result::ok)
        .find(|e| e.path().extension().is_some_and(|x| x == "png"))
        .expect("a png")
        .path();
    for name in [&b"caf\xe9.png"[..], &b"caf\xe8.png"[..]] {
        std::fs::copy(&source, generations.join(std::ffi::OsStr::from_bytes(name))).expect("copy");
    }
    let project = dir.path().join("project");
    let (code, stdout, stderr) = run(&mut scan_args(&generations, &[&training], &project));
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("could not be saved"), "{stderr}");
    assert!(
        stdout.contains("caf\\\\xE9.png") && stdout.contains("caf\\\\xE8.png"),
        "{stdout}"
    );
    let trained = stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
        .find(|v| v["generation"] == "caf\\xE9.png")
        .map(|v| v["matches"][0]["training"].as_str().expect("t").to_string())
        .expect("the odd name's result");
    let (code, _, stderr) = run(replicant()
        .args(["label", "--project"])
        .arg(&project)
        .args([
            "--generation",
            "caf\\xE9.png",
            "--training",
            &trained,
            "--label",
            "full_copy",
        ]));
    assert_eq!(code, 0, "{stderr}");
}

/// A failure to save the project's results exited 0.
#[test]
fn a_failure_to_save_the_results_exits_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (generations, training) = demo(dir.path(), 4, 2);
    let project = dir.path().join("project");
    replicant::project::Project::adopt(&project).expect("a new project folder");
    // A folder where the results file goes: the rename onto it fails.
    std::fs::create_dir_all(project.join("last_scan.json/blocked")).expect("mkdir");
    let (code, stdout, stderr) = run(&mut scan_args(&generations, &[&training], &project));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("could not be saved"), "{stderr}");
    assert_eq!(
        stdout.lines().count(),
        2,
        "the results still reach the output"
    );
}

/// File and reviewer names went raw to the terminal, escape sequences and all.
#[test]
fn names_with_control_characters_do_not_reach_the_terminal_raw() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (generations, training) = demo(dir.path(), 4, 2);
    std::fs::write(generations.join("evil\u{1b}[2J.png"), b"not an image").expect("write");
    let project = dir.path().join("project");
    let (code, stdout, stderr) = run(&mut scan_args(&generations, &[&training], &project));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("evil\\u{1b}[2J.png"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "an escape reached the terminal");
    let (generation, trained) = first_pair(&stdout);
    let (code, _, stderr) = run(replicant()
        .args(["label", "--reviewer", "ann\u{1b}]0;pwned\u{7}", "--project"])
        .arg(&project)
        .args([
            "--generation",
            &generation,
            "--training",
            &trained,
            "--label",
            "distinct",
        ]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        !stderr.contains('\u{1b}') && !stderr.contains('\u{7}'),
        "{stderr:?}"
    );
}

/// Export refused a read-only project though it only reads.
#[cfg(unix)]
#[test]
fn export_reads_a_project_it_cannot_write() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let (generations, training) = demo(dir.path(), 4, 2);
    let project = dir.path().join("project");
    let (_, stdout, _) = run(&mut scan_args(&generations, &[&training], &project));
    let (generation, trained) = first_pair(&stdout);
    run(replicant()
        .args(["label", "--project"])
        .arg(&project)
        .args([
            "--generation",
            &generation,
            "--training",
            &trained,
            "--label",
            "near_copy",
        ]));
    let outputs = dir.path().join("outputs");
    std::fs::create_dir(&outputs).expect("mkdir");
    std::fs::set_permissions(&outputs, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let read_only = |path: &Path, mode: u32| {
        for entry in walkdir::WalkDir::new(path)
            .into_iter()
            .filter_map(Result::ok)
        {
            let m = if entry.file_type().is_dir() {
                mode | 0o111
            } else {
                mode
            };
            std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(m))
                .expect("chmod");
        }
    };
    read_only(&project, 0o444);
    let out = outputs.join("set.csv");
    let mut export = if nix_is_root() {
        // Root writes anywhere: run as nobody, for whom the project is read-only.
        let mut command = Command::new("setpriv");
        command
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(common::replicant_bin());
        command
    } else {
        replicant()
    };
    let (code, _, stderr) = run(export
        .args(["export", "--project"])
        .arg(&project)
        .arg("--out")
        .arg(&out));
    read_only(&project, 0o644);
    assert_eq!(code, 0, "{stderr}");
    let text = std::fs::read_to_string(&out).expect("exported");
    assert!(text.contains("near_copy"), "{text}");
}

fn nix_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A damaged results file gave an empty desk (and "no scan results yet"); it is now named,
/// with the remedy.
#[test]
fn a_damaged_results_file_is_named_with_its_remedy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (generations, training) = demo(dir.path(), 4, 2);
    let project = dir.path().join("project");
    let (_, stdout, _) = run(&mut scan_args(&generations, &[&training], &project));
    let (generation, trained) = first_pair(&stdout);
    std::fs::write(project.join("last_scan.json"), b"{\"results\": [trunc").expect("damage");
    let (code, _, stderr) = run(replicant()
        .args(["label", "--project"])
        .arg(&project)
        .args([
            "--generation",
            &generation,
            "--training",
            &trained,
            "--label",
            "distinct",
        ]));
    assert_eq!(code, 1);
    assert!(
        stderr.contains("last_scan.json")
            && stderr.contains("damaged")
            && stderr.contains("scan again"),
        "{stderr}"
    );
    let opened = replicant::project::open::read_project(
        replicant::project::Project::open(&project).expect("project"),
    )
    .expect("the labels still open");
    assert!(
        opened.messages.iter().any(|m| m.contains("last_scan.json")),
        "the desk is told: {:?}",
        opened.messages
    );
}

/// A cache written by a newer program is refused, naming the file, not misread.
#[test]
fn a_cache_of_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (generations, training) = demo(dir.path(), 4, 2);
    let project = dir.path().join("project");
    run(&mut scan_args(&generations, &[&training], &project));
    let conn = rusqlite::Connection::open(project.join("cache.sqlite")).expect("open");
    conn.execute(
        "UPDATE meta SET value = '99' WHERE key = 'schema_version'",
        [],
    )
    .expect("tamper");
    drop(conn);
    let (code, _, stderr) = run(&mut scan_args(&generations, &[&training], &project));
    assert_eq!(code, 1);
    assert!(
        stderr.contains("cache.sqlite") && stderr.contains("newer"),
        "{stderr}"
    );
}

/// `--threads` and `--decode-threads` had no upper bound (100000 effectively hung).
#[test]
fn thread_counts_are_bounded() {
    for flag in ["--threads", "--decode-threads"] {
        let (code, _, stderr) = run(replicant().args([
            "scan",
            "--generations",
            "g",
            "--training",
            "t",
            flag,
            "100000",
        ]));
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains("at most 256"), "{stderr}");
    }
}

/// A half-truncated JPEG was scanned without a word (it then scored 0.38 against its own
/// source); the summary, the JSON Lines and the desk now name the partial decode. And a PNG
/// whose text chunk inflates to 256 MiB had its prompt copied into every output; it is now
/// cut at 1 MiB, and said to be.
#[test]
fn partial_decodes_and_cut_prompts_are_named_everywhere() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (generations, training) = demo(dir.path(), 4, 1);
    let source = std::fs::read_dir(&training)
        .expect("list")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "jpg"))
        .expect("a jpeg");
    let jpeg = std::fs::read(&source).expect("read");
    std::fs::write(generations.join("half.jpg"), &jpeg[..jpeg.len() / 2]).expect("write");
    // A PNG whose `parameters` text inflates to 256 MiB.
    let bomb = {
        use std::io::Write;
        let mut deflated = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        deflated.write_all(b"a prompt ").expect("deflate");
        let block = vec![b'x'; 1 << 20];
        for _ in 0..256 {
            deflated.write_all(&block).expect("deflate");
        }
        let mut chunk = b"parameters\0\0".to_vec();
        chunk.extend_from_slice(&deflated.finish().expect("deflate"));
        let mut png = Vec::new();
        image::RgbImage::from_pixel(64, 64, image::Rgb([10, 200, 30]))
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .expect("png");
        let mut out = png[..33].to_vec();
        out.extend_from_slice(&(chunk.len() as u32).to_be_bytes());
        out.extend_from_slice(b"zTXt");
        out.extend_from_slice(&chunk);
        let mut crc = crc32fast::Hasher::new();
        crc.update(b"zTXt");
        crc.update(&chunk);
        out.extend_from_slice(&crc.finalize().to_be_bytes());
        out.extend_from_slice(&png[33..]);
        out
    };
    std::fs::write(generations.join("bomb.png"), bomb).expect("write");
    let project = dir.path().join("project");
    let (code, stdout, stderr) = run(&mut scan_args(&generations, &[&training], &project));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("half.jpg") && stderr.contains("partial decode"),
        "{stderr}"
    );
    assert!(
        stderr.contains("bomb.png") && stderr.contains("only the first 1 MiB"),
        "{stderr}"
    );
    let results: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let half = results
        .iter()
        .find(|r| r["generation"] == "half.jpg")
        .expect("scanned");
    assert!(
        half["notes"][0]
            .as_str()
            .is_some_and(|n| n.contains("partial decode"))
    );
    let bomb = results
        .iter()
        .find(|r| r["generation"] == "bomb.png")
        .expect("scanned");
    let prompt = bomb["prompt"].as_str().expect("a prompt");
    assert!(prompt.len() <= 1 << 20, "{} bytes of prompt", prompt.len());
    assert!(
        bomb["notes"][0]
            .as_str()
            .is_some_and(|n| n.contains("1 MiB"))
    );
    // A second scan, from the cache, still says so.
    let (_, stdout, stderr) = run(&mut scan_args(&generations, &[&training], &project));
    assert!(stderr.contains("partial decode"), "{stderr}");
    assert!(stdout.contains("partial decode"));
}

/// A damaged review store is named with the remedy (restore it), never read as empty.
#[test]
fn a_damaged_review_store_is_named_with_its_remedy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (generations, training) = demo(dir.path(), 4, 2);
    let project = dir.path().join("project");
    let (_, stdout, _) = run(&mut scan_args(&generations, &[&training], &project));
    let (generation, trained) = first_pair(&stdout);
    std::fs::write(project.join("review.sqlite"), vec![0x42u8; 8192]).expect("damage");
    for args in [
        vec![
            "label",
            "--generation",
            &generation,
            "--training",
            &trained,
            "--label",
            "distinct",
        ],
        vec!["export", "--out", "/dev/null", "--force"],
    ] {
        let (code, _, stderr) = run(replicant()
            .arg(args[0])
            .arg("--project")
            .arg(&project)
            .args(&args[1..]));
        assert_eq!(code, 1, "{stderr}");
        assert!(
            stderr.contains("review.sqlite")
                && stderr.contains("damaged")
                && stderr.contains("backup"),
            "{stderr}"
        );
    }
}
