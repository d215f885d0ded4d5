//! The compare view: the generation and a matched training image drawn by a WGSL shader
//! through an egui-wgpu paint callback, with one zoom and pan shared by both (in generation
//! pixels), in side-by-side, overlay, difference, swipe or blink mode.

pub mod gpu;

use eframe::egui_wgpu;

pub use crate::app::choices::CompareMode;
pub use gpu::{CompareResources, Params};

/// The view's settings and geometry.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct CompareState {
    /// The mode.
    pub mode: CompareMode,
    /// Zoom relative to "fit" (1 fits the generation in its pane).
    pub zoom: f32,
    /// The generation pixel at the centre; `None` for the image's centre.
    pub center: Option<[f32; 2]>,
    /// Overlay: weight of the training image.
    pub opacity: f32,
    /// Difference: gain.
    pub gain: f32,
    /// Difference: grayscale instead of heat colours.
    pub grayscale: bool,
    /// Swipe: split position, 0..1.
    pub split: f32,
    /// Blink: interval in milliseconds.
    pub blink_ms: u32,
    /// Whether the estimated alignment is applied.
    pub aligned: bool,
    /// Whether the collage map is drawn over the generation.
    pub collage_map: bool,
    /// Whether the structure map (verification's evidence) is drawn over the generation.
    pub structure_map: bool,
}

/// Where the generation is drawn, to place overlays on it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GenerationPane {
    /// The pane, in points.
    pub rect: egui::Rect,
    /// The generation pixel at the pane's centre.
    pub center: egui::Pos2,
    /// Points per generation pixel.
    pub scale_points: f32,
    /// The generation texture's size in pixels.
    pub texture_size: [f32; 2],
}

impl GenerationPane {
    /// The screen position of a generation pixel.
    pub fn to_screen(&self, x: f32, y: f32) -> egui::Pos2 {
        self.rect.center() + (egui::pos2(x, y) - self.center) * self.scale_points
    }

    /// The screen rectangle of `[x, y, w, h]` in the pixels of the original generation, which
    /// is `original` pixels wide and high (the pane shows the uploaded texture, which may be
    /// smaller).
    pub fn original_rect(&self, original: (u32, u32), [x, y, w, h]: [u32; 4]) -> egui::Rect {
        let scale_x = self.texture_size[0] / original.0.max(1) as f32;
        let scale_y = self.texture_size[1] / original.1.max(1) as f32;
        egui::Rect::from_min_max(
            self.to_screen(x as f32 * scale_x, y as f32 * scale_y),
            self.to_screen((x + w) as f32 * scale_x, (y + h) as f32 * scale_y),
        )
    }
}

impl Default for CompareState {
    fn default() -> Self {
        Self {
            mode: CompareMode::SideBySide,
            zoom: 1.0,
            center: None,
            opacity: 0.5,
            gain: 2.0,
            grayscale: false,
            split: 0.5,
            blink_ms: 600,
            aligned: true,
            collage_map: false,
            structure_map: false,
        }
    }
}

impl CompareState {
    /// Back to "fit".
    pub fn fit(&mut self) {
        self.zoom = 1.0;
        self.center = None;
    }
}

/// An image uploaded for the view.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompareImage {
    /// Its texture id in [`CompareResources`].
    pub id: u64,
    /// Its size in pixels (of the uploaded level 0).
    pub size: [f32; 2],
}

/// A 2x3 affine map from generation pixels to training pixels.
pub type Affine = [[f32; 3]; 2];

/// The map that matches normalised coordinates (the images' corners to each other).
pub fn unaligned(gen_size: [f32; 2], train_size: [f32; 2]) -> Affine {
    let sx = train_size[0] / gen_size[0].max(1.0);
    let sy = train_size[1] / gen_size[1].max(1.0);
    [[sx, 0.0, 0.0], [0.0, sy, 0.0]]
}

/// The size of one pane (side by side halves the width) in points.
fn pane_size(rect: egui::Rect, mode: CompareMode, gap: f32) -> egui::Vec2 {
    match mode {
        CompareMode::SideBySide => egui::vec2((rect.width() - gap) * 0.5, rect.height()),
        _ => rect.size(),
    }
}

/// Draws the view into the space left in `ui` and turns zoom (wheel, pinch), pan (drag), the
/// swipe split and double-click (fit) into commands. `align` maps the generation onto the
/// training image.
///
/// Over 100 lines on purpose: one frame of the compare view, from the input (wheel, pinch, drag,
/// swipe, double-click) to the paint callback, in the order egui needs them; the GPU side is
/// `CompareResources`.
pub fn compare_ui(
    ui: &mut egui::Ui,
    state: &CompareState,
    a: Option<CompareImage>,
    b: Option<CompareImage>,
    align: Affine,
) -> (
    egui::Response,
    Option<GenerationPane>,
    Vec<crate::app::commands::CompareCommand>,
) {
    use crate::app::commands::CompareCommand;
    let mut commands = Vec::new();
    let (rect, response) =
        ui.allocate_exact_size(ui.available_size(), egui::Sense::click_and_drag());
    let ppp = ui.ctx().pixels_per_point();
    let gap_points = 6.0;
    let gen_size = a.map_or([1.0, 1.0], |a| a.size);
    let pane = pane_size(rect, state.mode, gap_points);
    let fit = (pane.x / gen_size[0]).min(pane.y / gen_size[1]).max(1e-6);
    let mut zoom = state.zoom;
    let mut scale_points = fit * zoom;
    let center = state
        .center
        .unwrap_or([gen_size[0] * 0.5, gen_size[1] * 0.5]);
    let mut center = egui::pos2(center[0], center[1]);

    // Which pane the pointer is in, and its centre, to zoom about the pointer.
    let pointer = response.hover_pos();
    let pane_center = |p: egui::Pos2| -> egui::Pos2 {
        if state.mode == CompareMode::SideBySide && p.x > rect.left() + pane.x {
            egui::pos2(
                rect.left() + pane.x + gap_points + pane.x * 0.5,
                rect.center().y,
            )
        } else {
            egui::pos2(rect.left() + pane.x * 0.5, rect.center().y)
        }
    };
    if let Some(p) = pointer {
        let (scroll, pinch) = ui.input(|i| (i.smooth_scroll_delta.y, i.zoom_delta()));
        let factor = (scroll * 0.0015).exp() * pinch;
        if (factor - 1.0).abs() > 1e-4 {
            let origin = pane_center(p);
            let before = center + (p - origin) / scale_points;
            zoom = (zoom * factor).clamp(0.05, 400.0);
            scale_points = fit * zoom;
            center = before - (p - origin) / scale_points;
        }
    }
    let mut split = state.split;
    let mode = state.mode;
    let near_split = |p: egui::Pos2| {
        mode == CompareMode::Swipe
            && (p.x - (rect.left() + state.split * rect.width())).abs() < 12.0
    };
    let mut moved = zoom != state.zoom;
    if response.dragged() {
        let start = ui.input(|i| i.pointer.press_origin());
        if start.is_some_and(near_split) {
            if let Some(p) = response.interact_pointer_pos() {
                split = ((p.x - rect.left()) / rect.width()).clamp(0.0, 1.0);
                commands.push(CompareCommand::Split(split));
            }
        } else if response.drag_delta() != egui::Vec2::ZERO {
            center -= response.drag_delta() / scale_points;
            moved = true;
        }
    }
    if response.double_clicked() {
        commands.push(CompareCommand::Fit);
        scale_points = fit;
        center = egui::pos2(gen_size[0] * 0.5, gen_size[1] * 0.5);
    } else if moved && a.is_some() {
        commands.push(CompareCommand::View {
            zoom,
            center: Some([center.x, center.y]),
        });
    }
    if pointer.is_some_and(near_split) {
        ui.ctx().set_cursor_icon(egui::CursorIcon::ResizeHorizontal);
    } else if response.hovered() {
        ui.ctx().set_cursor_icon(egui::CursorIcon::Grab);
    }

    let show_b = if state.mode == CompareMode::Blink {
        let period = f64::from(state.blink_ms.max(50)) / 1000.0;
        let phase = ui.input(|i| i.time) / period;
        ui.ctx()
            .request_repaint_after(std::time::Duration::from_millis(
                u64::from(state.blink_ms.max(50)) / 2,
            ));
        u32::from(phase as u64 % 2 == 1)
    } else {
        0
    };
    let bg = ui.visuals().extreme_bg_color;
    let params = Params {
        rect_size: [rect.width() * ppp, rect.height() * ppp],
        gen_size,
        train_size: b.map_or([1.0, 1.0], |b| b.size),
        center: [center.x, center.y],
        align_row0: [align[0][0], align[0][1], align[0][2], 0.0],
        align_row1: [align[1][0], align[1][1], align[1][2], 0.0],
        scale: scale_points * ppp,
        mode: state.mode.code(),
        opacity: state.opacity,
        gain: state.gain,
        split,
        show_b,
        colormap: u32::from(state.grayscale),
        gap: gap_points * ppp,
        background: [
            f32::from(bg.r()) / 255.0,
            f32::from(bg.g()) / 255.0,
            f32::from(bg.b()) / 255.0,
            1.0,
        ],
        to_linear: 0,
        _pad: [0; 3],
    };
    let callback = gpu::CompareCallback {
        params,
        a: a.map_or(0, |a| a.id),
        b: b.map_or(0, |b| b.id),
    };
    ui.painter()
        .add(egui_wgpu::Callback::new_paint_callback(rect, callback));
    let pane = a.map(|a| GenerationPane {
        rect: egui::Rect::from_min_size(rect.min, pane),
        center,
        scale_points,
        texture_size: a.size,
    });
    (response, pane, commands)
}

/// The zoom that shows one generation pixel per screen pixel, relative to fit.
pub fn one_to_one_zoom(
    ui: &egui::Ui,
    rect_size: egui::Vec2,
    mode: CompareMode,
    gen_size: [f32; 2],
) -> f32 {
    let pane = pane_size(
        egui::Rect::from_min_size(egui::Pos2::ZERO, rect_size),
        mode,
        6.0,
    );
    let fit = (pane.x / gen_size[0]).min(pane.y / gen_size[1]).max(1e-6);
    1.0 / (fit * ui.ctx().pixels_per_point())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_match_the_shader_layout() {
        assert_eq!(std::mem::size_of::<Params>(), 128);
        assert_eq!(std::mem::offset_of!(Params, align_row0), 32);
        assert_eq!(std::mem::offset_of!(Params, background), 96);
        assert_eq!(std::mem::offset_of!(Params, to_linear), 112);
    }

    #[test]
    fn unaligned_maps_corners_to_corners() {
        let m = unaligned([100.0, 50.0], [400.0, 100.0]);
        let map = |x: f32, y: f32| {
            [
                m[0][0] * x + m[0][1] * y + m[0][2],
                m[1][0] * x + m[1][1] * y + m[1][2],
            ]
        };
        assert_eq!(map(100.0, 50.0), [400.0, 100.0]);
        assert_eq!(map(0.0, 0.0), [0.0, 0.0]);
    }
}
