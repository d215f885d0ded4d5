//! Blank windows: a region window that is one flat colour (the white of a web page, the dark
//! panel of an app) carries no evidence of copying, yet its embedding matches any flat training
//! image, and SSCD rates two flat images nearly identical. A window is
//! blank when the part of the generation's layout thumbnail ([`crate::ranking::layout::layout_luma`],
//! already cached beside its embeddings) it covers varies by less than its plan's floor; blank
//! windows are not searched, nor embedded: the decode worker stores them as empty vectors, so
//! the cache still counts every window of the plan as known (on web pages and app screenshots
//! that is up to half the windows, and most of the regions' inference). The whole image is
//! always searched: a flat generation matching a flat training image is for the reviewer to
//! see.
//! Why, and how the floor was chosen: `docs/tuning.md` ("Blank windows").

use crate::ranking::layout::LAYOUT_SIDE;

/// The grey-level standard deviation under which a window's part of the layout thumbnail is
/// blank (see the module's comment; how it was chosen: `docs/tuning.md`).
pub const BLANK_WINDOW_STD: f32 = 8.0;

/// Whether a whole layout thumbnail (grey levels) varies by less than `floor` in standard
/// deviation: a training image of one flat colour (a fully transparent wallpaper, once
/// flattened), which any blank-looking window matches, so a window's match to it is not
/// evidence. Never blank with a floor of 0 or an empty thumbnail.
pub fn thumbnail_is_blank(luma: &[f32], floor: f32) -> bool {
    if floor <= 0.0 || luma.is_empty() {
        return false;
    }
    let n = luma.len() as f32;
    let mean = luma.iter().sum::<f32>() / n;
    let variance = luma.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    variance.sqrt() < floor
}

/// Whether the window `cell` (`[x, y, w, h]` in pixels of an image of `extent` = (width,
/// height)) is blank in the image's layout thumbnail `luma` ([`LAYOUT_SIDE`]², grey levels):
/// the thumbnail pixels it touches have a standard deviation below `floor`. Never blank with
/// a floor of 0 or a thumbnail of another size.
pub fn window_is_blank(luma: &[f32], extent: (u32, u32), cell: [u32; 4], floor: f32) -> bool {
    let side = LAYOUT_SIDE as usize;
    if floor <= 0.0 || luma.len() != side * side || extent.0 == 0 || extent.1 == 0 {
        return false;
    }
    // The thumbnail pixels whose footprint overlaps the window.
    let span = |start: u32, length: u32, total: u32| {
        let scale = side as f64 / f64::from(total);
        let first = (f64::from(start) * scale).floor() as usize;
        let end = (f64::from(start.saturating_add(length)) * scale).ceil() as usize;
        (first.min(side - 1), end.clamp(first + 1, side))
    };
    let (x0, x1) = span(cell[0], cell[2], extent.0);
    let (y0, y1) = span(cell[1], cell[3], extent.1);
    let values: Vec<f32> = (y0..y1)
        .flat_map(|y| luma[y * side + x0..y * side + x1].iter().copied())
        .collect();
    let n = values.len() as f32;
    let mean = values.iter().sum::<f32>() / n;
    let variance = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    variance.sqrt() < floor
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flat_thumbnail_is_blank_and_one_with_a_shape_is_not() {
        let flat = vec![250.0; 1024];
        let shape: Vec<f32> = (0..1024)
            .map(|i| if (i % 32) < 8 { 40.0 } else { 250.0 })
            .collect();
        assert!(thumbnail_is_blank(&flat, BLANK_WINDOW_STD));
        assert!(!thumbnail_is_blank(&shape, BLANK_WINDOW_STD));
        assert!(!thumbnail_is_blank(&flat, 0.0));
        assert!(!thumbnail_is_blank(&[], BLANK_WINDOW_STD));
    }

    #[test]
    fn flat_parts_are_blank_and_anything_drawn_is_not() {
        let side = LAYOUT_SIDE as usize;
        // A white page, 1280x800, with a picture drawn over thumbnail pixels 20..26 x 10..16.
        let mut luma = vec![255.0f32; side * side];
        for y in 10..16 {
            for x in 20..26 {
                luma[y * side + x] = ((x * 37 + y * 11) % 200) as f32;
            }
        }
        let extent = (1280, 800);
        // The left half of the page: white only.
        assert!(window_is_blank(&luma, extent, [0, 0, 576, 360], 1.0));
        // A small window over the picture, and one that only touches its corner.
        assert!(!window_is_blank(&luma, extent, [820, 260, 200, 120], 1.0));
        assert!(!window_is_blank(&luma, extent, [780, 240, 30, 20], 1.0));
        // A floor of 0 turns the test off; a thumbnail of another size is never judged.
        assert!(!window_is_blank(&luma, extent, [0, 0, 576, 360], 0.0));
        assert!(!window_is_blank(&luma[..10], extent, [0, 0, 576, 360], 1.0));
        // Noise of a grey level or two is blank at a floor of 4, not at 1.
        let noisy: Vec<f32> = (0..side * side).map(|i| 128.0 + (i % 3) as f32).collect();
        assert!(window_is_blank(&noisy, extent, [0, 0, 640, 400], 4.0));
        assert!(!window_is_blank(&noisy, extent, [0, 0, 640, 400], 0.5));
    }
}
