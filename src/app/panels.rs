//! The desk's panels around the pair or grid view: the status bar, the generations list, the
//! statistics and the central view, and the question asked over the grid.

use super::commands::Command;
use super::desk::{Desk, Mode};
use super::frame_stats::FrameStats;
use super::settings::Settings;
use super::thumbs::ThumbnailCache;
use super::{grid, list, pair, stats, status};

/// Lays out an open project's panels; what they ask for goes to `out`.
pub(super) fn desk_panels(
    ui: &mut egui::Ui,
    desk: &Desk,
    thumbs: &mut ThumbnailCache,
    settings: &mut Settings,
    frames: &FrameStats,
    out: &mut Vec<Command>,
) {
    let ctx = ui.ctx().clone();
    egui::Panel::bottom("status").show(ui, |ui| status::status_ui(ui, desk, frames, settings, out));
    if desk.view().mode() == Mode::Pair {
        egui::Panel::left("generations")
            .resizable(true)
            .default_size(settings.list_width)
            .size_range(260.0..=720.0)
            .show(ui, |ui| {
                list::list_ui(ui, desk, thumbs, settings, out);
                settings.list_width = ui.min_rect().width();
            });
    }
    if settings.show_stats {
        egui::Panel::right("stats")
            .resizable(true)
            .default_size(320.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| stats::stats_ui(ui, desk, settings, out))
            });
    }
    egui::CentralPanel::default_margins().show(ui, |ui| match desk.view().mode() {
        Mode::Pair => pair::pair_ui(ui, desk, thumbs, settings, out),
        Mode::Grid => grid::grid_ui(ui, desk, thumbs, settings, out),
    });
    if let Some(question) = desk.view().question() {
        grid::question_window(&ctx, question, out);
    }
}
