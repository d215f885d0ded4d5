//! The generations list: a virtualised list of thumbnails with top-1 similarity (coloured by
//! band), label state and a prompt snippet; sort and filters on top.

use super::commands::{Command, ListCommand};
use super::desk::{Desk, LabelFilter, SortKey};
use super::settings::Settings;
use super::thumbs::{Thumb, ThumbnailCache};
use crate::ranking::matches::DUPLICATE_SIMILARITY;
use crate::review::Label;

const ROW_HEIGHT: f32 = 72.0;
const THUMB_POINTS: f32 = 64.0;

/// The colour of a similarity: red for duplicates (≥ 0.95), orange at or above the threshold,
/// grey-green below.
pub fn similarity_colour(similarity: f32, threshold: f32) -> egui::Color32 {
    if similarity >= DUPLICATE_SIMILARITY {
        egui::Color32::from_rgb(211, 47, 47)
    } else if similarity >= threshold {
        egui::Color32::from_rgb(245, 124, 0)
    } else {
        egui::Color32::from_rgb(96, 139, 110)
    }
}

/// A similarity as shown: three decimals, rounded down, so 0.9496 never reads as 0.950 and
/// the colour band always agrees with the number.
pub fn similarity_text(similarity: f32) -> String {
    format!("{:.3}", (similarity * 1000.0).floor() / 1000.0)
}

/// The colour of a label.
pub fn label_colour(label: Label) -> egui::Color32 {
    match label {
        Label::FullCopy => egui::Color32::from_rgb(198, 40, 40),
        Label::NearCopy => egui::Color32::from_rgb(239, 108, 0),
        Label::Distinct => egui::Color32::from_rgb(46, 125, 50),
    }
}

/// A small coloured chip with text.
pub fn chip(ui: &mut egui::Ui, text: &str, colour: egui::Color32) {
    egui::Frame::new()
        .fill(colour)
        .corner_radius(4.0)
        .inner_margin(egui::Margin::symmetric(5, 1))
        .show(ui, |ui| {
            ui.label(
                egui::RichText::new(text)
                    .color(egui::Color32::WHITE)
                    .small()
                    .strong(),
            );
        });
}

/// Accessible information for a widget that shows no label of its own.
pub fn accessible(kind: egui::Role, name: &str) -> egui::WidgetInfo {
    egui::WidgetInfo::labeled(kind, true, name)
}

/// Draws the list panel.
///
/// Over 100 lines on purpose: an immediate-mode panel drawn top to bottom in screen order (filters,
/// sort, then the virtualised rows); one function reads in the order the reviewer sees it.
pub fn list_ui(
    ui: &mut egui::Ui,
    desk: &Desk,
    thumbs: &mut ThumbnailCache,
    settings: &Settings,
    out: &mut Vec<Command>,
) {
    let filter = desk.view().filter().clone();
    let mut list = |command: ListCommand| out.push(Command::List(command));
    ui.add_space(4.0);
    ui.horizontal(|ui| {
        let mut text = filter.text.clone();
        if ui
            .add(
                egui::TextEdit::singleline(&mut text)
                    .hint_text("Filter by prompt or name")
                    .desired_width(ui.available_width() - 4.0),
            )
            .changed()
        {
            list(ListCommand::Text(text));
        }
    });
    if let Some(phrase) = &filter.phrase {
        ui.horizontal(|ui| {
            ui.label(format!("Prompts using \"{phrase}\""));
            if ui
                .small_button("Clear")
                .on_hover_text("Show every generation again")
                .clicked()
            {
                list(ListCommand::Phrase(None));
            }
        });
    }
    ui.horizontal(|ui| {
        egui::ComboBox::from_id_salt("sort")
            .selected_text(match filter.sort {
                SortKey::Similarity => "By similarity",
                SortKey::Name => "By name",
                SortKey::Label => "By label",
            })
            .width(120.0)
            .show_ui(ui, |ui| {
                for (sort, name) in [
                    (SortKey::Similarity, "By similarity"),
                    (SortKey::Name, "By name"),
                    (SortKey::Label, "By label"),
                ] {
                    if ui.selectable_label(filter.sort == sort, name).clicked() {
                        list(ListCommand::Sort(sort));
                    }
                }
            })
            .response
            .widget_info(|| accessible(egui::Role::ComboBox, "Sort"));
        egui::ComboBox::from_id_salt("label-filter")
            .selected_text(filter.labels.title())
            .width(110.0)
            .show_ui(ui, |ui| {
                for labels in LabelFilter::ALL {
                    if ui
                        .selectable_label(filter.labels == labels, labels.title())
                        .clicked()
                    {
                        list(ListCommand::Labels(labels));
                    }
                }
            })
            .response
            .widget_info(|| accessible(egui::Role::ComboBox, "Label filter"));
        let mut collages = filter.collages_only;
        if ui
            .checkbox(&mut collages, "Collages")
            .on_hover_text("Only generations whose regions match several training images")
            .changed()
        {
            list(ListCommand::CollagesOnly(collages));
        }
        if desk.review().has_disputes() || filter.disputed_only {
            let mut disputed = filter.disputed_only;
            if ui
                .checkbox(&mut disputed, "Disputed")
                .on_hover_text("Only generations with a pair whose reviewers disagree: the adjudication queue")
                .changed()
            {
                list(ListCommand::DisputedOnly(disputed));
            }
        }
        if let Some(plan) = desk.review().plan() {
            let mut plan_only = filter.plan_only;
            if ui
                .checkbox(&mut plan_only, "Plan")
                .on_hover_text(format!(
                    "Only the review plan's {} generations ({} per similarity band, seed {}); N walks them",
                    plan.generations.len(),
                    plan.per_band,
                    plan.seed
                ))
                .changed()
            {
                list(ListCommand::PlanOnly(plan_only));
            }
        }
    });
    ui.horizontal(|ui| {
        ui.label("Similarity");
        let (mut min, mut max) = (filter.min_similarity, filter.max_similarity);
        let min_edit = ui.add(
            egui::DragValue::new(&mut min)
                .range(-1.0..=1.0)
                .speed(0.01)
                .fixed_decimals(2),
        );
        min_edit.widget_info(|| accessible(egui::Role::SpinButton, "Lowest similarity"));
        ui.label("to");
        let max_edit = ui.add(
            egui::DragValue::new(&mut max)
                .range(-1.0..=1.0)
                .speed(0.01)
                .fixed_decimals(2),
        );
        max_edit.widget_info(|| accessible(egui::Role::SpinButton, "Highest similarity"));
        if min_edit.changed() || max_edit.changed() {
            list(ListCommand::Similarity(min, max));
        }
        if ui
            .small_button(format!("≥ {:.2}", settings.threshold))
            .on_hover_text("Show only likely copies")
            .clicked()
        {
            list(ListCommand::Similarity(settings.threshold, 1.0));
        }
        if ui.small_button("All").clicked() {
            list(ListCommand::Similarity(-1.0, 1.0));
        }
    });
    let order = desk.view().order();
    let pending = desk.review().pending_count();
    ui.weak(format!(
        "{} of {} generations{}",
        order.len(),
        desk.review().results().len(),
        if pending > 0 {
            format!(" ({pending} waiting for their matches)")
        } else {
            String::new()
        }
    ));
    ui.separator();

    let rows = order.len();
    let selected_pos = desk.view().selected_position();
    let mut area = egui::ScrollArea::vertical().auto_shrink([false, false]);
    // Keep the selected row in view when the selection moves by keys.
    let id = ui.scope_id().with("list-scroll");
    let last: Option<usize> = ui.data(|d| d.get_temp(id));
    if selected_pos != last {
        if let Some(pos) = selected_pos {
            let spacing = ui.spacing().item_spacing.y;
            let top = pos as f32 * (ROW_HEIGHT + spacing);
            let view: Option<(f32, f32)> = ui.data(|d| d.get_temp(id.with("view")));
            if let Some((offset, height)) = view
                && (top < offset || top + ROW_HEIGHT > offset + height)
            {
                area = area.vertical_scroll_offset((top - height * 0.4).max(0.0));
            }
        }
        ui.data_mut(|d| d.insert_temp(id, selected_pos));
    }
    let output = area.show_rows(ui, ROW_HEIGHT, rows, |ui, range| {
        for pos in range {
            let i = order[pos];
            row_ui(ui, desk, i, thumbs, settings, out);
        }
    });
    ui.data_mut(|d| {
        d.insert_temp(
            id.with("view"),
            (output.state.clamped_offset().y, output.inner_rect.height()),
        )
    });
}

/// Draws a thumbnail of `location` fitted in `rect` (a placeholder while it loads, `!` when it
/// cannot be decoded).
pub fn thumbnail_in(
    ui: &egui::Ui,
    thumbs: &mut ThumbnailCache,
    location: &crate::catalog::ImageLocation,
    rect: egui::Rect,
) {
    let visuals = ui.visuals();
    match thumbs.get(location) {
        Thumb::Ready(texture) => {
            let size = texture.size;
            let scale = (rect.width() / size.x).min(rect.height() / size.y);
            let draw = egui::Rect::from_center_size(rect.center(), size * scale);
            ui.painter().image(
                texture.id,
                draw,
                egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
                egui::Color32::WHITE,
            );
        }
        Thumb::Loading => {
            ui.painter().rect_filled(rect, 3.0, visuals.faint_bg_color);
        }
        Thumb::Failed => {
            ui.painter().rect_filled(rect, 3.0, visuals.faint_bg_color);
            ui.painter().text(
                rect.center(),
                egui::Align2::CENTER_CENTER,
                "!",
                egui::FontId::proportional(20.0),
                visuals.warn_fg_color,
            );
        }
    }
}

fn row_ui(
    ui: &mut egui::Ui,
    desk: &Desk,
    i: usize,
    thumbs: &mut ThumbnailCache,
    settings: &Settings,
    out: &mut Vec<Command>,
) {
    let Some(result) = desk.review().result(i) else {
        return;
    };
    let selected = desk.view().selected() == Some(i);
    let (rect, response) = ui.allocate_exact_size(
        egui::vec2(ui.available_width(), ROW_HEIGHT),
        egui::Sense::click(),
    );
    response.widget_info(|| {
        egui::WidgetInfo::selected(egui::Role::Button, true, selected, &result.generation)
    });
    if response.clicked() {
        out.push(Command::SelectGeneration(i));
    }
    let visuals = ui.visuals();
    if selected {
        ui.painter()
            .rect_filled(rect, 4.0, visuals.selection.bg_fill);
    } else if response.hovered() {
        ui.painter()
            .rect_filled(rect, 4.0, visuals.widgets.hovered.weak_bg_fill);
    }
    let thumb_rect = egui::Rect::from_min_size(
        rect.min + egui::vec2(4.0, (ROW_HEIGHT - THUMB_POINTS) * 0.5),
        egui::vec2(THUMB_POINTS, THUMB_POINTS),
    );
    thumbnail_in(
        ui,
        thumbs,
        &crate::catalog::ImageLocation::File(result.generation_path.clone()),
        thumb_rect,
    );
    let text_rect = egui::Rect::from_min_max(
        egui::pos2(thumb_rect.right() + 8.0, rect.top() + 4.0),
        rect.max - egui::vec2(4.0, 4.0),
    );
    let mut child = ui.new_child(
        egui::UiBuilder::new()
            .max_rect(text_rect)
            .layout(egui::Layout::top_down(egui::Align::Min)),
    );
    child.horizontal(|ui| {
        match result.top_similarity() {
            Some(s) => chip(
                ui,
                &similarity_text(s),
                similarity_colour(s, settings.threshold),
            ),
            None if desk.review().is_pending(i) => chip(ui, "pending", egui::Color32::DARK_GRAY),
            None => chip(ui, "no match", egui::Color32::GRAY),
        }
        if result.collage {
            chip(ui, "collage", egui::Color32::from_rgb(106, 27, 154));
        }
        if !result.notes.is_empty() {
            chip(ui, "note", egui::Color32::from_rgb(120, 90, 0));
        }
        if let Some(label) = desk.review().generation_label(i) {
            chip(ui, label.title(), label_colour(label));
        }
        ui.add(egui::Label::new(egui::RichText::new(&result.generation).strong()).truncate());
    });
    if let Some(prompt) = &result.prompt {
        child.add(egui::Label::new(egui::RichText::new(prompt).weak().small()).truncate());
    }
    if let Some(top) = result.matches.first() {
        child.add(
            egui::Label::new(egui::RichText::new(format!("best match: {}", top.training)).small())
                .truncate(),
        );
    }
}
