//! Alignment: the transform (scale, translation, horizontal flip) that maps generation pixels
//! onto the matched training image, so overlay and difference views line up for crops, shifts,
//! pads and pastes.
//!
//! How: both images in grayscale at a coarse size (longest side 128 px), then an exhaustive
//! search over flip (none, horizontal) and relative scale (1/4x to 4x in 2^(1/5) steps), in
//! both directions (the generation inside the training image, as for a crop, and the training
//! image inside the generation, as for a pad or a paste), scoring every translation by
//! zero-mean normalised cross-correlation (NCC). The best hypothesis is refined at a finer size
//! (longest side 256 px) in 2.5% scale steps and a small translation window. The mapping that
//! matches the images' corners (no alignment) is a hypothesis too, and wins unless another is
//! clearly better. Accuracy on AugLy's edits of `dfdc_1.jpg` is measured by a test
//! (`tests/align_fixtures.rs`) and reported in `docs/compare.md`.

pub mod job;

use image::{GrayImage, RgbImage, imageops};

/// A 2x3 affine map from generation pixels to training pixels: `[[a, b, c], [d, e, f]]` maps
/// `(x, y)` to `(a x + b y + c, d x + e y + f)`.
pub type Affine = [[f32; 3]; 2];

/// The estimated alignment of a pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Alignment {
    /// Generation pixels to training pixels (full resolution).
    pub gen_to_train: Affine,
    /// Training pixels per generation pixel.
    pub scale: f32,
    /// Whether the generation is the training image mirrored left to right.
    pub flipped: bool,
    /// The NCC of the chosen mapping over the overlap (-1..1).
    pub score: f32,
    /// The NCC of the corner-to-corner mapping, for comparison.
    pub unaligned_score: f32,
}

impl Alignment {
    /// Whether the search found a mapping better than corner to corner.
    pub fn improves(&self) -> bool {
        self.score > self.unaligned_score + 0.02
    }
}

/// The corner-to-corner mapping (normalised coordinates).
pub fn corner_to_corner(generation: (u32, u32), train: (u32, u32)) -> Affine {
    let sx = train.0 as f32 / generation.0.max(1) as f32;
    let sy = train.1 as f32 / generation.1.max(1) as f32;
    [[sx, 0.0, 0.0], [0.0, sy, 0.0]]
}

/// Maps a generation pixel to training pixels.
pub fn apply(m: &Affine, x: f32, y: f32) -> (f32, f32) {
    (
        m[0][0] * x + m[0][1] * y + m[0][2],
        m[1][0] * x + m[1][1] * y + m[1][2],
    )
}

struct Gray {
    w: usize,
    h: usize,
    px: Vec<f32>,
}

impl Gray {
    fn from(image: &GrayImage) -> Self {
        Self {
            w: image.width() as usize,
            h: image.height() as usize,
            px: image.as_raw().iter().map(|&v| f32::from(v)).collect(),
        }
    }
}

fn gray_at(image: &RgbImage, max_side: u32) -> GrayImage {
    let small = crate::decode::thumbnail(image, max_side);
    image::DynamicImage::ImageRgb8(small).to_luma8()
}

fn resized(image: &GrayImage, w: u32, h: u32) -> GrayImage {
    imageops::resize(image, w.max(1), h.max(1), imageops::FilterType::Triangle)
}

/// Zero-mean NCC of `template` at every position inside `image` within `window` (inclusive
/// ranges of top-left positions); returns the best (score, x, y).
fn best_ncc(
    image: &Gray,
    template: &Gray,
    window: Option<(usize, usize, usize, usize)>,
) -> Option<(f32, usize, usize)> {
    if template.w > image.w || template.h > image.h || template.w < 8 || template.h < 8 {
        return None;
    }
    let n = (template.w * template.h) as f32;
    let t_mean = template.px.iter().sum::<f32>() / n;
    let t: Vec<f32> = template.px.iter().map(|v| v - t_mean).collect();
    let t_norm = t.iter().map(|v| v * v).sum::<f32>().sqrt();
    if t_norm < 1e-3 {
        return None;
    }
    // Integral images of the image and its square for window means and variances.
    let (iw, ih) = (image.w + 1, image.h + 1);
    let mut sum = vec![0f64; iw * ih];
    let mut sq = vec![0f64; iw * ih];
    for y in 0..image.h {
        let mut row = 0f64;
        let mut row_sq = 0f64;
        for x in 0..image.w {
            let v = f64::from(image.px[y * image.w + x]);
            row += v;
            row_sq += v * v;
            sum[(y + 1) * iw + x + 1] = sum[y * iw + x + 1] + row;
            sq[(y + 1) * iw + x + 1] = sq[y * iw + x + 1] + row_sq;
        }
    }
    let rect = |table: &[f64], x: usize, y: usize| {
        table[(y + template.h) * iw + x + template.w]
            - table[y * iw + x + template.w]
            - table[(y + template.h) * iw + x]
            + table[y * iw + x]
    };
    let (x0, x1, y0, y1) = window.unwrap_or((0, image.w - template.w, 0, image.h - template.h));
    let (x1, y1) = (x1.min(image.w - template.w), y1.min(image.h - template.h));
    let mut best: Option<(f32, usize, usize)> = None;
    for y in y0..=y1 {
        for x in x0..=x1 {
            let s = rect(&sum, x, y);
            let var = rect(&sq, x, y) - s * s / f64::from(n);
            if var <= 1e-6 {
                continue;
            }
            let mut cross = 0f32;
            for ty in 0..template.h {
                let image_row =
                    &image.px[(y + ty) * image.w + x..(y + ty) * image.w + x + template.w];
                let template_row = &t[ty * template.w..(ty + 1) * template.w];
                cross += image_row
                    .iter()
                    .zip(template_row)
                    .map(|(a, b)| a * b)
                    .sum::<f32>();
            }
            let score = cross / (t_norm * var.sqrt() as f32);
            if best.is_none_or(|(b, _, _)| score > b) {
                best = Some((score, x, y));
            }
        }
    }
    best
}

/// One hypothesis at one resolution: `flip`, relative scale `z` (1 = corner to corner), and
/// which image is inside the other.
#[derive(Debug, Clone, Copy)]
struct Hypothesis {
    flip: bool,
    z: f32,
    gen_inside: bool,
}

/// Scores `h` with the generation `g` and training `t` (grayscale, any sizes); returns the
/// score and the mapping in these images' pixels.
fn score(
    g: &GrayImage,
    t: &GrayImage,
    h: Hypothesis,
    near: Option<(Affine, usize)>,
) -> Option<(f32, Affine)> {
    let g = if h.flip {
        imageops::flip_horizontal(g)
    } else {
        g.clone()
    };
    let (gw, gh) = (g.width() as f32, g.height() as f32);
    let (tw, th) = (t.width() as f32, t.height() as f32);
    // Training pixels per generation pixel at this hypothesis.
    let s = (tw / gw).min(th / gh).max(1e-6) * h.z;
    let flip = |m: Affine| -> Affine {
        if h.flip {
            // x_flipped = gw - x.
            [[-m[0][0], m[0][1], m[0][0] * gw + m[0][2]], m[1]]
        } else {
            m
        }
    };
    if h.gen_inside {
        let template = resized(&g, (gw * s).round() as u32, (gh * s).round() as u32);
        let window = near.map(|(m, r)| {
            let (x, y) = apply(&flip(m), if h.flip { gw } else { 0.0 }, 0.0);
            let (x, y) = (x.max(0.0) as usize, y.max(0.0) as usize);
            (x.saturating_sub(r), x + r, y.saturating_sub(r), y + r)
        });
        let (score, x, y) = best_ncc(&Gray::from(t), &Gray::from(&template), window)?;
        Some((score, flip([[s, 0.0, x as f32], [0.0, s, y as f32]])))
    } else {
        let template = resized(t, (tw / s).round() as u32, (th / s).round() as u32);
        let window = near.map(|(m, r)| {
            // Where training pixel (0, 0) falls in the generation.
            let m = flip(m);
            let det = m[0][0] * m[1][1];
            let gx = if det.abs() > 1e-9 {
                -m[0][2] / m[0][0]
            } else {
                0.0
            };
            let gy = if det.abs() > 1e-9 {
                -m[1][2] / m[1][1]
            } else {
                0.0
            };
            let gx = if h.flip { gw - gx - tw / s } else { gx };
            let (x, y) = (gx.max(0.0) as usize, gy.max(0.0) as usize);
            (x.saturating_sub(r), x + r, y.saturating_sub(r), y + r)
        });
        let (score, x, y) = best_ncc(&Gray::from(&g), &Gray::from(&template), window)?;
        Some((
            score,
            flip([[s, 0.0, -s * x as f32], [0.0, s, -s * y as f32]]),
        ))
    }
}

fn rescale(m: Affine, gen_factor: f32, train_factor: f32) -> Affine {
    // m maps generation pixels at `gen_factor` of full size to training pixels at
    // `train_factor`; return the full-size mapping.
    let a = gen_factor / train_factor;
    [
        [m[0][0] * a, m[0][1] * a, m[0][2] / train_factor],
        [m[1][0] * a, m[1][1] * a, m[1][2] / train_factor],
    ]
}

fn ncc_of_mapping(g: &GrayImage, t: &GrayImage, m: &Affine) -> f32 {
    // Samples the training image through `m` at every generation pixel inside it.
    let (mut sg, mut st, mut sgg, mut stt, mut sgt, mut n) = (0f64, 0f64, 0f64, 0f64, 0f64, 0f64);
    for y in 0..g.height() {
        for x in 0..g.width() {
            let (tx, ty) = apply(m, x as f32 + 0.5, y as f32 + 0.5);
            if tx < 0.0 || ty < 0.0 || tx >= t.width() as f32 || ty >= t.height() as f32 {
                continue;
            }
            let a = f64::from(g.get_pixel(x, y)[0]);
            let b = f64::from(t.get_pixel(tx as u32, ty as u32)[0]);
            sg += a;
            st += b;
            sgg += a * a;
            stt += b * b;
            sgt += a * b;
            n += 1.0;
        }
    }
    if n < 64.0 {
        return -1.0;
    }
    let cov = sgt - sg * st / n;
    let var = (sgg - sg * sg / n) * (stt - st * st / n);
    if var <= 0.0 {
        -1.0
    } else {
        (cov / var.sqrt()) as f32
    }
}

/// Refines scale and translation of `mapping` (full-size pixels) by coordinate ascent on the
/// NCC at a 384-pixel size, down to sub-pixel steps there.
fn polish(generation: &RgbImage, train: &RgbImage, mapping: Affine) -> Affine {
    let side = 384;
    let (g, t) = (gray_at(generation, side), gray_at(train, side));
    let gf = g.width() as f32 / generation.width().max(1) as f32;
    let tf = t.width() as f32 / train.width().max(1) as f32;
    let at_level = |m: &Affine| -> Affine {
        [
            [m[0][0] * tf / gf, 0.0, m[0][2] * tf],
            [0.0, m[1][1] * tf / gf, m[1][2] * tf],
        ]
    };
    let sign = mapping[0][0].signum();
    // Parameters: scale, and where the generation's centre falls in the training image, so a
    // change of scale does not move the match (scale and shift stay independent).
    let (gcx, gcy) = (
        generation.width() as f32 * 0.5,
        generation.height() as f32 * 0.5,
    );
    let (cx, cy) = apply(&mapping, gcx, gcy);
    let mut p = [mapping[1][1], cx, cy];
    let build = |p: &[f32; 3]| -> Affine {
        [
            [sign * p[0], 0.0, p[1] - sign * p[0] * gcx],
            [0.0, p[0], p[2] - p[0] * gcy],
        ]
    };
    let mut best = ncc_of_mapping(&g, &t, &at_level(&build(&p)));
    let mut steps = [p[0] * 0.02, 4.0 / tf, 4.0 / tf];
    for _ in 0..6 {
        for i in 0..3 {
            loop {
                let mut improved = false;
                for direction in [-1.0, 1.0] {
                    let mut q = p;
                    q[i] += direction * steps[i];
                    let score = ncc_of_mapping(&g, &t, &at_level(&build(&q)));
                    if score > best + 1e-5 {
                        best = score;
                        p = q;
                        improved = true;
                        break;
                    }
                }
                if !improved {
                    break;
                }
            }
        }
        steps.iter_mut().for_each(|s| *s *= 0.5);
    }
    build(&p)
}

/// Estimates the alignment of a generation and a training image.
pub fn estimate(generation: &RgbImage, train: &RgbImage) -> Alignment {
    estimate_unless(generation, train, &|| false).unwrap_or_else(|| {
        // Not reachable: nothing cancels.
        let unaligned = corner_to_corner(generation.dimensions(), train.dimensions());
        Alignment {
            gen_to_train: unaligned,
            scale: unaligned[1][1],
            flipped: false,
            score: 0.0,
            unaligned_score: 0.0,
        }
    })
}

/// [`estimate`], stopping early with `None` once `cancelled` says so (it is asked between
/// hypotheses, so a pair the reviewer has left stops costing a core within milliseconds).
///
/// Over 100 lines on purpose: the search from coarse to fine (scales and flips, then refinement
/// around the best), each stage narrowing the last one's answer and checking `cancelled` between
/// hypotheses.
pub fn estimate_unless(
    generation: &RgbImage,
    train: &RgbImage,
    cancelled: &dyn Fn() -> bool,
) -> Option<Alignment> {
    let (gw, gh) = generation.dimensions();
    let (tw, th) = train.dimensions();
    let unaligned = corner_to_corner((gw, gh), (tw, th));
    let coarse_side = 128;
    let (g_small, t_small) = (
        gray_at(generation, coarse_side),
        gray_at(train, coarse_side),
    );
    let gf = g_small.width() as f32 / gw.max(1) as f32;
    let tf = t_small.width() as f32 / tw.max(1) as f32;
    let to_coarse = |m: &Affine| -> Affine {
        [
            [m[0][0] * tf / gf, 0.0, m[0][2] * tf],
            [0.0, m[1][1] * tf / gf, m[1][2] * tf],
        ]
    };
    let unaligned_score = ncc_of_mapping(&g_small, &t_small, &to_coarse(&unaligned));

    let mut best: Option<(f32, Hypothesis, Affine)> = None;
    for flip in [false, true] {
        for step in -10..=10 {
            if cancelled() {
                return None;
            }
            let z = 2f32.powf(step as f32 / 5.0);
            for gen_inside in [true, false] {
                let h = Hypothesis {
                    flip,
                    z,
                    gen_inside,
                };
                if let Some((s, m)) = score(&g_small, &t_small, h, None)
                    && best.is_none_or(|(b, _, _)| s > b)
                {
                    best = Some((s, h, m));
                }
            }
        }
    }
    let Some((_, coarse_h, coarse_m)) = best else {
        return Some(Alignment {
            gen_to_train: unaligned,
            scale: unaligned[0][0],
            flipped: false,
            score: unaligned_score,
            unaligned_score,
        });
    };
    // Refine at a finer size around the coarse answer.
    let fine_side = 256;
    let (g_fine, t_fine) = (gray_at(generation, fine_side), gray_at(train, fine_side));
    let gf2 = g_fine.width() as f32 / gw.max(1) as f32;
    let tf2 = t_fine.width() as f32 / tw.max(1) as f32;
    let coarse_full = rescale(coarse_m, gf, tf);
    let near = [
        [coarse_full[0][0] * tf2 / gf2, 0.0, coarse_full[0][2] * tf2],
        [0.0, coarse_full[1][1] * tf2 / gf2, coarse_full[1][2] * tf2],
    ];
    let near = if coarse_h.flip {
        // Undo the flip for the window search, which re-applies it.
        [
            [
                -near[0][0],
                0.0,
                near[0][2] + near[0][0] * g_fine.width() as f32,
            ],
            near[1],
        ]
    } else {
        near
    };
    let mut fine_best: Option<(f32, Affine)> = None;
    // Half a coarse step is 7%; search a little beyond it.
    for k in -5..=5 {
        if cancelled() {
            return None;
        }
        let z = coarse_h.z * (1.0 + 0.025 * k as f32);
        let h = Hypothesis { z, ..coarse_h };
        if let Some((s, m)) = score(&g_fine, &t_fine, h, Some((near, 6)))
            && fine_best.is_none_or(|(b, _)| s > b)
        {
            fine_best = Some((s, m));
        }
    }
    let (mapping, factors) = match fine_best {
        Some((_, m)) => (m, (gf2, tf2)),
        None => (coarse_m, (gf, tf)),
    };
    if cancelled() {
        return None;
    }
    let full = polish(generation, train, rescale(mapping, factors.0, factors.1));
    // Score both candidates the same way, at the coarse size, and keep the better.
    let aligned_score = ncc_of_mapping(&g_small, &t_small, &to_coarse(&full));
    let aligned = Alignment {
        gen_to_train: full,
        scale: full[1][1],
        flipped: full[0][0] < 0.0,
        score: aligned_score,
        unaligned_score,
    };
    if aligned.improves() {
        Some(aligned)
    } else {
        Some(Alignment {
            gen_to_train: unaligned,
            scale: unaligned[1][1],
            flipped: false,
            score: unaligned_score,
            unaligned_score,
        })
    }
}

/// Estimates the alignment of a training image with one region of a generation (`[x, y, w,
/// h]` in generation pixels): the region that found the match, for a piece of a collage or a
/// paste. The search runs on the region alone, so the rest of the generation (other pieces)
/// cannot pull the estimate away, and the region's own corner-to-corner mapping, which may
/// stretch the training image unevenly as a collage tile does, is a hypothesis too. The
/// mapping returned is in whole-generation pixels.
pub fn estimate_in_region(generation: &RgbImage, train: &RgbImage, region: [u32; 4]) -> Alignment {
    estimate_in_region_unless(generation, train, region, &|| false)
        .unwrap_or_else(|| estimate(generation, train))
}

/// [`estimate_in_region`], stopping early with `None` once `cancelled` says so.
pub fn estimate_in_region_unless(
    generation: &RgbImage,
    train: &RgbImage,
    region: [u32; 4],
    cancelled: &dyn Fn() -> bool,
) -> Option<Alignment> {
    let (gw, gh) = generation.dimensions();
    let x = region[0].min(gw.saturating_sub(1));
    let y = region[1].min(gh.saturating_sub(1));
    let w = region[2].clamp(1, gw - x);
    let h = region[3].clamp(1, gh - y);
    let piece = imageops::crop_imm(generation, x, y, w, h).to_image();
    let mut found = estimate_unless(&piece, train, cancelled)?;
    let m = &mut found.gen_to_train;
    let (dx, dy) = (x as f32, y as f32);
    m[0][2] -= m[0][0] * dx + m[0][1] * dy;
    m[1][2] -= m[1][0] * dx + m[1][1] * dy;
    Some(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scene() -> RgbImage {
        crate::demo::scene(42, 640, 480)
    }

    #[test]
    fn a_cancelled_estimate_stops_at_once() {
        let (g, t) = (scene(), crate::demo::scene(43, 640, 480));
        let asked = std::cell::Cell::new(0);
        let found = estimate_unless(&g, &t, &|| {
            asked.set(asked.get() + 1);
            asked.get() > 3
        });
        assert!(found.is_none());
        assert_eq!(
            asked.get(),
            4,
            "it stops at the first check after the cancel"
        );
    }

    #[test]
    fn a_collage_tile_stretched_unevenly_is_aligned_through_its_region() {
        // A 480x640 training image squeezed into a 384x256 tile of a 768x512 collage, beside
        // an unrelated scene: no single scale fits it, the tile's region does.
        let train = crate::demo::scene(7, 480, 640);
        let other = crate::demo::scene(99, 768, 512);
        let mut collage = other.clone();
        let tile = imageops::resize(&train, 384, 256, imageops::FilterType::Triangle);
        imageops::overlay(&mut collage, &tile, 0, 256);
        let found = estimate_in_region(&collage, &train, [0, 256, 384, 256]);
        // The tile's corners land on the training image's corners.
        let truth: Affine = [[1.25, 0.0, 0.0], [0.0, 2.5, -640.0]];
        let err = [(0.0, 256.0), (384.0, 256.0), (0.0, 512.0), (384.0, 512.0)]
            .iter()
            .map(|&(x, y)| {
                let (a, b) = (apply(&found.gen_to_train, x, y), apply(&truth, x, y));
                ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt()
            })
            .fold(0.0f32, f32::max);
        assert!(err < 20.0, "corner error {err:.1} px: {found:?}");
        assert!(found.score > 0.8, "{found:?}");
    }

    fn corner_error(found: &Affine, truth: &Affine, w: f32, h: f32) -> f32 {
        [(0.0, 0.0), (w, 0.0), (0.0, h), (w, h)]
            .iter()
            .map(|&(x, y)| {
                let (a, b) = (apply(found, x, y), apply(truth, x, y));
                ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt()
            })
            .fold(0.0, f32::max)
    }

    #[test]
    fn finds_a_crop() {
        let train = scene();
        let generation = imageops::crop_imm(&train, 160, 120, 320, 240).to_image();
        let found = estimate(&generation, &train);
        let truth = [[1.0, 0.0, 160.0], [0.0, 1.0, 120.0]];
        assert!(
            corner_error(&found.gen_to_train, &truth, 320.0, 240.0) < 8.0,
            "{found:?}"
        );
        assert!(!found.flipped);
    }

    #[test]
    fn finds_a_flip_and_a_scale() {
        let train = scene();
        let generation = imageops::flip_horizontal(&imageops::resize(
            &train,
            320,
            240,
            imageops::FilterType::Triangle,
        ));
        let found = estimate(&generation, &train);
        assert!(found.flipped, "{found:?}");
        let truth = [[-2.0, 0.0, 640.0], [0.0, 2.0, 0.0]];
        assert!(
            corner_error(&found.gen_to_train, &truth, 320.0, 240.0) < 12.0,
            "{found:?}"
        );
    }

    #[test]
    fn finds_a_paste() {
        let train = scene();
        let mut generation = crate::demo::scene(7, 800, 600);
        let small = imageops::resize(&train, 320, 240, imageops::FilterType::Triangle);
        imageops::overlay(&mut generation, &small, 300, 200);
        let found = estimate(&generation, &train);
        // Training pixel = 2 * (generation pixel - (300, 200)).
        let truth = [[2.0, 0.0, -600.0], [0.0, 2.0, -400.0]];
        assert!(
            corner_error(&found.gen_to_train, &truth, 320.0, 240.0) < 16.0,
            "{found:?}"
        );
    }

    #[test]
    fn identical_images_keep_the_corner_mapping() {
        let train = scene();
        let found = estimate(&train, &train);
        assert_eq!(found.gen_to_train, corner_to_corner((640, 480), (640, 480)));
    }
}
