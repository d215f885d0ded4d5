//! The small windows that ask or tell over the desk: replace a file?, who is reviewing?, and
//! the latest notices.

use std::path::PathBuf;

use super::commands::{Command, SettingCommand};
use super::settings::Settings;
use crate::export::ReviewFormat;

/// An export waiting for the reviewer's answer to "replace the existing file?".
pub(super) struct PendingOverwrite {
    pub(super) path: PathBuf,
    pub(super) format: ReviewFormat,
}

/// Asks whether to replace the file an export would write over.
pub(super) fn overwrite_window(
    ctx: &egui::Context,
    overwrite: &mut Option<PendingOverwrite>,
    out: &mut Vec<Command>,
) {
    let Some(pending) = overwrite.as_ref() else {
        return;
    };
    let mut answer = None;
    egui::Window::new("Replace file?")
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
        .show(ctx, |ui| {
            ui.label(format!("{} already exists.", pending.path.display()));
            ui.horizontal(|ui| {
                if ui.button("Replace").clicked() {
                    answer = Some(true);
                }
                if ui.button("Cancel").clicked() {
                    answer = Some(false);
                }
            });
        });
    if let Some(replace) = answer
        && let Some(pending) = overwrite.take()
        && replace
    {
        out.push(Command::Export {
            path: pending.path,
            format: pending.format,
            overwrite: true,
        });
    }
}

/// The latest notices, with a button to dismiss them.
pub(super) fn notices_window(ctx: &egui::Context, notices: &[String], out: &mut Vec<Command>) {
    if notices.is_empty() {
        return;
    }
    egui::Window::new("Notice")
        .collapsible(false)
        .anchor(egui::Align2::RIGHT_TOP, [-12.0, 40.0])
        .show(ctx, |ui| {
            for notice in notices.iter().rev().take(4) {
                ui.add(egui::Label::new(notice).wrap());
            }
            if ui.button("Dismiss").clicked() {
                out.push(Command::DismissNotices);
            }
        });
}

/// Asks once who is reviewing (the operating system's user by default): labels are stored
/// under this name, and blind review shows this reviewer's own.
pub(super) fn reviewer_window(ctx: &egui::Context, settings: &Settings, out: &mut Vec<Command>) {
    egui::Window::new("Who is reviewing?")
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_TOP, [0.0, 80.0])
        .show(ctx, |ui| {
            ui.label("Each label is stored under the reviewer's name; with several reviewers each keeps their own, and agreement is measured between them.");
            let mut name = settings.reviewer.clone();
            if ui.text_edit_singleline(&mut name).changed() {
                out.push(Command::Setting(SettingCommand::Reviewer(name)));
            }
            if ui
                .add_enabled(!settings.reviewer.trim().is_empty(), egui::Button::new("Start reviewing"))
                .clicked()
            {
                out.push(Command::Setting(SettingCommand::ConfirmReviewer));
            }
        });
}
