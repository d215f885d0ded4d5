//! The keys and the label definitions (`?`).

use crate::review::Label;

const KEYS: &[(&str, &str)] = &[
    ("1", "Full copy"),
    ("2", "Near copy"),
    ("3", "Distinct"),
    ("0 / Backspace", "Clear the label"),
    ("J / Down", "Next generation"),
    ("K / Up", "Previous generation"),
    ("Right / Left", "Next / previous match"),
    ("N", "Next unlabelled generation at or above the threshold"),
    ("Ctrl+Z", "Undo"),
    ("Ctrl+Shift+Z / Ctrl+Y", "Redo"),
    (
        "M",
        "Next compare mode: side by side, overlay, difference, swipe, blink",
    ),
    ("A", "Aligned / corner to corner"),
    ("C", "Collage map"),
    ("Wheel / pinch", "Zoom both images"),
    ("Drag", "Pan both images"),
    ("Double-click", "Fit"),
    ("?", "Show or hide this help"),
];

/// Draws the help window while `open`.
pub fn help_window(ctx: &egui::Context, open: &mut bool) {
    egui::Window::new("Keys and labels")
        .open(open)
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
        .show(ctx, |ui| {
            egui::Grid::new("keys")
                .num_columns(2)
                .spacing([24.0, 4.0])
                .striped(true)
                .show(ui, |ui| {
                    for (key, what) in KEYS {
                        ui.label(egui::RichText::new(*key).monospace().strong());
                        ui.label(*what);
                        ui.end_row();
                    }
                });
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
}
