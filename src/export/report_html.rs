//! The evidence report as one self-contained HTML page: tables, the histograms and the
//! precision-recall curve as inline SVG, thumbnails as data URIs; nothing is fetched. The page
//! is a typed template (maud): every text is escaped unless marked as markup (the SVGs this
//! file draws).

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::report::{AuditReport, Baseline, DuplicateCounts, TopPair};
use super::report_svg::{histogram_svg, pr_svg};
use crate::ranking::matches::DUPLICATE_SIMILARITY;
use crate::stats::Rate;

const STYLE: &str = "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}table{border-collapse:collapse;margin:1em 0;max-width:100%}table.wide{width:100%;table-layout:fixed}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top;overflow-wrap:anywhere}th{background:#f3f3f3}img{max-width:160px;max-height:160px}.muted{color:#777}.chip{display:inline-block;padding:1px 8px;border-radius:10px;font-size:0.85em;white-space:nowrap;color:#fff}.full_copy{background:#c62828}.near_copy{background:#ef6c00}.distinct{background:#546e7a}.disputed{background:#fff;color:#6a1b9a;border:2px solid #6a1b9a}.unlabelled{background:#eee;color:#555}svg text{font-family:sans-serif}";

/// The page.
pub fn report_html(report: &AuditReport) -> String {
    let v = &report.provenance;
    let page = html! {
        (DOCTYPE)
        html {
            head {
                meta charset="utf-8";
                title { "Replicant evidence report" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { "Replicant evidence report" }
                p.muted {
                    (v.created_at) " · Replicant " (v.replicant_version) " · model " (v.model_key)
                }
                (rates(report))
                h2 { "Baseline: training against training" }
                (baseline(report))
                @if let Some(d) = &report.duplicate_counts {
                    (duplicate_counts(d))
                }
                (labels(report))
                (top_pairs(&report.top_pairs))
                (prompt_side(report))
                (provenance(report))
            }
        }
    };
    let mut out = page.into_string();
    out.push('\n');
    out
}

fn rate(r: &Rate) -> String {
    format!(
        "{} of {} = {:.2}% (95% Wilson interval {:.2}% to {:.2}%)",
        r.count,
        r.total,
        r.value * 100.0,
        r.ci95[0] * 100.0,
        r.ci95[1] * 100.0
    )
}

fn rates(report: &AuditReport) -> Markup {
    html! {
        h2 { "Rates" }
        table {
            tr { th { "generations scanned" } td { (report.generations) } }
            tr { th { "training images searched" } td { (report.training_images) } }
            tr {
                th {
                    "replication rate: generations whose highest similarity is ≥ "
                    (format!("{:.2}", report.threshold)) " (the threshold: "
                    (report.threshold_source) ")"
                }
                td { (rate(&report.replication_rate)) }
            }
            tr {
                th {
                    "duplicate rate: generations whose highest similarity is ≥ "
                    (format!("{DUPLICATE_SIMILARITY:.2}"))
                }
                td { (rate(&report.duplicate_rate)) }
            }
            @if let Some(e) = &report.estimated_copy_rate {
                tr {
                    th {
                        "estimated copy rate: generations whose top pair a reviewer would label a copy, from the labelled pairs band by band"
                    }
                    td {
                        (format!(
                            "{:.2}% (95% interval {:.2}% to {:.2}%). ",
                            e.value * 100.0,
                            e.ci95[0] * 100.0,
                            e.ci95[1] * 100.0
                        ))
                        (bands_covered(e))
                    }
                }
            }
        }
    }
}

fn percentiles(name: &str, p: &crate::stats::Percentiles) -> Markup {
    html! {
        tr {
            th { (name) }
            @for value in [p.p50, p.p90, p.p95, p.p99] {
                td { (format!("{value:.3}")) }
            }
        }
    }
}

fn baseline(report: &AuditReport) -> Markup {
    match (&report.baseline, &report.baseline_unavailable) {
        (Some(b), _) => baseline_figures(report, b),
        (None, Some(why)) => html! { p { "No baseline: " (why) } },
        (None, None) => html! { p { "No baseline." } },
    }
}

fn baseline_figures(report: &AuditReport, b: &Baseline) -> Markup {
    html! {
        (PreEscaped(histogram_svg(&b.train_top1, &report.generation_top1, report.threshold)))
        p.muted {
            "Each image's highest SSCD similarity (cosine): a sampled training image's to any other training image (blue), each generation's to the training set (red); each histogram is a share of its own images, in bins of 0.02."
        }
        table {
            tr { th {} th { "p50" } th { "p90" } th { "p95" } th { "p99" } }
            (percentiles(
                &format!("training vs training ({} sampled, seed {})", b.sample, b.seed),
                &b.train_train,
            ))
            @if let Some(g) = &b.generation_train {
                (percentiles("generation vs training", g))
            }
        }
        @if let Some(method) = &b.method {
            p {
                "Each sampled image's most similar other training image was found by the "
                (method)
                "; the training-vs-training figures are therefore a lower bound of an exact search's."
            }
        }
    }
}

fn duplicate_counts(d: &DuplicateCounts) -> Markup {
    let num = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
    let ci = |v: Option<[f64; 2]>| v.map_or("-".to_string(), |[a, b]| format!("{a:.2} to {b:.2}"));
    html! {
        h2 { "Duplicate counts" }
        p {
            "Training images within similarity " (format!("{DUPLICATE_SIMILARITY:.2}"))
            " of a training image, among its " (d.neighbours_searched) " nearest."
        }
        table {
            tr { th {} th { "mean" } th { "bootstrap 95% interval" } }
            tr {
                th {
                    "training images of the " (d.replicated_matches)
                    " matches at or above the threshold"
                }
                td { (num(d.replicated_mean)) }
                td { (ci(d.ci95)) }
            }
            tr {
                th { "all training images (the baseline's sample)" }
                td { (num(d.all_mean)) }
                td { (ci(d.all_ci95)) }
            }
        }
    }
}

fn kappa(k: Option<f64>) -> String {
    k.map_or("undefined".to_string(), |k| format!("{k:.3}"))
}

fn labels(report: &AuditReport) -> Markup {
    let l = &report.labels;
    let c = &report.calibration;
    let calibrated = match (c.threshold, c.precision, c.recall) {
        (Some(t), Some(p), Some(r)) => format!(
            "{t:.3} (precision {p:.2}, recall {r:.2}, from {} labelled pairs)",
            c.labelled_pairs
        ),
        _ => format!("none reaches it ({} labelled pairs)", c.labelled_pairs),
    };
    html! {
        h2 { "Labels and calibration" }
        p {
            "Reviewers (" (l.reviewers.len()) "): " (l.reviewers.join(", "))
            ". Labelled pairs: " (l.labelled_pairs) " (" (l.labels) " labels)"
            ". Pairs labelled by two reviewers or more: " (l.double_reviewed) "."
            @if l.left_out_pairs > 0 {
                " Left out: " (l.left_out_pairs) " labelled pairs (" (l.left_out_labels)
                " labels) that are not among the last scan's pairs (an earlier scan of other folders found them)."
            }
        }
        p {
            "Calibrated threshold for precision " (format!("{:.2}", c.target_precision)) ": "
            (calibrated)
        }
        @if l.double_reviewed > 0 {
            p {
                "Agreement over the " (l.double_reviewed) " pairs labelled twice or more ("
                (l.disagreements) " disagreements, without a final label until they agree): "
                @for k in &l.cohen_kappa {
                    "Cohen's kappa " (k.a) " / " (k.b) " = " (kappa(k.kappa)) " on " (k.n)
                    " pairs; "
                }
                "Fleiss' kappa = " (kappa(l.fleiss_kappa)) "."
            }
        }
        @if !report.pr_curve.is_empty() {
            (PreEscaped(pr_svg(report)))
        }
        @if let Some(e) = &report.estimated_copy_rate {
            h3 { "The copy rate band by band" }
            table {
                tr {
                    th { "band of highest similarity" }
                    th { "generations" }
                    th { "generations whose top pair has a final label" }
                    th { "of those, labelled full or near copy" }
                }
                @for b in &e.bands {
                    tr {
                        td { (format!("{:.2}-{:.2}", b.from, b.from + crate::stats::BAND)) }
                        td { (b.generations) }
                        td { (b.labelled) }
                        td { (b.copies) }
                    }
                }
            }
        }
        h3 { "Every label (" (l.labels) " labels on " (l.labelled_pairs) " pairs)" }
        table.wide {
            colgroup {
                @for width in ["26%", "26%", "10%", "12%", "10%", "16%"] {
                    col style=(format!("width:{width}"));
                }
            }
            tr {
                th { "generation" } th { "training image" } th { "similarity" } th { "label" }
                th { "reviewer" } th { "when" }
            }
            @for p in &l.pairs {
                tr {
                    td { (p.generation) }
                    td { (p.training) }
                    td { (format!("{:.3}", p.similarity)) }
                    td { (chip(&p.label)) }
                    td { (p.reviewer) }
                    td { (p.labelled_at) }
                }
            }
        }
    }
}

/// A thumbnail as a data URI, or why there is none.
fn thumb(location: &crate::catalog::ImageLocation) -> Markup {
    match super::review_html::data_uri(location) {
        Ok(uri) => html! { img src=(uri); },
        Err(why) => html! { span.muted { "(" (why) ")" } },
    }
}

fn top_pairs(pairs: &[TopPair]) -> Markup {
    html! {
        h2 { "Top pairs" }
        table.wide {
            colgroup {
                @for width in ["36%", "36%", "10%", "18%"] {
                    col style=(format!("width:{width}"));
                }
            }
            tr { th { "generation" } th { "training image" } th { "similarity" } th { "label" } }
            @for p in pairs {
                tr {
                    td {
                        (thumb(&crate::catalog::ImageLocation::File(p.generation_path.clone())))
                        br;
                        (p.generation)
                    }
                    td {
                        (thumb(&p.training_path)) br; (p.training)
                        @if let Some(url) = &p.training_url {
                            br; span.muted { "url: " (url) }
                        }
                    }
                    td { (format!("{:.3}", p.similarity)) }
                    td { (pair_chip(p)) }
                }
            }
        }
    }
}

/// The most phrases the page lists (the JSON has them all).
const PHRASES_SHOWN: usize = 40;

fn prompt_side(report: &AuditReport) -> Markup {
    let side = &report.prompts;
    let basis = if side.basis == "labels" {
        "a generation counts as replicated when a reviewer's final label on one of its pairs is full or near copy (only labelled generations are counted)".to_string()
    } else {
        format!(
            "a generation counts as replicated when its highest similarity is ≥ {:.2}",
            report.threshold
        )
    };
    let p = |v: f64| {
        if v < 1e-4 {
            format!("{v:.2e}")
        } else {
            format!("{v:.4}")
        }
    };
    html! {
        h2 { "Prompts: phrases that go with copying" }
        @if let Some(split) = &side.sources {
            p { "Generations made from captions sampled from the training set ("
                (split.linked) " linked to their caption), by what they copy:" }
            table {
                tr { th { "copy their own caption's training image" } td { (rate(&split.own_source)) } }
                tr { th { "copy another training image" } td { (rate(&split.other_training)) } }
                tr { th { "copy nothing" } td { (rate(&split.nothing)) } }
            }
        }
        @if report.prompt_phrases.is_empty() {
            p.muted { "No phrase is used by " (side.min_generations) " or more of the "
                (side.generations) " generations with a prompt." }
        } @else {
            p { "Every phrase of one to four words (case and punctuation normalised, function words not alone) used by at least "
                (side.min_generations) " of the " (side.generations)
                " generations with a prompt; " (basis) ". p: one-sided Fisher's exact test against the generations without the phrase; q: Benjamini-Hochberg over all "
                (report.prompt_phrases.len()) " phrases tested. The first " (PHRASES_SHOWN.min(report.prompt_phrases.len())) " by p:" }
            table {
                tr { th { "phrase" } th { "generations" } th { "replicated" } th { "rate (95% interval)" } th { "p" } th { "q" } }
                @for s in report.prompt_phrases.iter().take(PHRASES_SHOWN) {
                    tr {
                        td { (s.phrase) }
                        td { (s.generations) }
                        td { (s.replicated) }
                        td { (format!("{:.1}% ({:.1}-{:.1}%)", s.rate * 100.0, s.ci95[0] * 100.0, s.ci95[1] * 100.0)) }
                        td { (p(s.p_value)) }
                        td { (p(s.q_value)) }
                    }
                }
            }
        }
        @if !side.in_captions.is_empty() && side.in_captions.iter().all(|c| c.all.total == 0) {
            p.muted { "The training images have no captions, so the top phrases cannot be looked up in them." }
        } @else if !side.in_captions.is_empty() {
            p { "The top phrases in the captions of the training images replicated, against all training captions:" }
            table {
                tr { th { "phrase" } th { "matched training images' captions" } th { "all training captions" } }
                @for c in &side.in_captions {
                    tr { td { (c.phrase) } td { (rate(&c.matched)) } td { (rate(&c.all)) } }
                }
            }
        }
        @if let Some(why) = &side.captions_unavailable {
            p.muted { (why) }
        }
    }
}

fn provenance(report: &AuditReport) -> Markup {
    let v = &report.provenance;
    let mut rows: Vec<(&str, String)> = Vec::new();
    match &v.settings {
        Some(how) => {
            let decided = |reason: &Option<String>| reason.clone().unwrap_or_default();
            rows.extend([
                ("scan settings", how.summary_line()),
                (
                    "threshold",
                    format!("{:.2} ({})", report.threshold, report.threshold_source),
                ),
                (
                    "regions",
                    format!(
                        "{} (asked {}); {}",
                        how.regions_flag(),
                        how.regions_asked,
                        decided(&how.regions_reason)
                    ),
                ),
                (
                    "shortlist cascade",
                    format!(
                        "{} (asked {}); {}",
                        how.shortlist_size
                            .map_or_else(|| "off".to_string(), |n| format!("on, top {n}")),
                        how.shortlist_asked,
                        decided(&how.shortlist_reason)
                    ),
                ),
                ("loading", how.loading.clone()),
                (
                    "reproduce",
                    format!("replicant scan {}", how.reproduce_flags()),
                ),
            ]);
        }
        None => rows.push((
            "scan settings",
            "not recorded (the scan is from before settings were saved; scan again to record them)"
                .into(),
        )),
    }
    rows.extend([
        ("model", v.model_key.to_string()),
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
    ]);
    html! {
        h2 { "Provenance" }
        table.wide {
            colgroup { col style="width:22%"; col; }
            @for (name, value) in &rows {
                tr { th { (name) } td { (value) } }
            }
        }
    }
}

/// A label as a coloured chip.
fn chip(label: &str) -> Markup {
    let class = match label {
        "full_copy" | "near_copy" | "distinct" => label,
        _ => "unlabelled",
    };
    html! { span class=(format!("chip {class}")) { (label.replace('_', " ")) } }
}

/// A top pair's label: its final label, "disputed" with each reviewer's while they disagree,
/// or "unlabelled".
fn pair_chip(p: &TopPair) -> Markup {
    match (&p.label, p.reviewers.len()) {
        (Some(label), _) => chip(label),
        (None, 0) => html! { span.chip.unlabelled { "unlabelled" } },
        (None, _) => html! {
            span.chip.disputed { "disputed" }
            @for (who, label) in &p.reviewers {
                " " (who) ": " (chip(label))
            }
        },
    }
}

/// Which similarity bands the estimated copy rate rests on: the labelled ones, merged into
/// ranges, and how many generations lie in bands nobody labelled.
fn bands_covered(e: &crate::stats::CopyRateEstimate) -> String {
    let mut ranges: Vec<(f32, f32, usize)> = Vec::new();
    for b in e.bands.iter().filter(|b| b.labelled > 0) {
        let to = b.from + crate::stats::BAND;
        match ranges.last_mut() {
            Some(last) if (last.1 - b.from).abs() < 1e-4 => {
                last.1 = to;
                last.2 += b.generations;
            }
            _ => ranges.push((b.from, to, b.generations)),
        }
    }
    if ranges.is_empty() {
        return format!(
            "No band has a labelled pair yet: all {} generations are in bands without labels, which add nothing.",
            e.unlabelled_generations
        );
    }
    let covered: usize = ranges.iter().map(|r| r.2).sum();
    format!(
        "It covers the similarity bands {} ({covered} generations); the {} generations in bands without a labelled pair add nothing to it.",
        ranges
            .iter()
            .map(|(from, to, _)| format!("{from:.2}-{to:.2}"))
            .collect::<Vec<_>>()
            .join(", "),
        e.unlabelled_generations
    )
}
