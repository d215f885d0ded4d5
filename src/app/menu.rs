//! The menu bar: File (open, export, rescan, close), View (grid, statistics, frame time,
//! theme), Settings (reviewer, threshold, matches, model, auto-advance, keys) and Help.

use super::commands::{Command, SettingCommand};
use super::dialogs::DialogPurpose;
use super::settings::{Settings, ThemeChoice};

/// Draws the menu bar.
///
/// Over 100 lines on purpose: the menu bar, one menu after another in screen order; each item is
/// one line pushing a command.
pub fn menu_ui(ui: &mut egui::Ui, settings: &Settings, open: bool, out: &mut Vec<Command>) {
    egui::MenuBar::new().ui(ui, |ui| {
        ui.menu_button("File", |ui| {
            if ui.button("Open generations…").clicked() {
                out.push(Command::CloseProject);
                out.push(Command::Pick(DialogPurpose::Generations));
            }
            if ui.button("Open project…").clicked() {
                out.push(Command::Pick(DialogPurpose::Project));
            }
            ui.separator();
            if ui
                .add_enabled(open, egui::Button::new("Export review set…"))
                .clicked()
            {
                out.push(Command::Pick(DialogPurpose::Export));
            }
            if ui
                .add_enabled(open, egui::Button::new("Evidence report…"))
                .on_hover_text("Rates with intervals, the training baseline, duplicate counts, labels and the calibrated threshold, as one HTML page (or JSON)")
                .clicked()
            {
                out.push(Command::Pick(DialogPurpose::Report));
            }
            ui.add_enabled_ui(open, |ui| {
                ui.menu_button("Sample for review", |ui| {
                    for n in [5, 10, 20, 50] {
                        if ui
                            .button(format!("{n} per similarity band"))
                            .on_hover_text("Draw generations at random from each 0.05 band of top-1 similarity, save the plan in the project, and list only them")
                            .clicked()
                        {
                            out.push(Command::SamplePlan(n));
                        }
                    }
                });
            });
            if ui.add_enabled(open, egui::Button::new("Rescan")).clicked() {
                out.push(Command::StartScan);
            }
            if ui
                .add_enabled(open, egui::Button::new("Close project"))
                .clicked()
            {
                out.push(Command::CloseProject);
            }
        });
        ui.menu_button("View", |ui| {
            if ui
                .add_enabled(open, egui::Button::new("Grid / pair view   G"))
                .clicked()
            {
                out.push(Command::ToggleGrid);
                ui.close();
            }
            let mut stats = settings.show_stats;
            if ui.checkbox(&mut stats, "Statistics").clicked() {
                out.push(Command::ToggleStats);
                ui.close();
            }
            let mut frame_time = settings.show_frame_time;
            if ui.checkbox(&mut frame_time, "Frame time").changed() {
                out.push(Command::Setting(SettingCommand::FrameTime(frame_time)));
            }
            ui.separator();
            ui.label("Theme");
            for (choice, name) in [
                (ThemeChoice::System, "System"),
                (ThemeChoice::Dark, "Dark"),
                (ThemeChoice::Light, "Light"),
            ] {
                if ui.radio(settings.theme == choice, name).clicked() {
                    out.push(Command::Setting(SettingCommand::Theme(choice)));
                }
            }
        });
        ui.menu_button("Settings", |ui| {
            ui.horizontal(|ui| {
                ui.label("Reviewer");
                let mut reviewer = settings.reviewer.clone();
                let field = ui.text_edit_singleline(&mut reviewer);
                if field.changed() {
                    out.push(Command::Setting(SettingCommand::Reviewer(reviewer)));
                }
                if field.lost_focus() {
                    out.push(Command::Setting(SettingCommand::ConfirmReviewer));
                }
            });
            ui.horizontal(|ui| {
                ui.label("Threshold");
                let mut threshold = settings.threshold;
                if ui
                    .add(egui::Slider::new(&mut threshold, 0.0..=1.0).step_by(0.01))
                    .changed()
                {
                    out.push(Command::Setting(SettingCommand::Threshold(threshold)));
                }
            });
            ui.horizontal(|ui| {
                ui.label("Matches per generation");
                let mut top_k = settings.top_k;
                if ui
                    .add(egui::DragValue::new(&mut top_k).range(1..=50))
                    .changed()
                {
                    out.push(Command::Setting(SettingCommand::TopK(top_k)));
                }
            });
            ui.horizontal(|ui| {
                ui.label("Model");
                egui::ComboBox::from_id_salt("model")
                    .selected_text(settings.model.clone())
                    .show_ui(ui, |ui| {
                        for model in crate::embed::ModelChoice::BUILT_IN.map(|m| m.name()) {
                            if ui
                                .selectable_label(settings.model == model, &model)
                                .clicked()
                            {
                                out.push(Command::Setting(SettingCommand::Model(model)));
                            }
                        }
                    });
            });
            let mut advance = settings.auto_advance;
            if ui
                .checkbox(&mut advance, "Next generation after a label")
                .on_hover_text("In the pair view, a label moves to the next generation of the list")
                .changed()
            {
                out.push(Command::Setting(SettingCommand::AutoAdvance(advance)));
            }
            if ui.button("Keys…").clicked() {
                out.push(Command::ToggleHelp);
                ui.close();
            }
            ui.small("Matches per generation and model apply from the next scan.");
        });
        ui.menu_button("Help", |ui| {
            if ui.button("Keys and labels   ?").clicked() {
                out.push(Command::ToggleHelp);
                ui.close();
            }
        });
    });
}
