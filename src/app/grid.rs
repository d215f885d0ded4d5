//! Grid triage: a page of generations, each beside its top match with the similarity and any
//! label, as many as the window holds. Select with the mouse (Shift extends, Ctrl toggles) or
//! the arrows, label the selection with one key (one store transaction, one undo step), open a
//! pair with Enter, and label the rest of the page distinct after a question.

use super::commands::{Command, GridCommand};
use super::desk::{Desk, Question};
use super::list::{chip, label_colour, similarity_colour, similarity_text, thumbnail_in};
use super::settings::Settings;
use super::thumbs::ThumbnailCache;

/// A tile's size in points: two thumbnails side by side above a line of text.
const TILE: egui::Vec2 = egui::vec2(300.0, 168.0);
const THUMB: f32 = 132.0;

/// Draws the grid.
pub fn grid_ui(
    ui: &mut egui::Ui,
    desk: &Desk,
    thumbs: &mut ThumbnailCache,
    settings: &Settings,
    out: &mut Vec<Command>,
) {
    let order = desk.view().order();
    let grid = desk.view().grid();
    let per_page = grid.per_page();
    let pages = order.len().div_ceil(per_page).max(1);
    let page = grid.first / per_page;
    let rest = desk.rest_of_page().len();
    egui::Panel::top("grid-head").show(ui, |ui| {
        ui.horizontal(|ui| {
            if ui
                .button("<")
                .on_hover_text("Previous page (Page Up)")
                .clicked()
            {
                out.push(Command::Grid(GridCommand::Page(-1)));
            }
            ui.label(format!("Page {} of {pages}", page + 1));
            if ui
                .button(">")
                .on_hover_text("Next page (Page Down)")
                .clicked()
            {
                out.push(Command::Grid(GridCommand::Page(1)));
            }
            ui.separator();
            ui.label(format!(
                "{} selected · 1 / 2 / 3 label the selection · Enter opens · G for the pair view",
                grid.selected.len()
            ));
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui
                    .add_enabled(
                        rest > 0,
                        egui::Button::new(format!(
                            "Label the rest of this page distinct ({rest})…"
                        )),
                    )
                    .on_hover_text(
                        "Labels every unlabelled top pair on this page distinct, after asking",
                    )
                    .clicked()
                {
                    out.push(Command::AskLabelRestOfPage);
                }
            });
        });
    });
    let available = ui.available_size();
    let spacing = ui.spacing().item_spacing;
    let columns = (((available.x + spacing.x) / (TILE.x + spacing.x)).floor() as usize).max(1);
    let rows = (((available.y + spacing.y) / (TILE.y + spacing.y)).floor() as usize).max(1);
    if (columns, rows) != (grid.columns, grid.rows) {
        out.push(Command::Grid(GridCommand::Layout { columns, rows }));
    }
    let first = grid.first;
    egui::Grid::new("tiles").spacing(spacing).show(ui, |ui| {
        for (n, &i) in order.iter().enumerate().skip(first).take(columns * rows) {
            tile_ui(ui, desk, i, n, thumbs, settings, out);
            if (n - first + 1).is_multiple_of(columns) {
                ui.end_row();
            }
        }
    });
    if order.is_empty() {
        ui.centered_and_justified(|ui| ui.label("No generation in the list."));
    }
}

fn tile_ui(
    ui: &mut egui::Ui,
    desk: &Desk,
    i: usize,
    position: usize,
    thumbs: &mut ThumbnailCache,
    settings: &Settings,
    out: &mut Vec<Command>,
) {
    let Some(result) = desk.review().result(i) else {
        return;
    };
    let grid = desk.view().grid();
    let selected = grid.selected.contains(&i);
    let cursor = grid.cursor == position;
    let (rect, response) = ui.allocate_exact_size(TILE, egui::Sense::click());
    response.widget_info(|| {
        egui::WidgetInfo::selected(egui::Role::Button, true, selected, &result.generation)
    });
    if response.clicked() {
        let modifiers = ui.input(|i| i.modifiers);
        out.push(Command::Grid(GridCommand::Click {
            position,
            extend: modifiers.shift,
            toggle: modifiers.command,
        }));
    }
    if response.double_clicked() {
        out.push(Command::Grid(GridCommand::Open));
    }
    let visuals = ui.visuals();
    let fill = if selected {
        visuals.selection.bg_fill
    } else if response.hovered() {
        visuals.widgets.hovered.weak_bg_fill
    } else {
        visuals.faint_bg_color
    };
    ui.painter().rect_filled(rect, 6.0, fill);
    if cursor {
        ui.painter().rect_stroke(
            rect,
            6.0,
            egui::Stroke::new(2.0, visuals.selection.stroke.color),
            egui::StrokeKind::Inside,
        );
    }
    let pad = 6.0;
    let left = egui::Rect::from_min_size(rect.min + egui::vec2(pad, pad), egui::vec2(THUMB, THUMB));
    let right = egui::Rect::from_min_size(
        egui::pos2(rect.right() - pad - THUMB, rect.top() + pad),
        egui::vec2(THUMB, THUMB),
    );
    thumbnail_in(
        ui,
        thumbs,
        &crate::catalog::ImageLocation::File(result.generation_path.clone()),
        left,
    );
    match result.matches.first() {
        Some(top) => thumbnail_in(ui, thumbs, &top.training_path, right),
        None => {
            ui.painter().text(
                right.center(),
                egui::Align2::CENTER_CENTER,
                if desk.review().is_pending(i) {
                    "pending"
                } else {
                    "no match"
                },
                egui::FontId::proportional(13.0),
                visuals.weak_text_color(),
            );
        }
    }
    let line = egui::Rect::from_min_max(
        egui::pos2(rect.left() + pad, left.bottom() + 4.0),
        egui::pos2(rect.right() - pad, rect.bottom() - 2.0),
    );
    let mut child = ui.new_child(
        egui::UiBuilder::new()
            .max_rect(line)
            .layout(egui::Layout::left_to_right(egui::Align::Center)),
    );
    if let Some(top) = result.matches.first() {
        chip(
            &mut child,
            &similarity_text(top.similarity),
            similarity_colour(top.similarity, settings.threshold),
        );
    }
    if let Some(label) = desk.review().pair_label((i, 0)) {
        chip(&mut child, label.title(), label_colour(label));
    }
    child.add(egui::Label::new(egui::RichText::new(&result.generation).small()).truncate());
}

/// Asks before a bulk action.
pub fn question_window(ctx: &egui::Context, question: &Question, out: &mut Vec<Command>) {
    match question {
        Question::LabelRestOfPage(rest) => {
            egui::Window::new("Label the rest of this page?")
                .collapsible(false)
                .resizable(false)
                .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
                .show(ctx, |ui| {
                    ui.label(format!(
                        "Label the {} unlabelled pairs on this page distinct? One undo takes them all back.",
                        rest.len()
                    ));
                    ui.horizontal(|ui| {
                        if ui.button("Label distinct").clicked() {
                            out.push(Command::LabelRestOfPage);
                        }
                        if ui.button("Cancel").clicked() {
                            out.push(Command::DismissQuestion);
                        }
                    });
                });
        }
    }
}
