//! The demo set: procedural training scenes and generations made from them (full copies, near
//! copies, collages of 2 to 4 training images) plus distinct images, with a ground-truth file.
//! Deterministic: the same seed gives the same bytes on every machine.

use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageFormat, Rgb, RgbImage, imageops};
use imageproc::drawing::{
    draw_filled_circle_mut, draw_filled_ellipse_mut, draw_filled_rect_mut, draw_polygon_mut,
};
use imageproc::point::Point;
use imageproc::rect::Rect;

/// How big a demo set to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoSpec {
    /// Training images.
    pub training: usize,
    /// Generations.
    pub generations: usize,
    /// Seed for every random choice.
    pub seed: u64,
}

impl Default for DemoSpec {
    fn default() -> Self {
        Self {
            training: 200,
            generations: 60,
            seed: 7,
        }
    }
}

/// What a demo generation really is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DemoKind {
    /// A training image with global edits.
    FullCopy,
    /// A crop, recolour or occlusion of a training image.
    NearCopy,
    /// Pieces of 2 to 4 training images.
    Collage,
    /// A new scene.
    Distinct,
}

/// The ground truth of one demo generation.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DemoTruth {
    /// The generation's path relative to the generations folder.
    pub generation: String,
    /// What it is.
    pub kind: DemoKind,
    /// The training images it was made from (relative to the training folder).
    pub sources: Vec<String>,
    /// The edit applied.
    pub transform: String,
}

/// The folders of a demo set.
#[derive(Debug, Clone)]
pub struct DemoSet {
    /// The training folder.
    pub training: PathBuf,
    /// The generations folder.
    pub generations: PathBuf,
    /// The ground truth, one entry per generation.
    pub truth: Vec<DemoTruth>,
}

/// A small deterministic random source (SplitMix64): stable across platforms and versions.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    /// A source seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A float in `[0, 1)`.
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// An integer in `[lo, hi)`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            lo
        } else {
            lo + (self.next_u64() % (hi - lo) as u64) as i64
        }
    }

    fn colour(&mut self) -> Rgb<u8> {
        Rgb([
            self.range(0, 256) as u8,
            self.range(0, 256) as u8,
            self.range(0, 256) as u8,
        ])
    }
}

/// Smooth random noise in `[0, 1]`: `octaves` layers of bilinearly interpolated random grids
/// (fractal value noise), the finest `cell_px` pixels across.
fn value_noise(
    rng: &mut SplitMix,
    width: u32,
    height: u32,
    cell_px: f32,
    octaves: u32,
) -> Vec<f32> {
    let mut out = vec![0f32; (width * height) as usize];
    let mut total = 0.0;
    for octave in 0..octaves {
        let cell = cell_px * (1u32 << (octaves - 1 - octave)) as f32;
        let weight = 1.0 / (1u32 << (octaves - 1 - octave)) as f32;
        let weight = weight.sqrt();
        let gw = (width as f32 / cell).ceil() as usize + 2;
        let gh = (height as f32 / cell).ceil() as usize + 2;
        let grid: Vec<f32> = (0..gw * gh).map(|_| rng.unit()).collect();
        for y in 0..height {
            let fy = y as f32 / cell;
            let (y0, ty) = (fy as usize, fy.fract());
            let ty = ty * ty * (3.0 - 2.0 * ty);
            for x in 0..width {
                let fx = x as f32 / cell;
                let (x0, tx) = (fx as usize, fx.fract());
                let tx = tx * tx * (3.0 - 2.0 * tx);
                let g = |gx: usize, gy: usize| grid[gy * gw + gx];
                let top = g(x0, y0) * (1.0 - tx) + g(x0 + 1, y0) * tx;
                let bottom = g(x0, y0 + 1) * (1.0 - tx) + g(x0 + 1, y0 + 1) * tx;
                out[(y * width + x) as usize] += weight * (top * (1.0 - ty) + bottom * ty);
            }
        }
        total += weight;
    }
    out.iter_mut().for_each(|v| *v /= total);
    out
}

/// A procedural scene: fractal noise through a random palette, with 10 to 40 shapes of many
/// sizes and some lines. Different seeds give scenes that SSCD scores as unrelated.
pub fn scene(seed: u64, width: u32, height: u32) -> RgbImage {
    let mut rng = SplitMix::new(seed ^ 0x5EED_0F5C_E4E5);
    let palette = [rng.colour(), rng.colour(), rng.colour()];
    let cell = 8.0 + rng.unit() * 40.0;
    let noise = value_noise(&mut rng, width, height, cell, 4);
    let contrast = 1.5 + rng.unit() * 2.5;
    let mut image = RgbImage::from_fn(width, height, |x, y| {
        let t = ((noise[(y * width + x) as usize] - 0.5) * contrast + 0.5).clamp(0.0, 1.0) * 2.0;
        let (c0, c1, f) = if t < 1.0 {
            (palette[0], palette[1], t)
        } else {
            (palette[1], palette[2], t - 1.0)
        };
        let mix = |a: u8, b: u8| (f32::from(a) * (1.0 - f) + f32::from(b) * f) as u8;
        Rgb([mix(c0[0], c1[0]), mix(c0[1], c1[1]), mix(c0[2], c1[2])])
    });
    let (w, h) = (width as i64, height as i64);
    let shapes = rng.range(10, 41);
    for _ in 0..shapes {
        let colour = rng.colour();
        let (cx, cy) = (rng.range(0, w) as i32, rng.range(0, h) as i32);
        // Sizes spread over two orders of magnitude, small ones most common.
        let size = ((w.min(h) as f32 / 3.0) * rng.unit().powi(2)).max(2.0) as i32;
        match rng.range(0, 6) {
            0 => draw_filled_circle_mut(&mut image, (cx, cy), size, colour),
            1 => draw_filled_ellipse_mut(&mut image, (cx, cy), size, (size / 2).max(1), colour),
            2 => draw_filled_rect_mut(
                &mut image,
                Rect::at(cx - size, cy - size / 2).of_size((2 * size) as u32, size.max(1) as u32),
                colour,
            ),
            3 => {
                let points: Vec<Point<i32>> = (0..3)
                    .map(|_| {
                        Point::new(
                            cx + rng.range(-2 * size as i64, 2 * size as i64) as i32,
                            cy + rng.range(-2 * size as i64, 2 * size as i64) as i32,
                        )
                    })
                    .collect();
                if points[0] != points[2] {
                    draw_polygon_mut(&mut image, &points, colour);
                }
            }
            4 => {
                let (x2, y2) = (rng.range(0, w) as f32, rng.range(0, h) as f32);
                imageproc::drawing::draw_line_segment_mut(
                    &mut image,
                    (cx as f32, cy as f32),
                    (x2, y2),
                    colour,
                );
            }
            _ => {
                // Stripes: a band of parallel bars.
                let bars = rng.range(3, 8) as i32;
                for k in 0..bars {
                    let x = cx + k * size / 2;
                    draw_filled_rect_mut(
                        &mut image,
                        Rect::at(x, cy - size)
                            .of_size((size / 5).max(1) as u32, (2 * size).max(1) as u32),
                        colour,
                    );
                }
            }
        }
    }
    image
}

/// A scene of another kind than the training scenes, for the demo's distinct generations:
/// a landscape (sky, layered ridges, a sun) or a wave-interference pattern.
pub fn distinct_scene(seed: u64, width: u32, height: u32) -> RgbImage {
    let mut rng = SplitMix::new(seed ^ 0xD15_71C7);
    if rng.range(0, 2) == 0 {
        let (top, bottom) = (rng.colour(), rng.colour());
        let mut image = RgbImage::from_fn(width, height, |_, y| {
            let t = y as f32 / height as f32;
            let mix = |a: u8, b: u8| (f32::from(a) * (1.0 - t) + f32::from(b) * t) as u8;
            Rgb([
                mix(top[0], bottom[0]),
                mix(top[1], bottom[1]),
                mix(top[2], bottom[2]),
            ])
        });
        let sun = rng.colour();
        let r = rng.range(15, 60) as i32;
        draw_filled_circle_mut(
            &mut image,
            (
                rng.range(40, i64::from(width) - 40) as i32,
                rng.range(30, i64::from(height) / 2) as i32,
            ),
            r,
            sun,
        );
        for _ in 0..rng.range(2, 5) {
            let colour = rng.colour();
            let mut ridge = rng.range(i64::from(height) * 2 / 5, i64::from(height) * 9 / 10) as f32;
            for x in 0..width {
                ridge = (ridge + (rng.unit() - 0.5) * 8.0).clamp(0.0, height as f32 - 1.0);
                for y in ridge as u32..height {
                    image.put_pixel(x, y, colour);
                }
            }
        }
        image
    } else {
        let (a, b) = (rng.colour(), rng.colour());
        let (f1, f2, theta) = (
            0.02 + rng.unit() * 0.15,
            0.02 + rng.unit() * 0.15,
            rng.unit() * 3.1,
        );
        let (cx, cy) = (rng.unit() * width as f32, rng.unit() * height as f32);
        RgbImage::from_fn(width, height, |x, y| {
            let (fx, fy) = (x as f32, y as f32);
            let v = (f1 * (fx * theta.cos() + fy * theta.sin())).sin()
                + (f2 * (fx - cx).hypot(fy - cy)).sin();
            let t = (v + 2.0) / 4.0;
            let mix = |c0: u8, c1: u8| (f32::from(c0) * (1.0 - t) + f32::from(c1) * t) as u8;
            Rgb([mix(a[0], b[0]), mix(a[1], b[1]), mix(a[2], b[2])])
        })
    }
}

fn crop(image: &RgbImage, x: f32, y: f32, w: f32, h: f32) -> RgbImage {
    let (iw, ih) = image.dimensions();
    let cw = ((iw as f32 * w) as u32).clamp(1, iw);
    let ch = ((ih as f32 * h) as u32).clamp(1, ih);
    let cx = ((iw as f32 * x) as u32).min(iw - cw);
    let cy = ((ih as f32 * y) as u32).min(ih - ch);
    imageops::crop_imm(image, cx, cy, cw, ch).to_image()
}

fn recolour(image: &RgbImage, shift: [i16; 3]) -> RgbImage {
    let mut out = image.clone();
    for p in out.pixels_mut() {
        for c in 0..3 {
            p[c] = (i16::from(p[c]) + shift[c]).clamp(0, 255) as u8;
        }
    }
    out
}

fn jpeg_round_trip(image: &RgbImage, quality: u8) -> RgbImage {
    let mut bytes = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality);
    if DynamicImage::ImageRgb8(image.clone())
        .write_with_encoder(encoder)
        .is_err()
    {
        return image.clone();
    }
    image::load_from_memory(&bytes)
        .map(|i| i.to_rgb8())
        .unwrap_or_else(|_| image.clone())
}

fn full_copy(source: &RgbImage, variant: usize, rng: &mut SplitMix) -> (RgbImage, String) {
    let (w, h) = source.dimensions();
    match variant % 7 {
        0 => (
            imageops::resize(
                source,
                w * 7 / 10,
                h * 7 / 10,
                imageops::FilterType::Triangle,
            ),
            "downscaled to 70%".into(),
        ),
        1 => (
            jpeg_round_trip(source, 35),
            "re-encoded as JPEG quality 35".into(),
        ),
        2 => (
            imageops::flip_horizontal(source),
            "flipped horizontally".into(),
        ),
        3 => (recolour(source, [30, -20, 10]), "colour shifted".into()),
        4 => (
            DynamicImage::ImageLuma8(DynamicImage::ImageRgb8(source.clone()).to_luma8()).to_rgb8(),
            "grayscale".into(),
        ),
        5 => {
            let mut out = source.clone();
            let bar = (h / 10).max(1);
            draw_filled_rect_mut(
                &mut out,
                Rect::at(0, (h - bar) as i32).of_size(w, bar),
                Rgb([250, 250, 250]),
            );
            (out, "caption bar over the bottom tenth".into())
        }
        _ => {
            let pad = (w / 12).max(1);
            let mut out =
                RgbImage::from_pixel(w + 2 * pad, h + 2 * pad, Rgb([rng.range(0, 60) as u8; 3]));
            imageops::overlay(&mut out, source, i64::from(pad), i64::from(pad));
            (out, "padded with a dark border".into())
        }
    }
}

fn near_copy(source: &RgbImage, variant: usize, rng: &mut SplitMix) -> (RgbImage, String) {
    let (w, h) = source.dimensions();
    match variant % 4 {
        0 => {
            let (cw, ch) = (0.55 + rng.unit() * 0.15, 0.55 + rng.unit() * 0.15);
            let c = crop(
                source,
                rng.unit() * (1.0 - cw),
                rng.unit() * (1.0 - ch),
                cw,
                ch,
            );
            (
                imageops::resize(&c, w, h, imageops::FilterType::Triangle),
                format!("crop of {:.0}% x {:.0}%, scaled up", cw * 100.0, ch * 100.0),
            )
        }
        1 => {
            let c = crop(source, 0.1, 0.1, 0.75, 0.75);
            (
                recolour(&c, [-40, 25, 45]),
                "crop of 75% with a strong recolour".into(),
            )
        }
        2 => {
            let mut out = source.clone();
            let other = scene(rng.next_u64(), w, h / 2);
            imageops::overlay(&mut out, &other, 0, i64::from(h / 2));
            (out, "lower half replaced by another scene".into())
        }
        _ => {
            let mut canvas = scene(rng.next_u64(), w, h);
            let small = imageops::resize(
                source,
                w * 6 / 10,
                h * 6 / 10,
                imageops::FilterType::Triangle,
            );
            imageops::overlay(&mut canvas, &small, i64::from(w / 5), i64::from(h / 5));
            (canvas, "shrunk to 60% and pasted onto another scene".into())
        }
    }
}

fn collage(sources: &[&RgbImage], width: u32, height: u32) -> RgbImage {
    let mut canvas = RgbImage::new(width, height);
    let n = sources.len() as u32;
    let (cols, rows) = if n <= 2 { (n, 1) } else { (2, 2) };
    let (tw, th) = (width / cols, height / rows);
    for (i, source) in sources.iter().enumerate() {
        let (col, row) = (i as u32 % cols, i as u32 / cols);
        let tile = imageops::resize(*source, tw, th, imageops::FilterType::Triangle);
        imageops::overlay(&mut canvas, &tile, i64::from(col * tw), i64::from(row * th));
    }
    canvas
}

fn training_name(i: usize) -> String {
    format!(
        "scene_{i:03}.{}",
        if i.is_multiple_of(3) { "jpg" } else { "png" }
    )
}

fn save(image: &RgbImage, path: &Path) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let format = if path.extension().is_some_and(|e| e == "jpg") {
        ImageFormat::Jpeg
    } else {
        ImageFormat::Png
    };
    DynamicImage::ImageRgb8(image.clone())
        .save_with_format(path, format)
        .map_err(std::io::Error::other)
}

/// Makes the demo set in `dir` (`training/`, `generations/`, `demo_truth.jsonl`), replacing
/// any earlier one. Generations get prompts in `generations/metadata.jsonl`; training images
/// get captions in `training/metadata.jsonl`.
///
/// Over 100 lines on purpose: the demo set's images made one kind after another (full copies, near
/// copies, collages, distinct images), each writing its truth row beside it.
pub fn make_demo(dir: &Path, spec: &DemoSpec) -> std::io::Result<DemoSet> {
    let training_dir = dir.join("training");
    let generations_dir = dir.join("generations");
    for folder in [&training_dir, &generations_dir] {
        if folder.exists() {
            std::fs::remove_dir_all(folder)?;
        }
        std::fs::create_dir_all(folder)?;
    }
    let sizes = [(640, 480), (512, 512), (480, 640), (600, 400)];
    let mut rng = SplitMix::new(spec.seed);
    // Scenes are seeded by their index, so making them in parallel gives the same set.
    let training: Vec<RgbImage> = {
        use rayon::prelude::*;
        (0..spec.training)
            .into_par_iter()
            .map(|i| {
                let (w, h) = sizes[i % sizes.len()];
                let image = scene(
                    spec.seed.wrapping_mul(1_000_003).wrapping_add(i as u64),
                    w,
                    h,
                );
                save(&image, &training_dir.join(training_name(i))).map(|()| image)
            })
            .collect::<std::io::Result<_>>()?
    };
    let mut captions = String::new();
    for (i, image) in training.iter().enumerate() {
        let (w, h) = image.dimensions();
        captions.push_str(&serde_json::json!({"file_name": training_name(i), "caption": format!("training scene {i}: shapes on a {w}x{h} gradient")}).to_string());
        captions.push('\n');
    }
    std::fs::write(training_dir.join("metadata.jsonl"), captions)?;

    let mut truth = Vec::with_capacity(spec.generations);
    let mut prompts = String::new();
    for g in 0..spec.generations {
        let pick = |rng: &mut SplitMix| rng.range(0, spec.training.max(1) as i64) as usize;
        let (image, kind, sources, transform) = match g % 4 {
            _ if spec.training == 0 => (
                distinct_scene(rng.next_u64(), 512, 512),
                DemoKind::Distinct,
                vec![],
                "new scene".into(),
            ),
            0 => {
                let s = pick(&mut rng);
                let (img, t) = full_copy(&training[s], g / 4, &mut rng);
                (img, DemoKind::FullCopy, vec![s], t)
            }
            1 => {
                let s = pick(&mut rng);
                let (img, t) = near_copy(&training[s], g / 4, &mut rng);
                (img, DemoKind::NearCopy, vec![s], t)
            }
            2 if g % 8 == 2 => {
                let n = 2 + (g / 8) % 3;
                let mut sources: Vec<usize> = Vec::new();
                while sources.len() < n.min(spec.training) {
                    let s = pick(&mut rng);
                    if !sources.contains(&s) {
                        sources.push(s);
                    }
                }
                let pieces: Vec<&RgbImage> = sources.iter().map(|&s| &training[s]).collect();
                (
                    collage(&pieces, 768, 512),
                    DemoKind::Collage,
                    sources,
                    format!("collage of {n} training images"),
                )
            }
            _ => (
                distinct_scene(rng.next_u64(), 512, 512),
                DemoKind::Distinct,
                vec![],
                "new scene of another kind".into(),
            ),
        };
        let name = format!("gen_{g:03}.png");
        save(&image, &generations_dir.join(&name))?;
        prompts.push_str(&serde_json::json!({"file_name": name, "prompt": format!("abstract composition no. {g}, bold shapes, vivid colours")}).to_string());
        prompts.push('\n');
        truth.push(DemoTruth {
            generation: name,
            kind,
            sources: sources.into_iter().map(training_name).collect(),
            transform,
        });
    }
    std::fs::write(generations_dir.join("metadata.jsonl"), prompts)?;
    let lines: Vec<String> = truth
        .iter()
        .filter_map(|t| serde_json::to_string(t).ok())
        .collect();
    std::fs::write(dir.join("demo_truth.jsonl"), lines.join("\n") + "\n")?;
    std::fs::write(dir.join("demo_truth.csv"), truth_csv(&truth)?)?;
    Ok(DemoSet {
        training: training_dir,
        generations: generations_dir,
        truth,
    })
}

/// The ground truth in the fixtures' `pairs.csv` form, for `replicant eval`: one row per
/// source (a collage's pieces as near copies), a distinct scene as a negative; `set` is the
/// demo kind.
fn truth_csv(truth: &[DemoTruth]) -> std::io::Result<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(["set", "derived_path", "source_path", "kind"])?;
    for t in truth {
        let (set, kind) = match t.kind {
            DemoKind::FullCopy => ("full_copy", "full_copy"),
            DemoKind::NearCopy => ("near_copy", "near_copy"),
            DemoKind::Collage => ("collage", "near_copy"),
            DemoKind::Distinct => ("distinct", "negative"),
        };
        if t.sources.is_empty() {
            writer.write_record([set, t.generation.as_str(), "", kind])?;
        }
        for source in &t.sources {
            writer.write_record([set, t.generation.as_str(), source.as_str(), kind])?;
        }
    }
    writer.into_inner().map_err(|err| err.into_error())
}

#[cfg(test)]
mod tests;
