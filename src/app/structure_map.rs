//! The structure map: where verification found the generation's structure agreeing with the
//! selected training image's (see [`crate::ranking::verify`]), drawn as a grid over the
//! generation with each cell's agreement.

use super::compare::GenerationPane;
use crate::ranking::verify::{GRID, Verification};

/// Agreement at or above which a cell is drawn as agreeing (a local correlation of gradient
/// structure; unrelated images sit near 0).
const AGREES: f32 = 0.5;

/// Draws `verification`'s cells over the generation's pane (`original`: the generation's size
/// in pixels), with its score and shift in a corner.
pub(super) fn structure_map_ui(
    ui: &egui::Ui,
    pane: GenerationPane,
    original: (u32, u32),
    verification: &Verification,
) {
    let painter = ui.painter_at(pane.rect);
    let (w, h) = original;
    for (i, &agreement) in verification.cells.iter().enumerate() {
        let (row, col) = ((i / GRID) as u32, (i % GRID) as u32);
        let g = GRID as u32;
        let cell = [col * w / g, row * h / g, w / g, h / g];
        let rect = pane.original_rect(original, cell).shrink(1.0);
        let colour = if agreement >= AGREES {
            egui::Color32::from_rgb(40, 200, 90)
        } else if agreement <= 0.0 {
            egui::Color32::from_rgb(200, 60, 60)
        } else {
            egui::Color32::from_rgb(230, 190, 40)
        };
        painter.rect_filled(rect, 0.0, colour.gamma_multiply(0.25));
        painter.rect_stroke(
            rect,
            0.0,
            egui::Stroke::new(1.0, colour),
            egui::StrokeKind::Inside,
        );
        painter.text(
            rect.left_top() + egui::vec2(4.0, 4.0),
            egui::Align2::LEFT_TOP,
            format!("{agreement:.2}"),
            egui::FontId::proportional(12.0),
            egui::Color32::WHITE,
        );
    }
    let [dx, dy] = verification.shift;
    painter.text(
        pane.rect.left_bottom() + egui::vec2(8.0, -8.0),
        egui::Align2::LEFT_BOTTOM,
        format!(
            "structure agrees {:.2} (shift {dx:+}, {dy:+} of 32); green: cells at {AGREES:.1} or more",
            verification.score
        ),
        egui::FontId::proportional(13.0),
        egui::Color32::WHITE,
    );
}
