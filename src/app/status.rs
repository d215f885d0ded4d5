//! The status bar: the scan's progress, rate, ETA, skipped files and Cancel; the last label
//! write and the frame-time readout.

use super::commands::Command;
use super::desk::Desk;
use super::frame_stats::FrameStats;
use super::settings::Settings;
use crate::scan::ScanPhase;

/// Draws the status bar.
///
/// Over 100 lines on purpose: an immediate-mode panel drawn left to right in screen order; its
/// parts share `ui` and `out`, so one function reads in the order the reviewer sees it.
pub fn status_ui(
    ui: &mut egui::Ui,
    desk: &Desk,
    frames: &FrameStats,
    settings: &Settings,
    out: &mut Vec<Command>,
) {
    ui.horizontal(|ui| {
        let scan = desk.scan();
        if scan.running() {
            let progress = scan.progress();
            let phase = match scan.phase() {
                Some(ScanPhase::Cataloguing) | None => "Cataloguing",
                Some(ScanPhase::LoadingModel) => "Loading model",
                Some(ScanPhase::Embedding) => "Embedding",
                Some(ScanPhase::Indexing) => "Indexing",
                Some(ScanPhase::Rescoring) => "Re-scoring shortlists",
                Some(ScanPhase::FineWindows) => "Fine windows",
            };
            let fraction = if progress.total == 0 {
                0.0
            } else {
                progress.done as f32 / progress.total as f32
            };
            ui.add(
                egui::ProgressBar::new(fraction)
                    .desired_width(220.0)
                    .text(format!("{phase} {}/{}", progress.done, progress.total)),
            );
            if progress.images_per_sec > 0.0 {
                ui.label(format!("{:.1} images/s", progress.images_per_sec));
            }
            if let Some(eta) = progress.eta_secs {
                ui.label(format!("ETA {}", format_duration(eta)));
            }
            if ui.button("Cancel").clicked() {
                out.push(Command::CancelScan);
            }
        } else if let Some(failed) = scan.failed() {
            ui.colored_label(
                ui.visuals().error_fg_color,
                format!("Scan failed: {failed}"),
            );
            if ui.button("Retry").clicked() {
                out.push(Command::StartScan);
            }
        } else if let Some(summary) = scan.summary() {
            ui.label(format!(
                "{} generations · {} training · {:.1}% at or above {:.2} · {} on {}",
                summary.generations,
                summary.training_images,
                summary.replication_rate() * 100.0,
                settings.threshold,
                if summary.exact_search {
                    "exact"
                } else {
                    "approximate"
                },
                summary.execution_provider
            ));
            match &summary.cascade {
                Some(cascade) => {
                    ui.label(format!(
                        "cascade: {} full-SSCD embeddings saved",
                        cascade.full_embeddings_saved
                    ))
                    .on_hover_text(format!(
                        "Training images were indexed with {}; each generation's top {} were re-scored with full SSCD, with their near duplicates by the student for duplicate counts ({} training images in all, {} embedded now, {} of them near duplicates). Similarities are full SSCD's.",
                        cascade.shortlist_model,
                        cascade.shortlist_size,
                        cascade.rescored,
                        cascade.rescored_embedded,
                        cascade.duplicate_neighbours
                    ));
                }
                None => {
                    ui.weak("cascade off")
                        .on_hover_text("Every training image was embedded with the scan's model");
                }
            }
        } else {
            ui.label(format!("{} generations", desk.review().results().len()));
        }
        if !scan.running()
            && let Some(how) = scan.settings() {
                ui.separator();
                ui.weak(how.short_line()).on_hover_text(format!(
                    "How these results were made (saved in the project; the report says the same):\n{}\nAgain: replicant scan {}{}{}",
                    how.summary_line(),
                    how.reproduce_flags(),
                    how.regions_reason
                        .as_ref()
                        .map_or_else(String::new, |why| format!("\nRegions: {why}")),
                    how.shortlist_reason
                        .as_ref()
                        .map_or_else(String::new, |why| format!("\nCascade: {why}")),
                ));
            }
        let skipped = scan.skipped().len();
        if skipped > 0
            && ui
                .link(format!("{skipped} skipped or noted"))
                .on_hover_text(
                    "Files that could not be used, and notes about files that were, with reasons",
                )
                .clicked()
        {
            out.push(Command::ToggleSkipped);
        }
        if let Some(path) = desk.export().running() {
            ui.separator();
            let (done, total) = desk.export().progress();
            let fraction = if total == 0 {
                0.0
            } else {
                done as f32 / total as f32
            };
            ui.add(
                egui::ProgressBar::new(fraction)
                    .desired_width(160.0)
                    .text(format!("Exporting {done}/{total}")),
            )
            .on_hover_text(path.display().to_string());
            if ui.button("Cancel export").clicked() {
                out.push(Command::CancelExport);
            }
        }
        if let Some((done, total)) = desk.report().embedding() {
            ui.separator();
            ui.add(
                egui::ProgressBar::new(done as f32 / total.max(1) as f32)
                    .desired_width(160.0)
                    .text(format!("Report baseline {done}/{total}")),
            )
            .on_hover_text("The evidence report embeds its baseline's sampled training images and their shortlists with full SSCD (the scan ran the shortlist cascade); they are cached");
            if ui.button("Cancel report").clicked() {
                out.push(Command::CancelReport);
            }
        }
        ui.separator();
        let review = desk.review();
        let left = desk
            .view()
            .order()
            .iter()
            .filter(|&&i| review.generation_label(i).is_none())
            .count();
        ui.label(format!("{left} left in this list"))
            .on_hover_text("Generations in the list (with its filters) that have no label yet");
        if let Some(pace) = review.pace_per_hour() {
            ui.label(format!("{pace:.0} pairs/h"))
                .on_hover_text("Labelling pace this session, over the last labels");
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if settings.show_frame_time
                && let Some(p95) = frames.p95_ms() {
                    ui.weak(format!("frame p95 {p95:.1} ms"))
                        .on_hover_text(format!(
                            "UI time per frame, 95th percentile of the last {} frames",
                            frames.frames()
                        ));
                }
            if let Some(write) = desk.review().last_write() {
                ui.weak(format!(
                    "label saved in {:.1} ms",
                    write.as_secs_f64() * 1000.0
                ));
            }
            ui.weak(format!("reviewer: {}", settings.reviewer));
        });
    });
}

/// "1 min 20 s" style.
pub fn format_duration(secs: f64) -> String {
    let secs = secs.max(0.0).round() as u64;
    if secs >= 3600 {
        format!("{} h {} min", secs / 3600, secs % 3600 / 60)
    } else if secs >= 60 {
        format!("{} min {} s", secs / 60, secs % 60)
    } else {
        format!("{secs} s")
    }
}

/// The list of skipped files (and notes) with reasons.
pub fn skipped_window(ctx: &egui::Context, desk: &Desk, out: &mut Vec<Command>) {
    let mut open = true;
    egui::Window::new(format!(
        "Skipped and noted files ({})",
        desk.scan().skipped().len()
    ))
    .open(&mut open)
    .default_size([640.0, 360.0])
    .show(ctx, |ui| {
        egui::ScrollArea::vertical().show(ui, |ui| {
            egui::Grid::new("skipped")
                .num_columns(2)
                .striped(true)
                .spacing([12.0, 4.0])
                .show(ui, |ui| {
                    for file in desk.scan().skipped() {
                        ui.label(
                            egui::RichText::new(format!("{} {}", file.side, file.path)).monospace(),
                        );
                        ui.add(egui::Label::new(&file.reason).wrap());
                        ui.end_row();
                    }
                });
        });
    });
    if !open {
        out.push(Command::ToggleSkipped);
    }
}
