//! The statistics panel: the histogram of top-1 similarities with the threshold line, the
//! counts at or above the threshold and 0.95, the replication rate, and counts per label.

use super::desk::Desk;
use super::settings::Settings;
use crate::pipeline::DUPLICATE_SIMILARITY;
use crate::review::Label;

const BINS: usize = 40;

/// Draws the panel.
pub fn stats_ui(ui: &mut egui::Ui, desk: &Desk, settings: &Settings) {
    ui.heading("Statistics");
    let tops: Vec<f32> = desk
        .review()
        .results()
        .iter()
        .filter_map(|r| r.top_similarity())
        .collect();
    let n = tops.len();
    let at_threshold = tops.iter().filter(|&&s| s >= settings.threshold).count();
    let duplicates = tops.iter().filter(|&&s| s >= DUPLICATE_SIMILARITY).count();
    let share = |k: usize| {
        if n == 0 {
            0.0
        } else {
            100.0 * k as f64 / n as f64
        }
    };

    ui.label(egui::RichText::new("Top-1 similarity").strong());
    let mut counts = [0usize; BINS];
    for s in &tops {
        let bin = ((s.clamp(0.0, 0.999_9)) * BINS as f32) as usize;
        counts[bin.min(BINS - 1)] += 1;
    }
    let max = counts.iter().copied().max().unwrap_or(1).max(1);
    let (rect, _) = ui.allocate_exact_size(
        egui::vec2(ui.available_width(), 140.0),
        egui::Sense::hover(),
    );
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
    let bar_w = rect.width() / BINS as f32;
    for (i, &count) in counts.iter().enumerate() {
        let h = (rect.height() - 14.0) * count as f32 / max as f32;
        let lo = i as f32 / BINS as f32;
        let colour = super::list::similarity_colour(lo + 0.5 / BINS as f32, settings.threshold);
        let x = rect.left() + i as f32 * bar_w;
        painter.rect_filled(
            egui::Rect::from_min_max(
                egui::pos2(x + 0.5, rect.bottom() - 12.0 - h),
                egui::pos2(x + bar_w - 0.5, rect.bottom() - 12.0),
            ),
            0.0,
            colour,
        );
    }
    let tx = rect.left() + settings.threshold.clamp(0.0, 1.0) * rect.width();
    painter.line_segment(
        [
            egui::pos2(tx, rect.top()),
            egui::pos2(tx, rect.bottom() - 12.0),
        ],
        egui::Stroke::new(2.0, ui.visuals().strong_text_color()),
    );
    painter.text(
        egui::pos2(tx + 3.0, rect.top() + 2.0),
        egui::Align2::LEFT_TOP,
        format!("{:.2}", settings.threshold),
        egui::FontId::proportional(11.0),
        ui.visuals().strong_text_color(),
    );
    for tick in [0.0f32, 0.25, 0.5, 0.75, 1.0] {
        let x = rect.left() + tick * rect.width();
        painter.text(
            egui::pos2(
                x.clamp(rect.left() + 8.0, rect.right() - 8.0),
                rect.bottom(),
            ),
            egui::Align2::CENTER_BOTTOM,
            format!("{tick}"),
            egui::FontId::proportional(10.0),
            ui.visuals().weak_text_color(),
        );
    }
    ui.add_space(8.0);
    egui::Grid::new("stats")
        .num_columns(2)
        .spacing([16.0, 4.0])
        .show(ui, |ui| {
            ui.label("Generations");
            ui.label(n.to_string());
            ui.end_row();
            ui.label(format!("Top-1 ≥ {:.2}", settings.threshold));
            ui.label(format!("{at_threshold} ({:.1}%)", share(at_threshold)));
            ui.end_row();
            ui.label("Top-1 ≥ 0.95");
            ui.label(format!("{duplicates} ({:.1}%)", share(duplicates)));
            ui.end_row();
            ui.label(egui::RichText::new("Replication rate").strong());
            ui.label(egui::RichText::new(format!("{:.1}%", share(at_threshold))).strong());
            ui.end_row();
        });
    ui.add_space(8.0);
    ui.label(egui::RichText::new("Labelled pairs").strong());
    egui::Grid::new("labels")
        .num_columns(2)
        .spacing([16.0, 4.0])
        .show(ui, |ui| {
            for label in Label::ALL {
                let count = desk
                    .review()
                    .records()
                    .filter(|r| r.label == Some(label))
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
        });
}
