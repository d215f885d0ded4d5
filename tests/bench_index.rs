//! `replicant bench index --json` end to end, at a size where scans search the graph (above
//! the exact-search limit): the last line of stdout carries every figure, the saved index is
//! measured from a fresh process, and the graph's recall against exact search is high.

mod common;

#[test]
fn bench_index_reports_every_figure_from_a_fresh_process() {
    let vectors = replicant::index::EXACT_SEARCH_MAX + 5_000;
    let dims = 64;
    let (code, stdout, stderr) = common::run_replicant(&[
        "bench",
        "index",
        "--vectors",
        &vectors.to_string(),
        "--dims",
        &dims.to_string(),
        "--queries",
        "200",
        "--dtype",
        "i8",
        "--json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("measuring the saved index from a fresh process"),
        "{stderr}"
    );
    let last = stdout.trim().lines().last().expect("a report line");
    let report: serde_json::Value = serde_json::from_str(last).expect("one JSON object");
    assert_eq!(report["vectors"], vectors);
    assert_eq!(report["dtype"], "i8");
    let figure = |key: &str| {
        report[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} missing in {last}"))
    };
    for key in [
        "build_secs",
        "adds_per_sec",
        "view_open_secs",
        "rss_bytes_querying",
        "query_p50_ms",
        "query_p99_ms",
    ] {
        assert!(figure(key) > 0.0, "{key} in {last}");
    }
    // An i8 index holds at least one byte per dimension of every vector.
    assert!(figure("file_bytes") >= (vectors * dims) as f64, "{last}");
    assert!(figure("query_p50_ms") <= figure("query_p99_ms"), "{last}");
    let recall = figure("recall_at_10");
    assert!((0.9..=1.0).contains(&recall), "recall@10 {recall}");
}
