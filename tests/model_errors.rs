//! Regressions from an adversarial run: a model whose outputs are all zeros or NaN gave
//! similarity 1.0 or null everywhere with exit 0; a model declaring a 100000x100000 input
//! aborted the process; an incompatible runtime library panicked. Each is now a clear error
//! (exit 1, naming the file and what to do).

mod common;

use std::path::Path;
use std::process::Command;

fn scan_with(dir: &Path, extra: &[&str]) -> (i32, String) {
    let set = replicant::demo::make_demo(
        &dir.join("set"),
        &replicant::demo::DemoSpec {
            training: 3,
            generations: 2,
            seed: 1,
        },
    )
    .expect("demo");
    let out = Command::new(common::replicant_bin())
        .arg("scan")
        .arg("--generations")
        .arg(&set.generations)
        .arg("--training")
        .arg(&set.training)
        .arg("--project")
        .arg(dir.join("project"))
        .args(extra)
        .output()
        .expect("run replicant");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn models_that_give_zeros_or_nan_are_refused() {
    for (factor, words) in [(0.0f32, "all zeros"), (f32::NAN, "NaN")] {
        let dir = tempfile::tempdir().expect("tempdir");
        let model = dir.path().join("broken.onnx");
        std::fs::write(&model, common::onnx_model::mean_colour_model(32, factor)).expect("write");
        let (code, stderr) = scan_with(dir.path(), &["--model", &model.to_string_lossy()]);
        assert_eq!(code, 1, "{stderr}");
        assert!(
            stderr.contains("does not give usable embeddings") && stderr.contains(words),
            "{stderr}"
        );
        assert!(stderr.contains("broken.onnx"), "{stderr}");
    }
    // The same model with a sane factor runs: the checks do not refuse every custom model.
    let dir = tempfile::tempdir().expect("tempdir");
    let model = dir.path().join("fine.onnx");
    std::fs::write(&model, common::onnx_model::mean_colour_model(32, 1.0)).expect("write");
    let (code, stderr) = scan_with(dir.path(), &["--model", &model.to_string_lossy()]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn a_model_declaring_a_huge_input_is_refused_before_allocating() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = dir.path().join("huge.onnx");
    std::fs::write(&model, common::onnx_model::mean_colour_model(100_000, 1.0)).expect("write");
    let (code, stderr) = scan_with(dir.path(), &["--model", &model.to_string_lossy()]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("100000x100000"), "{stderr}");
}

#[test]
fn a_runtime_without_the_needed_api_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("fake_ort.c");
    std::fs::write(
        &source,
        r#"#include <stddef.h>
typedef struct { const void* (*GetApi)(unsigned); const char* (*GetVersionString)(void); } OrtApiBase;
static const void* get_api(unsigned v) { (void)v; return NULL; }
static const char* version(void) { return "1.31.1"; }
static OrtApiBase base = { get_api, version };
const OrtApiBase* OrtGetApiBase(void) { return &base; }
"#,
    )
    .expect("write");
    let library = dir.path().join("libfakeort.so");
    let built = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&library)
        .arg(&source)
        .status();
    if !built.is_ok_and(|s| s.success()) {
        assert!(
            !common::in_ci(),
            "CI has a C compiler (cc), which builds the fake runtime"
        );
        eprintln!("SKIPPED: no C compiler to build a fake runtime");
        return;
    }
    let (code, stderr) = scan_with(dir.path(), &["--ort-lib", &library.to_string_lossy()]);
    assert_eq!(code, 1, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains("does not offer API version") && stderr.contains("libfakeort.so"),
        "{stderr}"
    );
}
