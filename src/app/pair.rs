//! The pair view: the selected generation beside its top matches (rank, similarity, label),
//! the chosen pair in the compare view with shared zoom and pan, the images' names, sizes,
//! prompt and caption, and the label buttons and note.

use super::commands::{Command, CompareCommand};
use super::compare::{self, CompareMode, CompareState};
use super::desk::{Desk, Uploaded};
use super::list::{chip, label_colour, similarity_colour, similarity_text, thumbnail_in};
use super::settings::Settings;
use super::thumbs::{Thumb, ThumbnailCache};
use crate::align::Alignment;
use crate::ranking::matches::{GenerationMatches, Match};

const MATCH_THUMB: f32 = 72.0;

/// Draws the pair view.
pub fn pair_ui(
    ui: &mut egui::Ui,
    desk: &Desk,
    thumbs: &mut ThumbnailCache,
    settings: &Settings,
    out: &mut Vec<Command>,
) {
    let Some((i, result)) = desk
        .view()
        .selected()
        .and_then(|i| Some((i, desk.review().result(i)?)))
    else {
        ui.centered_and_justified(|ui| {
            if desk.scanning() {
                ui.label("Scanning… results appear here as they come.");
            } else {
                ui.label("No generation selected.");
            }
        });
        return;
    };
    let selected_match = desk.view().selected_match();
    let current = result.matches.get(selected_match);
    let marks = super::phrase_marks::SharedMarks::of(
        result.prompt.as_deref(),
        current.and_then(|m| m.training_caption.as_deref()),
    );
    egui::Panel::top("pair-head").show(ui, |ui| {
        pair_head_ui(
            ui,
            desk,
            thumbs,
            settings,
            (i, result),
            (selected_match, &marks),
            out,
        );
    });

    egui::Panel::bottom("pair-labels").show(ui, |ui| super::labels::labels_ui(ui, desk, out));

    let gen_location = crate::catalog::ImageLocation::File(result.generation_path.clone());
    let gen_image = desk.images().get(&gen_location);
    let train_image = current.and_then(|m| desk.images().get(&m.training_path));
    let pair = current.map(|m| (gen_location.clone(), m.training_path.clone()));
    let alignment = pair
        .as_ref()
        .and_then(|p| desk.images().alignment(p))
        .copied();
    let compare = desk.view().compare();
    egui::Panel::top("compare-tools").show(ui, |ui| {
        let has_regions = !result.region_hits.is_empty();
        let verified = current.is_some_and(|m| m.verification.is_some());
        compare_tools_ui(
            ui,
            compare,
            gen_image,
            alignment,
            (has_regions, verified),
            out,
        );
    });
    egui::Panel::bottom("pair-captions").show(ui, |ui| {
        captions_ui(ui, desk, result, current, (gen_image, train_image), &marks);
    });
    let a = gen_image.map(|u| u.image);
    let b = train_image.map(|u| u.image);
    let align = match (a, b, alignment) {
        (Some(_), Some(_), Some(found)) if compare.aligned && found.improves() => {
            found.gen_to_train
        }
        (Some(a), Some(b), _) => compare::unaligned(a.size, b.size),
        _ => [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
    };
    if a.is_none() {
        ui.ctx()
            .request_repaint_after(std::time::Duration::from_millis(100));
    }
    let (_, pane, commands) = compare::compare_ui(ui, compare, a, b, align);
    out.extend(commands.into_iter().map(Command::Compare));
    if let (Some(pane), Some(uploaded), Some(cell)) =
        (pane, gen_image, current.and_then(|m| m.region))
    {
        outline_window(ui, pane, uploaded.original, cell);
    }
    if compare.structure_map
        && let (Some(pane), Some(uploaded), Some(verification)) = (
            pane,
            gen_image,
            current.and_then(|m| m.verification.as_ref()),
        )
    {
        super::structure_map::structure_map_ui(ui, pane, uploaded.original, verification);
    }
    if compare.collage_map
        && !result.region_hits.is_empty()
        && let (Some(pane), Some(uploaded)) = (pane, gen_image)
    {
        collage_map_ui(
            ui,
            result,
            pane,
            uploaded.original,
            settings.threshold,
            thumbs,
        );
    }
}

/// The pair view's head: the generation's name, top similarity, prompt (its phrases shared
/// with the selected match's caption marked) and notes, its matches, and the selected pair's
/// notes.
fn pair_head_ui(
    ui: &mut egui::Ui,
    desk: &Desk,
    thumbs: &mut ThumbnailCache,
    settings: &Settings,
    (i, result): (usize, &GenerationMatches),
    (selected_match, marks): (usize, &super::phrase_marks::SharedMarks),
    out: &mut Vec<Command>,
) {
    ui.horizontal(|ui| {
        ui.label(egui::RichText::new(&result.generation).strong().size(15.0));
        if let Some(s) = result.top_similarity() {
            chip(
                ui,
                &format!("top-1 {}", similarity_text(s)),
                similarity_colour(s, settings.threshold),
            );
        }
    });
    match &result.prompt {
        Some(prompt) => {
            // The phrases it shares with the selected match's caption, marked in both.
            let response = super::phrase_marks::marked_label(
                ui,
                "Prompt: ",
                prompt,
                &marks.prompt,
                true,
                false,
            );
            let shared = marks.phrases;
            if shared > 0 {
                response.on_hover_text(format!(
                    "Marked: {shared} phrase{} shared with the training image's caption",
                    if shared == 1 { "" } else { "s" }
                ));
            }
        }
        None => {
            ui.weak("No prompt found");
        }
    }
    for note in &result.notes {
        ui.colored_label(ui.visuals().warn_fg_color, format!("Note: {note}"));
    }
    ui.add_space(4.0);
    match_strip_ui(ui, desk, thumbs, settings, (i, result), selected_match, out);
    super::pair_notes::pair_notes_ui(ui, desk, result, (i, selected_match), out);
}

/// The generation's matches side by side (thumbnail, rank, similarity, duplicates, label);
/// a click selects one.
fn match_strip_ui(
    ui: &mut egui::Ui,
    desk: &Desk,
    thumbs: &mut ThumbnailCache,
    settings: &Settings,
    (i, result): (usize, &GenerationMatches),
    selected_match: usize,
    out: &mut Vec<Command>,
) {
    egui::ScrollArea::horizontal()
        .id_salt("matches")
        .show(ui, |ui| {
            ui.horizontal(|ui| {
                for (m_index, m) in result.matches.iter().enumerate() {
                    let selected = m_index == selected_match;
                    let label = desk.review().pair_label((i, m_index));
                    let frame = egui::Frame::new()
                        .inner_margin(4.0)
                        .corner_radius(4.0)
                        .stroke(if selected {
                            egui::Stroke::new(2.0, ui.visuals().selection.stroke.color)
                        } else {
                            egui::Stroke::new(
                                1.0,
                                ui.visuals().widgets.noninteractive.bg_stroke.color,
                            )
                        });
                    let response = frame
                        .show(ui, |ui| {
                            ui.vertical(|ui| {
                                ui.set_width(MATCH_THUMB + 40.0);
                                let (rect, _) = ui.allocate_exact_size(
                                    egui::vec2(MATCH_THUMB + 40.0, MATCH_THUMB),
                                    egui::Sense::hover(),
                                );
                                thumbnail_in(ui, thumbs, &m.training_path, rect);
                                ui.horizontal(|ui| {
                                    ui.label(
                                        egui::RichText::new(format!("#{}", m.rank)).strong(),
                                    );
                                    chip(
                                        ui,
                                        &similarity_text(m.similarity),
                                        similarity_colour(m.similarity, settings.threshold),
                                    );
                                    if let Some(d) = m.duplicates.filter(|d| *d > 0) {
                                        ui.weak(format!("×{}", d + 1)).on_hover_text(format!(
                                            "{d} other training images are within {:.2} of this one: replicated images are duplicated far more often in training sets", crate::ranking::matches::DUPLICATE_SIMILARITY
                                        ));
                                    }
                                });
                                match label {
                                    Some(label) => chip(ui, label.title(), label_colour(label)),
                                    None => {
                                        ui.weak("unlabelled");
                                    }
                                }
                            });
                        })
                        .response
                        .interact(egui::Sense::click());
                    if response.on_hover_text(&m.training).clicked() {
                        out.push(Command::SelectMatch(m_index));
                    }
                }
                if result.matches.is_empty() && desk.review().is_pending(i) {
                    ui.spinner();
                    ui.label("Waiting for this generation's matches…");
                }
            });
        });
}

/// The compare view's tools: the mode and its setting, fit and 1:1, the alignment and the
/// collage map (when the scan matched regions).
fn compare_tools_ui(
    ui: &mut egui::Ui,
    compare: &CompareState,
    gen_image: Option<Uploaded>,
    alignment: Option<Alignment>,
    (has_regions, verified): (bool, bool),
    out: &mut Vec<Command>,
) {
    // Wrapped: beside the statistics panel the tools would run off the edge.
    ui.horizontal_wrapped(|ui| {
        let mut send = |command: CompareCommand| out.push(Command::Compare(command));
        egui::ComboBox::from_id_salt("mode")
            .selected_text(compare.mode.title())
            .show_ui(ui, |ui| {
                for mode in CompareMode::ALL {
                    if ui.selectable_label(compare.mode == mode, mode.title()).clicked() {
                        send(CompareCommand::Mode(mode));
                    }
                }
            })
            .response
            .widget_info(|| super::list::accessible(egui::Role::ComboBox, "Compare mode"));
        if ui.button("Fit").clicked() {
            send(CompareCommand::Fit);
        }
        if ui
            .button("1:1")
            .on_hover_text("One generation pixel per screen pixel")
            .clicked()
            && let Some(uploaded) = gen_image {
                send(CompareCommand::View {
                    zoom: compare::one_to_one_zoom(
                        ui,
                        ui.available_size_before_wrap() + egui::vec2(0.0, 400.0),
                        compare.mode,
                        uploaded.image.size,
                    ),
                    center: compare.center,
                });
            }
        ui.weak(format!("zoom {:.0}%", compare.zoom * 100.0));
        mode_setting_ui(ui, compare, &mut send);
        ui.separator();
        let tip = match alignment {
            Some(found) if found.improves() => format!(
                "Estimated: training = {:.3} x generation{}, shifted ({:.0}, {:.0}) px; NCC {:.2} (corner to corner {:.2})",
                found.scale,
                if found.flipped { ", mirrored" } else { "" },
                found.gen_to_train[0][2],
                found.gen_to_train[1][2],
                found.score,
                found.unaligned_score
            ),
            Some(found) => format!("No better fit than corner to corner (NCC {:.2})", found.unaligned_score),
            None => "Estimating the alignment…".into(),
        };
        let mut aligned = compare.aligned;
        if ui.checkbox(&mut aligned, "Aligned").on_hover_text(tip).changed() {
            send(CompareCommand::ToggleAligned);
        }
        if alignment.is_some_and(|a| a.improves() && compare.aligned) {
            ui.weak(format!("×{:.2}{}", alignment.map_or(1.0, |a| a.scale), if alignment.is_some_and(|a| a.flipped) { " mirrored" } else { "" }));
        }
        let mut collage_map = compare.collage_map;
        if ui
            .add_enabled(has_regions, egui::Checkbox::new(&mut collage_map, "Collage map"))
            .on_hover_text("Colour each region of the generation by the training image it matches")
            .on_disabled_hover_text("This scan did not match regions (scan with regions on)")
            .changed()
        {
            send(CompareCommand::ToggleCollageMap);
        }
        let mut structure_map = compare.structure_map;
        if ui
            .add_enabled(verified, egui::Checkbox::new(&mut structure_map, "Structure map"))
            .on_hover_text(
                "Where the two images' edges agree after the best small shift (verification): green cells agree",
            )
            .on_disabled_hover_text("No verification for this pair (rescan to add it)")
            .changed()
        {
            send(CompareCommand::ToggleStructureMap);
        }
    });
}

/// The compare mode's own setting: overlay opacity, difference gain and grayscale, swipe
/// split or blink period (none side by side).
fn mode_setting_ui(
    ui: &mut egui::Ui,
    compare: &CompareState,
    send: &mut dyn FnMut(CompareCommand),
) {
    match compare.mode {
        CompareMode::Overlay => {
            let mut opacity = compare.opacity;
            if ui
                .add(egui::Slider::new(&mut opacity, 0.0..=1.0).text("opacity"))
                .changed()
            {
                send(CompareCommand::Opacity(opacity));
            }
        }
        CompareMode::Difference => {
            let mut gain = compare.gain;
            if ui
                .add(
                    egui::Slider::new(&mut gain, 0.5..=10.0)
                        .logarithmic(true)
                        .text("gain"),
                )
                .changed()
            {
                send(CompareCommand::Gain(gain));
            }
            let mut grayscale = compare.grayscale;
            if ui.checkbox(&mut grayscale, "grayscale").changed() {
                send(CompareCommand::Grayscale(grayscale));
            }
        }
        CompareMode::Swipe => {
            let mut split = compare.split;
            if ui
                .add(egui::Slider::new(&mut split, 0.0..=1.0).text("split"))
                .changed()
            {
                send(CompareCommand::Split(split));
            }
        }
        CompareMode::Blink => {
            let mut blink = compare.blink_ms;
            if ui
                .add(egui::Slider::new(&mut blink, 150..=2000).text("ms"))
                .changed()
            {
                send(CompareCommand::BlinkMs(blink));
            }
        }
        CompareMode::SideBySide => {}
    }
}

/// The pair's captions under the compare view: each image's name and size, the match's rank,
/// similarity, layout agreement and caption, and why an image could not be shown.
fn captions_ui(
    ui: &mut egui::Ui,
    desk: &Desk,
    result: &GenerationMatches,
    current: Option<&Match>,
    (gen_image, train_image): (Option<Uploaded>, Option<Uploaded>),
    marks: &super::phrase_marks::SharedMarks,
) {
    let gen_location = crate::catalog::ImageLocation::File(result.generation_path.clone());
    ui.columns(2, |columns| {
        let gen_size = gen_image.map(|u| u.original);
        columns[0]
            .label(egui::RichText::new(format!("Generation · {}", size_text(gen_size))).strong());
        columns[0].add(egui::Label::new(result.generation.as_str()).truncate());
        if let Some(m) = current {
            let size = train_image.map(|u| u.original);
            columns[1].label(
                egui::RichText::new(format!(
                    "Training #{} · {} · similarity {:.4}",
                    m.rank,
                    size_text(size),
                    m.similarity
                ))
                .strong(),
            );
            // The name takes what the layout agreement at the right end leaves.
            columns[1].with_layout(egui::Layout::right_to_left(egui::Align::Min), |ui| {
                if let Some(verification) = &m.verification {
                    ui.weak(format!("structure {:.2}", verification.score))
                        .on_hover_text(
                            "Verification: agreement of the two images' edge structure after the \
                             best small shift (1 = same geometry, about 0 = unrelated), from their \
                             32x32 thumbnails. A restyled copy keeps its source's geometry while \
                             its colours and textures change; the Structure map shows where it \
                             agrees.",
                        );
                }
                if let Some(layout) = m.layout {
                    ui.weak(format!("layout {layout:.2}"))
                        .on_hover_text(format!(
                            "Agreement of the two images' coarse grayscale layouts (1 = same \
                         composition). Matches are ranked by similarity + {} x layout, so \
                         a repainted copy of a composition ranks above an image that only \
                         shares its style; the similarity shown stays SSCD's.",
                            crate::ranking::layout::LAYOUT_WEIGHT
                        ));
                }
                ui.with_layout(egui::Layout::left_to_right(egui::Align::Min), |ui| {
                    ui.add(egui::Label::new(m.training.as_str()).truncate());
                });
            });
            if let Some(caption) = &m.training_caption {
                super::phrase_marks::marked_label(
                    &mut columns[1],
                    "Caption: ",
                    caption,
                    &marks.caption,
                    false,
                    true,
                );
            }
        }
    });
    for (path, reason) in [Some(&gen_location), current.map(|m| &m.training_path)]
        .into_iter()
        .flatten()
        .filter_map(|p| desk.images().failure(p).map(|r| (p, r)))
    {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            format!("{}: {reason}", path.display()),
        );
    }
}

/// Outlines the window that found the selected match on the generation's pane.
fn outline_window(
    ui: &egui::Ui,
    pane: compare::GenerationPane,
    original: (u32, u32),
    window: [u32; 4],
) {
    let painter = ui.painter_at(pane.rect);
    painter.rect_stroke(
        pane.original_rect(original, window),
        0.0,
        egui::Stroke::new(2.0, egui::Color32::from_rgb(255, 200, 0)),
        egui::StrokeKind::Outside,
    );
}

/// Distinct colours for the training images of a collage map.
const PALETTE: [egui::Color32; 8] = [
    egui::Color32::from_rgb(230, 25, 75),
    egui::Color32::from_rgb(60, 180, 75),
    egui::Color32::from_rgb(0, 130, 200),
    egui::Color32::from_rgb(245, 130, 48),
    egui::Color32::from_rgb(145, 30, 180),
    egui::Color32::from_rgb(70, 240, 240),
    egui::Color32::from_rgb(240, 50, 230),
    egui::Color32::from_rgb(210, 245, 60),
];

/// Colours the generation's regions by the training image each one matched, with a legend of
/// thumbnails and similarities; regions below the threshold are outlined only.
fn collage_map_ui(
    ui: &mut egui::Ui,
    result: &crate::ranking::matches::GenerationMatches,
    pane: compare::GenerationPane,
    original: (u32, u32),
    threshold: f32,
    thumbs: &mut ThumbnailCache,
) {
    let painter = ui.painter_at(pane.rect);
    let mut sources: Vec<(String, crate::catalog::ImageLocation, f32)> = Vec::new();
    for hit in &result.region_hits {
        let strong = hit.similarity >= threshold;
        let index = match sources.iter().position(|(t, _, _)| *t == hit.training) {
            Some(i) => {
                sources[i].2 = sources[i].2.max(hit.similarity);
                i
            }
            None if strong => {
                sources.push((
                    hit.training.clone(),
                    hit.training_path.clone(),
                    hit.similarity,
                ));
                sources.len() - 1
            }
            None => usize::MAX,
        };
        let rect = pane.original_rect(original, hit.region).shrink(1.0);
        if strong && index != usize::MAX {
            let colour = PALETTE[index % PALETTE.len()];
            painter.rect_filled(rect, 0.0, colour.gamma_multiply(0.35));
            painter.rect_stroke(
                rect,
                0.0,
                egui::Stroke::new(2.0, colour),
                egui::StrokeKind::Inside,
            );
            painter.text(
                rect.left_top() + egui::vec2(4.0, 4.0),
                egui::Align2::LEFT_TOP,
                format!("{:.2}", hit.similarity),
                egui::FontId::proportional(12.0),
                egui::Color32::WHITE,
            );
        } else {
            painter.rect_stroke(
                rect,
                0.0,
                egui::Stroke::new(1.0, egui::Color32::from_white_alpha(90)),
                egui::StrokeKind::Inside,
            );
        }
    }
    // The legend, in the pane's bottom-left corner.
    let legend = egui::Area::new(ui.scope_id().with("collage-legend"))
        .pivot(egui::Align2::LEFT_BOTTOM)
        .fixed_pos(pane.rect.left_bottom() + egui::vec2(8.0, -8.0))
        .order(egui::Order::Foreground);
    legend.show(ui.ctx(), |ui| {
        egui::Frame::popup(ui.style()).show(ui, |ui| {
            if sources.is_empty() {
                ui.label(format!("No region reaches {threshold:.2}"));
            }
            if result.collage {
                ui.label(
                    egui::RichText::new("Collage: regions match several training images").strong(),
                );
            }
            for (i, (training, path, similarity)) in sources.iter().enumerate() {
                ui.horizontal(|ui| {
                    let (swatch, _) =
                        ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
                    ui.painter()
                        .rect_filled(swatch, 2.0, PALETTE[i % PALETTE.len()]);
                    if let Thumb::Ready(texture) = thumbs.get(path) {
                        let scale = 40.0 / texture.size.x.max(texture.size.y);
                        ui.add(egui::Image::new(texture).fit_to_exact_size(texture.size * scale));
                    }
                    ui.label(format!("{similarity:.3}  {training}"));
                });
            }
        });
    });
}

fn size_text(size: Option<(u32, u32)>) -> String {
    size.map_or_else(|| "loading…".into(), |(w, h)| format!("{w}×{h} px"))
}
