//! The keys and the label definitions (`?`); each key can be changed here (the settings keep
//! it).

use super::commands::{Command, SettingCommand};
use super::keys::KeyAction;
use super::settings::Settings;
use crate::review::Label;

/// Keys that are not configurable: the grid's moves and the compare view's mouse.
const FIXED: &[(&str, &str)] = &[
    ("Arrows, Shift+arrows", "Grid: move, extend the selection"),
    ("Ctrl+A", "Grid: select the page"),
    ("Page Up / Page Down", "Grid: previous / next page"),
    ("Enter", "Grid: open the generation in the pair view"),
    ("Wheel / pinch", "Zoom both images"),
    ("Drag", "Pan both images"),
    ("Double-click", "Fit"),
];

/// Draws the help window.
pub fn help_window(
    ctx: &egui::Context,
    settings: &Settings,
    rebinding: Option<KeyAction>,
    out: &mut Vec<Command>,
) {
    let mut open = true;
    egui::Window::new("Keys and labels")
        .open(&mut open)
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
        .show(ctx, |ui| {
            egui::Grid::new("keys")
                .num_columns(3)
                .spacing([24.0, 4.0])
                .striped(true)
                .show(ui, |ui| {
                    for action in KeyAction::ALL {
                        let waiting = rebinding == Some(action);
                        let shown = if waiting {
                            "press a key… (Esc cancels)".to_string()
                        } else {
                            settings.keys.shown(action)
                        };
                        ui.label(egui::RichText::new(shown).monospace().strong());
                        ui.label(action.title());
                        if ui
                            .small_button(if waiting { "Cancel" } else { "Change" })
                            .on_hover_text("Change this key; the settings keep it")
                            .clicked()
                        {
                            out.push(Command::Rebind((!waiting).then_some(action)));
                        }
                        ui.end_row();
                    }
                    for (key, what) in FIXED {
                        ui.label(egui::RichText::new(*key).monospace().strong());
                        ui.label(*what);
                        ui.label("");
                        ui.end_row();
                    }
                });
            if ui.small_button("Default keys").clicked() {
                out.push(Command::Setting(SettingCommand::DefaultKeys));
            }
            ui.separator();
            for label in Label::ALL {
                ui.horizontal_wrapped(|ui| {
                    ui.label(
                        egui::RichText::new(label.title())
                            .strong()
                            .color(super::list::label_colour(label)),
                    );
                    ui.label(format!("— {}.", label.definition()));
                });
            }
        });
    if !open {
        out.push(Command::ToggleHelp);
    }
}
