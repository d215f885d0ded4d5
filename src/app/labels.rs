//! The label bar under the pair view: the three labels with their keys, clear, undo and redo,
//! moving between generations, the grid and help, then the pair's note.

use super::commands::Command;
use super::desk::Desk;
use super::list::label_colour;
use crate::review::Label;

/// Over 100 lines on purpose: the label bar drawn left to right in screen order (the three labels
/// with their keys, clear, undo and redo, moving between generations, the grid and help, then the
/// note); one function reads in the order the reviewer sees it.
pub(super) fn labels_ui(ui: &mut egui::Ui, desk: &Desk, out: &mut Vec<Command>) {
    let at = desk.current_at();
    let record = at.and_then(|at| desk.review().pair_record(at));
    ui.add_space(4.0);
    ui.horizontal_wrapped(|ui| {
        for (key, label) in [
            ("1", Label::FullCopy),
            ("2", Label::NearCopy),
            ("3", Label::Distinct),
        ] {
            let active = record.and_then(|r| r.label) == Some(label);
            let text = egui::RichText::new(format!("{key}  {}", label.title()))
                .strong()
                .color(if active {
                    egui::Color32::WHITE
                } else {
                    label_colour(label)
                });
            let button = egui::Button::new(text)
                .min_size(egui::vec2(100.0, 30.0))
                .fill(if active {
                    label_colour(label)
                } else {
                    ui.visuals().widgets.inactive.weak_bg_fill
                });
            if ui
                .add_enabled(at.is_some(), button)
                .on_hover_text(label.definition())
                .clicked()
            {
                out.push(Command::Label(Some(label)));
            }
        }
        if ui
            .add_enabled(
                record.is_some_and(|r| r.label.is_some()),
                egui::Button::new("0  Clear").min_size(egui::vec2(64.0, 30.0)),
            )
            .clicked()
        {
            out.push(Command::Label(None));
        }
        ui.separator();
        if ui.button("Undo").on_hover_text("Ctrl+Z").clicked() {
            out.push(Command::Undo);
        }
        if ui.button("Redo").on_hover_text("Ctrl+Shift+Z").clicked() {
            out.push(Command::Redo);
        }
        ui.separator();
        if ui
            .button("< K")
            .on_hover_text("Previous generation")
            .clicked()
        {
            out.push(Command::PreviousGeneration);
        }
        if ui.button("J >").on_hover_text("Next generation").clicked() {
            out.push(Command::NextGeneration);
        }
        if ui
            .button("N  Next unlabelled")
            .on_hover_text("Next unlabelled generation at or above the threshold")
            .clicked()
        {
            out.push(Command::NextUnlabelled);
        }
        if ui
            .button("G  Grid")
            .on_hover_text("Many generations at once, each beside its top match")
            .clicked()
        {
            out.push(Command::ToggleGrid);
        }
        if ui
            .button("?")
            .on_hover_text("Keys and label definitions")
            .clicked()
        {
            out.push(Command::ToggleHelp);
        }
    });
    ui.horizontal(|ui| {
        ui.label("Note");
        // The text being typed lives in the UI's memory, per pair; it is saved (a command)
        // when the field loses focus.
        let key = at.and_then(|at| desk.review().key_of(at));
        let id = ui.make_persistent_id(("note", key.clone()));
        let mut text: String = ui
            .data(|d| d.get_temp(id))
            .unwrap_or_else(|| record.map(|r| r.note.clone()).unwrap_or_default());
        let response = ui.add_enabled(
            key.is_some(),
            egui::TextEdit::singleline(&mut text)
                .hint_text("What was copied? (saved when you press Enter or leave the field)")
                .desired_width(ui.available_width() - 8.0),
        );
        if response.changed() {
            ui.data_mut(|d| d.insert_temp(id, text.clone()));
        }
        if response.lost_focus() {
            ui.data_mut(|d| d.remove::<String>(id));
            out.push(Command::SetNote(text));
        }
        if let Some(record) = record {
            response.on_hover_text(format!("{} · {}", record.reviewer, record.labelled_at));
        }
    });
    ui.add_space(2.0);
}
