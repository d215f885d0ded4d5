//! Opening the desk's window: the viewport, its icon and the app.

use super::{DeskApp, StartMode};
use crate::embed::request::ModelRequest;

/// The window icon, `assets/icon.png` (a generation overlapping its training source).
pub const ICON_PNG: &[u8] = include_bytes!("../../assets/icon.png");

/// The window icon as eframe wants it; `None` (and a log line) if it does not decode.
pub fn window_icon() -> Option<egui::IconData> {
    match image::load_from_memory_with_format(ICON_PNG, image::ImageFormat::Png) {
        Ok(icon) => {
            let rgba = icon.to_rgba8();
            Some(egui::IconData {
                width: rgba.width(),
                height: rgba.height(),
                rgba: rgba.into_raw(),
            })
        }
        Err(err) => {
            tracing::warn!("the window icon does not decode: {err}");
            None
        }
    }
}

/// Opens the desk window and runs it until closed.
pub fn run(
    start: StartMode,
    model: Option<ModelRequest>,
    regions: crate::ranking::regions::RegionMode,
    shortlist: crate::ranking::cascade::Shortlist,
) -> eframe::Result {
    let mut viewport = egui::ViewportBuilder::default()
        .with_title("Replicant")
        .with_inner_size([1280.0, 800.0])
        .with_min_inner_size([900.0, 560.0])
        .with_drag_and_drop(true);
    if let Some(icon) = window_icon() {
        viewport = viewport.with_icon(icon);
    }
    let options = eframe::NativeOptions {
        viewport,
        renderer: eframe::Renderer::Wgpu,
        ..Default::default()
    };
    eframe::run_native(
        "replicant",
        options,
        Box::new(move |cc| {
            let app = DeskApp::new(cc, start)
                .with_regions(regions)
                .with_shortlist(shortlist);
            Ok(Box::new(match model {
                Some(request) => app.with_model(request),
                None => app,
            }))
        }),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_window_icon_decodes() {
        let icon = super::window_icon().expect("assets/icon.png decodes");
        assert_eq!((icon.width, icon.height), (256, 256));
        assert_eq!(icon.rgba.len(), 256 * 256 * 4);
    }
}
