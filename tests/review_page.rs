//! A review page (`replicant export --format review-html`) in a real headless browser: a
//! reviewer labels pairs with the keyboard, reloads (the labels stay), saves; `replicant label
//! import` merges the saved file into the project under the reviewer's name, and refuses it
//! for another project. The browser is Debian's Chromium driven through WebDriver by
//! `tests/review_page.py` (selenium), whose Python is `REPLICANT_SELENIUM_PYTHON` (`.ci/run`
//! installs it); without it the test skips outside CI and fails in CI.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn selenium_python() -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = std::env::var_os("REPLICANT_SELENIUM_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain([PathBuf::from("python3")])
        .collect();
    let driver = Command::new("chromedriver").arg("--version").output();
    if !driver.is_ok_and(|out| out.status.success()) {
        return None;
    }
    candidates.into_iter().find(|python| {
        Command::new(python)
            .args(["-c", "import selenium, jsonschema"])
            .output()
            .is_ok_and(|out| out.status.success())
    })
}

/// The pairs a page embeds, in its order: (generation, training) names.
fn page_pairs(page: &Path) -> Vec<(String, String)> {
    let html = std::fs::read_to_string(page).expect("the page");
    let start = html
        .find("<script id=\"replicant-data\" type=\"application/json\">")
        .expect("the page's data")
        + "<script id=\"replicant-data\" type=\"application/json\">".len();
    let end = start + html[start..].find("</script>").expect("its end");
    let data: serde_json::Value = serde_json::from_str(&html[start..end]).expect("JSON");
    data["pairs"]
        .as_array()
        .expect("pairs")
        .iter()
        .map(|p| {
            (
                p["generation"].as_str().expect("name").to_string(),
                p["training"].as_str().expect("name").to_string(),
            )
        })
        .collect()
}

fn scan_into(project: &Path, fixtures: &Path) {
    let examples = fixtures.join("jcjohnson-neural-style/examples");
    let (generations, training) = (examples.join("outputs"), examples.join("inputs"));
    common::run_ok(&[
        "scan",
        "--generations",
        generations.to_str().expect("utf-8"),
        "--training",
        training.to_str().expect("utf-8"),
        "--project",
        project.to_str().expect("utf-8"),
        "--out",
        project.with_extension("jsonl").to_str().expect("utf-8"),
        "--no-setup",
    ]);
}

#[test]
fn a_reviewer_labels_in_a_browser_and_the_labels_land_in_the_project() {
    let Some(fixtures) = common::fixtures_dir() else {
        return;
    };
    let Some(python) = selenium_python() else {
        assert!(
            !common::in_ci(),
            "selenium or chromedriver missing and CI must run this test: .ci/run installs them (REPLICANT_SELENIUM_PYTHON, chromium-driver)"
        );
        eprintln!(
            "SKIPPED: needs chromedriver (apt-get install chromium-driver) and a Python with selenium (REPLICANT_SELENIUM_PYTHON)"
        );
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let project = dir.path().join("project");
    scan_into(&project, &fixtures);
    let page = dir.path().join("review.html");
    common::run_ok(&[
        "export",
        "--project",
        project.to_str().expect("utf-8"),
        "--format",
        "review-html",
        "--top",
        "6",
        "--out",
        page.to_str().expect("utf-8"),
    ]);
    let pairs = page_pairs(&page);
    assert_eq!(pairs.len(), 6, "the six most similar pairs");

    let downloads = dir.path().join("downloads");
    std::fs::create_dir_all(&downloads).expect("mkdir");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/review_page.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(&page)
        .arg(&downloads)
        .arg("Ann Lee")
        .output()
        .expect("run the browser script");
    assert!(
        out.status.success(),
        "browser script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).expect("its report");
    // What the script pressed: nothing before a name, then pairs 1-3 full, near (with a
    // note) and distinct, pair 4 labelled and cleared; it stopped on pair 4.
    assert_eq!(seen["without_name"], "0 of 6 labelled");
    assert_eq!(seen["before_reload"], "3 of 6 labelled");
    assert_eq!(
        seen["after_reload"], "3 of 6 labelled",
        "labels lost on reload"
    );
    assert_eq!(seen["position_before_reload"], "4 / 6");
    assert_eq!(seen["position_after_reload"], "4 / 6");
    assert_eq!(seen["reviewer_after_reload"], "Ann Lee");
    assert_eq!(
        seen["schema"], "valid",
        "docs/schemas/review-page-labels.v1.schema.json"
    );
    let saved = PathBuf::from(seen["saved"].as_str().expect("a saved file"));
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).expect("saved")).expect("JSON");
    assert_eq!(file["reviewer"], "Ann Lee");
    let labels: Vec<(String, String, String, String)> = file["labels"]
        .as_array()
        .expect("labels")
        .iter()
        .map(|l| {
            let s = |k: &str| l[k].as_str().expect(k).to_string();
            (s("generation"), s("training"), s("label"), s("note"))
        })
        .collect();
    let expected: Vec<(String, String, String, String)> = pairs[..3]
        .iter()
        .zip([
            ("full_copy", ""),
            ("near_copy", "the same bridge"),
            ("distinct", ""),
        ])
        .map(|((g, t), (label, note))| (g.clone(), t.clone(), label.into(), note.into()))
        .collect();
    assert_eq!(labels, expected);

    // Another project (the same folders, another folder) refuses the file.
    let other = dir.path().join("other");
    scan_into(&other, &fixtures);
    let (code, _, stderr) = common::run_replicant(&[
        "label",
        "import",
        "--project",
        other.to_str().expect("utf-8"),
        saved.to_str().expect("utf-8"),
    ]);
    assert_ne!(code, 0, "imported into another project: {stderr}");
    assert!(stderr.contains("another project"), "{stderr}");

    common::run_ok(&[
        "label",
        "import",
        "--project",
        project.to_str().expect("utf-8"),
        saved.to_str().expect("utf-8"),
    ]);
    let exported = dir.path().join("labels.jsonl");
    common::run_ok(&[
        "export",
        "--project",
        project.to_str().expect("utf-8"),
        "--out",
        exported.to_str().expect("utf-8"),
    ]);
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(&exported)
        .expect("export")
        .lines()
        .map(|l| serde_json::from_str(l).expect("row"))
        .collect();
    let mut found: Vec<(String, String, String, String)> = rows
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            (
                s("generation"),
                s("training"),
                r["reviewers"]["Ann Lee"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                r["notes"]["Ann Lee"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    found.sort();
    let mut expected = expected;
    expected.sort();
    assert_eq!(found, expected, "the project's labels after the import");
}
