//! Whether a generation looks like a composite: a screenshot, a web page, a figure or a grid,
//! where a training image can sit small among flat panels. Those are the generations worth
//! the fine windows' cost when a scan cannot afford them for every generation: their layout
//! thumbnail is largely flat (UI backgrounds, margins, panels), where a photo or an artwork,
//! even one with a plain sky, varies from pixel to pixel at that scale. The rule reads the
//! 32x32 layout thumbnail every image already has; how its two constants were chosen is in
//! `docs/tuning.md` ("Composites").

/// A thumbnail pixel is flat when its 3x3 neighbourhood varies by at most this many grey
/// levels.
pub const FLAT_RANGE: f32 = 1.0;

/// A generation looks like a composite when at least this share of its thumbnail's interior
/// pixels is flat.
pub const COMPOSITE_FLAT_SHARE: f32 = 0.3;

/// The share of a square luminance thumbnail's interior pixels whose 3x3 neighbourhood varies
/// by at most [`FLAT_RANGE`] grey levels; 0 for a thumbnail too small to have an interior or
/// not square.
pub fn flat_share(luma: &[f32]) -> f32 {
    let n = (luma.len() as f64).sqrt().round() as usize;
    if n < 3 || n * n != luma.len() {
        return 0.0;
    }
    let mut flat = 0usize;
    for y in 1..n - 1 {
        for x in 1..n - 1 {
            let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
            for v in (y - 1..=y + 1).flat_map(|yy| &luma[yy * n + x - 1..=yy * n + x + 1]) {
                lo = lo.min(*v);
                hi = hi.max(*v);
            }
            flat += usize::from(hi - lo <= FLAT_RANGE);
        }
    }
    flat as f32 / ((n - 2) * (n - 2)) as f32
}

/// Whether a generation with this layout thumbnail looks like a composite (see the module).
pub fn looks_composite(luma: &[f32]) -> bool {
    flat_share(luma) >= COMPOSITE_FLAT_SHARE
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: usize = 32;

    #[test]
    fn panels_look_composite_and_textures_do_not() {
        // A page: white with a grey header and a picture in the middle third.
        let page: Vec<f32> = (0..N * N)
            .map(|i| {
                let (x, y) = (i % N, i / N);
                if y < 4 {
                    230.0
                } else if (10..22).contains(&x) && (10..22).contains(&y) {
                    ((x * 37 + y * 91) % 200) as f32
                } else {
                    255.0
                }
            })
            .collect();
        // A photo-like texture: every pixel differs from its neighbours.
        let texture: Vec<f32> = (0..N * N)
            .map(|i| ((i * 7919) % 97) as f32 + 50.0)
            .collect();
        // A smooth gradient: a sky from dark to light, 4 levels a pixel.
        let sky: Vec<f32> = (0..N * N).map(|i| 60.0 + 4.0 * (i / N) as f32).collect();
        assert!(flat_share(&page) > 0.6, "{}", flat_share(&page));
        assert!(looks_composite(&page));
        assert_eq!(flat_share(&texture), 0.0);
        assert!(!looks_composite(&sky), "{}", flat_share(&sky));
        assert_eq!(flat_share(&[1.0; 10]), 0.0, "not square");
        assert_eq!(flat_share(&[5.0; 9]), 1.0, "one interior pixel, flat");
    }
}
