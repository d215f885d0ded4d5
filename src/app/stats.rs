//! The statistics panel: the generations' top-1 similarities beside the training set's own
//! (the paper's baseline) with the threshold line, the replication and duplicate rates with
//! Wilson intervals, counts per label, and, from the labels, the precision-recall curve and
//! the calibrated threshold. The baseline and the calibration come from the evidence report,
//! made off the UI thread when the panel opens (see [`crate::audit`]).

use egui_plot::{Bar, BarChart, Legend, Line, Plot, PlotPoints, VLine};

use super::commands::Command;
use super::desk::Desk;
use super::settings::Settings;
use crate::ranking::matches::DUPLICATE_SIMILARITY;
use crate::review::Label;
use crate::stats::Rate;

const BINS: usize = 40;
const GENERATIONS: egui::Color32 = egui::Color32::from_rgb(214, 39, 40);
const TRAINING: egui::Color32 = egui::Color32::from_rgb(31, 119, 180);

/// Shares of `values` in [`BINS`] bins over 0 to 1, as bars offset by `offset` of a bin.
fn bars(values: &[f32], offset: f64) -> Vec<Bar> {
    let width = 1.0 / BINS as f64;
    crate::stats::bin_shares(values, BINS)
        .into_iter()
        .enumerate()
        .map(|(i, share)| Bar::new((i as f64 + 0.25 + offset) * width, share).width(width / 2.0))
        .collect()
}

/// Draws the panel; `out` takes its commands (refreshing the report).
///
/// Over 100 lines on purpose: the statistics panel drawn top to bottom in screen order (headline
/// rate, labels, histogram, report); one function reads in the order the reviewer sees it.
pub fn stats_ui(ui: &mut egui::Ui, desk: &Desk, settings: &Settings, out: &mut Vec<Command>) {
    ui.heading("Statistics");
    let results = desk.review().results();
    // The scan summary's definition: every generation counts, its highest similarity among
    // the matches the scan wrote decides, whatever the ranking.
    let tops: Vec<f32> = results
        .iter()
        .map(|r| r.top_similarity().unwrap_or(0.0))
        .collect();
    let n = tops.len();
    let at_threshold = tops.iter().filter(|&&s| s >= settings.threshold).count();
    let duplicates = tops.iter().filter(|&&s| s >= DUPLICATE_SIMILARITY).count();
    let report = desk.report().last();

    ui.label(egui::RichText::new("Top-1 similarity (share of each set)").strong());
    let line_colour = ui.visuals().strong_text_color();
    Plot::new("top1")
        .height(150.0)
        .include_x(0.0)
        .include_x(1.0)
        .include_y(0.0)
        .allow_zoom(false)
        .allow_drag(false)
        .legend(Legend::default())
        .show(ui, |plot| {
            plot.bar_chart(
                BarChart::new("generation vs training", bars(&tops, 0.0)).color(GENERATIONS),
            );
            if let Some(baseline) = report.and_then(|r| r.baseline.as_ref()) {
                plot.bar_chart(
                    BarChart::new("training vs training", bars(&baseline.train_top1, 0.5))
                        .color(TRAINING),
                );
            }
            plot.vline(
                VLine::new(
                    format!("threshold {:.2}", settings.threshold),
                    settings.threshold,
                )
                .color(line_colour),
            );
        });

    ui.add_space(6.0);
    let rate_text = |count: usize| {
        let rate = Rate::of(count, n);
        format!(
            "{count} ({:.1}%, 95% CI {:.1}-{:.1}%)",
            rate.value * 100.0,
            rate.ci95[0] * 100.0,
            rate.ci95[1] * 100.0
        )
    };
    egui::Grid::new("stats")
        .num_columns(2)
        .spacing([16.0, 4.0])
        .show(ui, |ui| {
            ui.label("Generations");
            ui.label(n.to_string());
            ui.end_row();
            ui.label(format!("Top-1 ≥ {:.2}", settings.threshold));
            ui.label(rate_text(at_threshold));
            ui.end_row();
            ui.label(format!("Top-1 ≥ {DUPLICATE_SIMILARITY:.2}"));
            ui.label(rate_text(duplicates));
            ui.end_row();
            ui.label(egui::RichText::new("Replication rate").strong());
            ui.label(
                egui::RichText::new(format!("{:.1}%", Rate::of(at_threshold, n).value * 100.0))
                    .strong(),
            );
            ui.end_row();
        });

    ui.add_space(6.0);
    ui.horizontal(|ui| {
        ui.label(egui::RichText::new("Baseline and calibration").strong());
        if desk.report().running() {
            ui.spinner();
        } else if ui
            .small_button("Refresh")
            .on_hover_text("Make the evidence report again from the project (off the UI thread)")
            .clicked()
        {
            out.push(Command::Report(None));
        }
    });
    if let Some(why) = desk.report().error() {
        ui.colored_label(ui.visuals().warn_fg_color, why);
    }
    if let Some(report) = report {
        report_ui(ui, report);
        ui.add_space(6.0);
        ui.label(egui::RichText::new("Prompt phrases that go with copying").strong());
        super::phrase_marks::phrases_ui(ui, report, desk.view().filter().phrase.as_deref(), out);
    }

    ui.add_space(6.0);
    ui.label(egui::RichText::new("Labelled pairs").strong());
    // Only the pairs of the scan on the desk: labels of pairs an earlier scan of other
    // folders found are kept in the store, counted apart.
    let current: std::collections::HashSet<crate::review::PairKey> = desk
        .review()
        .results()
        .iter()
        .flat_map(|r| {
            r.matches
                .iter()
                .filter_map(move |m| crate::review::PairKey::of(r, m))
        })
        .collect();
    let left_out = desk
        .review()
        .records()
        .filter(|r| r.label.is_some() && !current.contains(&r.key))
        .count();
    egui::Grid::new("labels")
        .num_columns(2)
        .spacing([16.0, 4.0])
        .show(ui, |ui| {
            for label in Label::ALL {
                let count = desk
                    .review()
                    .records()
                    .filter(|r| r.label == Some(label) && current.contains(&r.key))
                    .count();
                ui.label(
                    egui::RichText::new(label.title()).color(super::list::label_colour(label)),
                );
                ui.label(count.to_string());
                ui.end_row();
            }
            let review = desk.review();
            let generations: usize = (0..review.results().len())
                .filter(|&i| review.generation_label(i).is_some())
                .count();
            ui.label("Generations labelled");
            ui.label(format!("{generations} of {n}"));
            ui.end_row();
            if left_out > 0 {
                ui.label("Left out");
                ui.label(format!(
                    "{left_out} labelled pairs of an earlier scan (not among this scan's pairs)"
                ));
                ui.end_row();
            }
        });
}

/// The report's baseline percentiles, the calibrated threshold and the precision-recall curve.
fn report_ui(ui: &mut egui::Ui, report: &crate::export::report::AuditReport) {
    match (&report.baseline, &report.baseline_unavailable) {
        (Some(b), _) => {
            egui::Grid::new("baseline")
                .num_columns(5)
                .spacing([10.0, 2.0])
                .show(ui, |ui| {
                    ui.label("");
                    for p in ["p50", "p90", "p95", "p99"] {
                        ui.label(p);
                    }
                    ui.end_row();
                    let row = |ui: &mut egui::Ui, name: &str, p: &crate::stats::Percentiles| {
                        ui.label(name);
                        for v in [p.p50, p.p90, p.p95, p.p99] {
                            ui.label(format!("{v:.2}"));
                        }
                        ui.end_row();
                    };
                    row(ui, &format!("training ({})", b.sample), &b.train_train);
                    if let Some(g) = &b.generation_train {
                        row(ui, "generations", g);
                    }
                });
        }
        (None, Some(why)) => {
            ui.weak(format!("No baseline: {why}"));
        }
        (None, None) => {}
    }
    let c = &report.calibration;
    ui.label(match (c.threshold, c.precision, c.recall) {
        (Some(t), Some(p), Some(r)) => format!(
            "Calibrated threshold for precision {:.2}: {t:.3} (precision {p:.2}, recall {r:.2}; {} labelled pairs)",
            c.target_precision, c.labelled_pairs
        ),
        _ => format!(
            "Calibrated threshold for precision {:.2}: none yet ({} labelled pairs)",
            c.target_precision, c.labelled_pairs
        ),
    });
    if !report.pr_curve.is_empty() {
        let points: PlotPoints<'_> = report
            .pr_curve
            .iter()
            .map(|p| [p.recall, p.precision])
            .collect();
        Plot::new("pr")
            .height(110.0)
            .include_x(0.0)
            .include_x(1.0)
            .include_y(0.0)
            .include_y(1.0)
            .allow_zoom(false)
            .allow_drag(false)
            .x_axis_label("recall")
            .y_axis_label("precision")
            .show(ui, |plot| {
                plot.line(Line::new("labelled pairs", points).color(GENERATIONS));
            });
    }
}
