//! The evidence report as one self-contained HTML page: tables, the histograms and the
//! precision-recall curve as inline SVG, thumbnails as data URIs; nothing is fetched.

use std::fmt::Write as _;

use super::escape_html as esc;
use super::report::AuditReport;
use crate::stats::Rate;

/// The page.
pub fn report_html(report: &AuditReport) -> String {
    let mut page = String::new();
    let _ = write!(
        page,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Replicant evidence report</title><style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}}th{{background:#f3f3f3}}img{{max-width:160px;max-height:160px}}.muted{{color:#777}}</style></head><body><h1>Replicant evidence report</h1><p class=\"muted\">{} &middot; Replicant {} &middot; model {}</p>",
        esc(&report.provenance.created_at),
        esc(&report.provenance.replicant_version),
        esc(&report.provenance.model_key)
    );
    let rate = |r: &Rate| {
        format!(
            "{} of {} = {:.2}% (95% Wilson interval {:.2}% to {:.2}%)",
            r.count,
            r.total,
            r.value * 100.0,
            r.ci95[0] * 100.0,
            r.ci95[1] * 100.0
        )
    };
    let _ = write!(
        page,
        "<h2>Rates</h2><table><tr><th>generations</th><td>{}</td></tr><tr><th>training images</th><td>{}</td></tr><tr><th>replication rate (highest similarity &ge; {:.2})</th><td>{}</td></tr><tr><th>duplicate rate (&ge; 0.95)</th><td>{}</td></tr>",
        report.generations,
        report.training_images,
        report.threshold,
        rate(&report.replication_rate),
        rate(&report.duplicate_rate)
    );
    if let Some(e) = &report.estimated_copy_rate {
        let _ = write!(
            page,
            "<tr><th>estimated copy rate (labels, by band)</th><td>{:.2}% (95% interval {:.2}% to {:.2}%); {} generations in bands without labels add nothing</td></tr>",
            e.value * 100.0,
            e.ci95[0] * 100.0,
            e.ci95[1] * 100.0,
            e.unlabelled_generations
        );
    }
    page.push_str("</table>");

    page.push_str("<h2>Baseline: training against training</h2>");
    match (&report.baseline, &report.baseline_unavailable) {
        (Some(b), _) => {
            page.push_str(&histogram_svg(
                &b.train_top1,
                &report.generation_top1,
                report.threshold,
            ));
            let _ = write!(
                page,
                "<table><tr><th></th><th>p50</th><th>p90</th><th>p95</th><th>p99</th></tr><tr><th>training vs training ({} sampled, seed {})</th><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td></tr>",
                b.sample,
                b.seed,
                b.train_train.p50,
                b.train_train.p90,
                b.train_train.p95,
                b.train_train.p99
            );
            if let Some(g) = &b.generation_train {
                let _ = write!(
                    page,
                    "<tr><th>generation vs training</th><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td></tr>",
                    g.p50, g.p90, g.p95, g.p99
                );
            }
            page.push_str("</table>");
            if let Some(method) = &b.method {
                let _ = write!(
                    page,
                    "<p>Each sampled image's most similar other training image was found by the {}; the training-vs-training figures are therefore a lower bound of an exact search's.</p>",
                    esc(method)
                );
            }
        }
        (None, Some(why)) => {
            let _ = write!(page, "<p>No baseline: {}</p>", esc(why));
        }
        (None, None) => page.push_str("<p>No baseline.</p>"),
    }
    if let Some(d) = &report.duplicate_counts {
        let num = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
        let ci =
            |v: Option<[f64; 2]>| v.map_or("-".to_string(), |[a, b]| format!("{a:.2} to {b:.2}"));
        let _ = write!(
            page,
            "<h2>Duplicate counts</h2><p>Training images within similarity 0.95 of a training image, among its {} nearest.</p><table><tr><th></th><th>mean</th><th>bootstrap 95% interval</th></tr><tr><th>training images of the {} matches at or above the threshold</th><td>{}</td><td>{}</td></tr><tr><th>all training images (the baseline's sample)</th><td>{}</td><td>{}</td></tr></table>",
            d.neighbours_searched,
            d.replicated_matches,
            num(d.replicated_mean),
            ci(d.ci95),
            num(d.all_mean),
            ci(d.all_ci95)
        );
    }

    let c = &report.calibration;
    let _ = write!(
        page,
        "<h2>Labels and calibration</h2><p>Reviewers: {}. Labelled pairs: {}. Pairs reviewed twice: {}.</p><p>Calibrated threshold for precision {:.2}: {}</p>",
        esc(&report.labels.reviewers.join(", ")),
        report.labels.pairs.len(),
        report.labels.double_reviewed,
        c.target_precision,
        match (c.threshold, c.precision, c.recall) {
            (Some(t), Some(p), Some(r)) => format!(
                "{t:.3} (precision {p:.2}, recall {r:.2}, from {} labelled pairs)",
                c.labelled_pairs
            ),
            _ => format!("none reaches it ({} labelled pairs)", c.labelled_pairs),
        }
    );
    let l = &report.labels;
    if l.double_reviewed > 0 {
        let _ = write!(
            page,
            "<p>Agreement over the {} pairs labelled twice or more ({} disagreements, without a final label until they agree): ",
            l.double_reviewed, l.disagreements
        );
        for c in &l.cohen_kappa {
            let _ = write!(
                page,
                "Cohen's kappa {} / {} = {} on {} pairs; ",
                esc(&c.a),
                esc(&c.b),
                c.kappa
                    .map_or("undefined".to_string(), |k| format!("{k:.3}")),
                c.n
            );
        }
        let _ = write!(
            page,
            "Fleiss' kappa = {}.</p>",
            l.fleiss_kappa
                .map_or("undefined".to_string(), |k| format!("{k:.3}"))
        );
    }
    if !report.pr_curve.is_empty() {
        page.push_str(&pr_svg(report));
    }
    if let Some(e) = &report.estimated_copy_rate {
        page.push_str(
            "<table><tr><th>band</th><th>generations</th><th>labelled</th><th>copies</th></tr>",
        );
        for b in &e.bands {
            let _ = write!(
                page,
                "<tr><td>{:.2}-{:.2}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                b.from,
                b.from + crate::stats::BAND,
                b.generations,
                b.labelled,
                b.copies
            );
        }
        page.push_str("</table>");
    }
    page.push_str("<h3>Every label</h3><table><tr><th>generation</th><th>training image</th><th>similarity</th><th>label</th><th>reviewer</th><th>when</th></tr>");
    for p in &report.labels.pairs {
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{:.3}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&p.generation),
            esc(&p.training),
            p.similarity,
            esc(&p.label),
            esc(&p.reviewer),
            esc(&p.labelled_at)
        );
    }
    page.push_str("</table><h2>Top pairs</h2><table><tr><th>generation</th><th>training image</th><th>similarity</th><th>label</th></tr>");
    for p in &report.top_pairs {
        let thumb = |location: &crate::catalog::ImageLocation| {
            super::review_set::data_uri(location).map_or_else(
                |why| format!("<span class=\"muted\">({})</span>", esc(&why)),
                |uri| format!("<img src=\"{uri}\">"),
            )
        };
        let _ = write!(
            page,
            "<tr><td>{}<br>{}</td><td>{}<br>{}</td><td>{:.3}</td><td>{}</td></tr>",
            thumb(&crate::catalog::ImageLocation::File(
                p.generation_path.clone()
            )),
            esc(&p.generation),
            thumb(&p.training_path),
            esc(&p.training),
            p.similarity,
            esc(p.label.as_deref().unwrap_or("unlabelled"))
        );
    }
    page.push_str("</table><h2>Provenance</h2><table>");
    let v = &report.provenance;
    let rows: [(&str, String); 12] = [
        ("model", v.model_key.clone()),
        ("model file", v.model_file.clone().unwrap_or_default()),
        ("model blake3", v.model_blake3.clone().unwrap_or_default()),
        ("ONNX Runtime", v.onnxruntime.clone().unwrap_or_default()),
        ("preprocessing", v.preprocessing.clone()),
        ("index", v.index.clone()),
        ("generations", v.generations.clone()),
        ("generations blake3", v.generations_blake3.clone()),
        ("training", v.training.join("; ")),
        (
            "training blake3",
            v.training_blake3.clone().unwrap_or_default(),
        ),
        ("created", v.created_at.clone()),
        ("licences", v.licences.join(" | ")),
    ];
    for (name, value) in rows {
        let _ = write!(page, "<tr><th>{name}</th><td>{}</td></tr>", esc(&value));
    }
    page.push_str("</table></body></html>\n");
    page
}

/// Two histograms of similarities (0 to 1 in 50 bins, each normalised to its own count) and
/// the threshold line.
fn histogram_svg(train: &[f32], generations: &[f32], threshold: f32) -> String {
    const W: f32 = 600.0;
    const H: f32 = 200.0;
    const BINS: usize = 50;
    let (a, b) = (
        crate::stats::bin_shares(train, BINS),
        crate::stats::bin_shares(generations, BINS),
    );
    let top = a.iter().chain(&b).fold(0.01f64, |m, v| m.max(*v)) as f32;
    let mut svg = format!(
        "<svg width=\"{W}\" height=\"{}\" viewBox=\"0 0 {W} {}\" xmlns=\"http://www.w3.org/2000/svg\"><rect width=\"{W}\" height=\"{H}\" fill=\"#fafafa\" stroke=\"#ccc\"/>",
        H + 20.0,
        H + 20.0
    );
    let bar = W / BINS as f32;
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        let left = i as f32 * bar;
        for (share, colour, offset) in [(x, "#1f77b4", 0.0), (y, "#d62728", bar / 2.0)] {
            let h = *share as f32 / top * (H - 10.0);
            let _ = write!(
                svg,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{colour}\" opacity=\"0.8\"/>",
                left + offset,
                H - h,
                bar / 2.0,
                h
            );
        }
    }
    let tx = threshold.clamp(0.0, 1.0) * W;
    let _ = write!(
        svg,
        "<line x1=\"{tx:.1}\" y1=\"0\" x2=\"{tx:.1}\" y2=\"{H}\" stroke=\"#000\" stroke-dasharray=\"4 3\"/><text x=\"4\" y=\"{}\" font-size=\"12\">0</text><text x=\"{}\" y=\"{}\" font-size=\"12\">1</text><text x=\"{:.1}\" y=\"12\" font-size=\"12\">threshold {threshold:.2}</text><text x=\"8\" y=\"14\" font-size=\"12\" fill=\"#1f77b4\">training vs training</text><text x=\"8\" y=\"30\" font-size=\"12\" fill=\"#d62728\">generation vs training</text></svg>",
        H + 15.0,
        W - 10.0,
        H + 15.0,
        (tx + 4.0).min(W - 90.0)
    );
    svg
}

/// The precision-recall curve, recall across, precision up.
fn pr_svg(report: &AuditReport) -> String {
    const S: f64 = 240.0;
    let mut points = String::new();
    // Drawn inside a margin, so a curve along an edge (precision 1, recall 1) stays visible.
    const M: f64 = 10.0;
    for p in report.pr_curve.iter().rev() {
        let (x, y) = (
            M + p.recall * (S - 2.0 * M),
            S - M - p.precision * (S - 2.0 * M),
        );
        let _ = write!(points, "{x:.1},{y:.1} ");
    }
    format!(
        "<svg width=\"{S}\" height=\"{}\" xmlns=\"http://www.w3.org/2000/svg\"><rect width=\"{S}\" height=\"{S}\" fill=\"#fafafa\" stroke=\"#ccc\"/><polyline points=\"{points}\" fill=\"none\" stroke=\"#2ca02c\" stroke-width=\"2\"/><text x=\"4\" y=\"{}\" font-size=\"12\">recall →</text><text x=\"14\" y=\"26\" font-size=\"12\">precision ↑</text></svg>",
        S + 18.0,
        S + 14.0
    )
}
