//! Images the loader decoded go to the GPU once a frame, and the textures the desk evicted go.

use super::compare;
use super::desk::{self, Desk};

/// Uploads loaded images to the GPU (when there is one: headless tests have none) and drops
/// the textures the desk evicted.
pub(super) fn upload_images(
    desk: &mut Desk,
    render_state: Option<&eframe::egui_wgpu::RenderState>,
) {
    for loaded in desk.take_loaded_images() {
        let location = loaded.request.location.clone();
        match &loaded.result {
            Ok(levels) => {
                let Some(base) = levels.first() else { continue };
                let id = desk::texture_id(&location);
                if let Some(render_state) = render_state {
                    compare::CompareResources::upload(render_state, id, levels);
                }
                let image = compare::CompareImage {
                    id,
                    size: [base.width() as f32, base.height() as f32],
                };
                // The first level no larger than 768 px, for estimating alignments.
                let small = levels
                    .iter()
                    .find(|l| l.width().max(l.height()) <= 768)
                    .unwrap_or(base);
                let small = image::DynamicImage::ImageRgba8(small.clone()).into_rgb8();
                desk.image_uploaded(location, image, loaded.original_size, small);
            }
            Err(reason) => desk.image_failed(location, reason.clone()),
        }
    }
    let evicted = desk.take_evicted_textures();
    if let Some(render_state) = render_state {
        compare::CompareResources::remove(render_state, &evicted);
    }
}
