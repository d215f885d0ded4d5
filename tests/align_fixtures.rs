//! Alignment accuracy on AugLy's edits of `dfdc_1.jpg` (1920x1080), whose geometry is known
//! from AugLy's defaults and the outputs' sizes. Needs `../shared/fixtures` (skips, saying so,
//! only where it is absent).

mod common;

use replicant::align::{Affine, apply, estimate};

/// (file, expected mapping from generation pixels to training pixels, expect a flip)
fn cases() -> Vec<(&'static str, Affine, bool)> {
    vec![
        (
            "test_crop.png",
            [[1.0, 0.0, 480.0], [0.0, 1.0, 270.0]],
            false,
        ),
        (
            "test_pad.png",
            [[1.0, 0.0, -480.0], [0.0, 1.0, -270.0]],
            false,
        ),
        (
            "test_pad_square.png",
            [[1.0, 0.0, 0.0], [0.0, 1.0, -420.0]],
            false,
        ),
        ("test_scale.png", [[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]], false),
        (
            "test_clip_image_size.png",
            [[1920.0 / 1632.0, 0.0, 0.0], [0.0, 1080.0 / 918.0, 0.0]],
            false,
        ),
        (
            "test_hflip.png",
            [[-1.0, 0.0, 1920.0], [0.0, 1.0, 0.0]],
            true,
        ),
        (
            "test_meme_format.png",
            [[1.0, 0.0, 0.0], [0.0, 1.0, -250.0]],
            false,
        ),
        ("test_resize.png", [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], false),
    ]
}

/// The largest distance, in training pixels, between where the two mappings send the
/// training image's corners back from the generation (over the generation's own corners).
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
fn alignment_recovers_augly_crops_pads_scales_and_flips() {
    let Some(fixtures) = common::fixtures_dir() else {
        return;
    };
    let augly = fixtures.join("facebookresearch-augly/augly/tests/assets/image");
    let train = image::open(augly.join("inputs/dfdc_1.jpg"))
        .expect("source")
        .to_rgb8();
    let mut worst = 0.0f32;
    for (name, truth, flipped) in cases() {
        let generation = image::open(augly.join("dfdc_expected_output").join(name))
            .expect("output")
            .to_rgb8();
        let started = std::time::Instant::now();
        let found = estimate(&generation, &train);
        let (w, h) = generation.dimensions();
        let error = corner_error(&found.gen_to_train, &truth, w as f32, h as f32);
        eprintln!(
            "{name:28} error {error:6.1} px ({:.2}% of 1920)  scale {:.3} flip {} ncc {:.3} (corners {:.3})  {:.0} ms",
            100.0 * error / 1920.0,
            found.scale,
            found.flipped,
            found.score,
            found.unaligned_score,
            started.elapsed().as_secs_f64() * 1000.0
        );
        assert_eq!(found.flipped, flipped, "{name}: flip");
        assert!(error < 0.02 * 1920.0, "{name}: corner error {error:.1} px");
        worst = worst.max(error);
    }
    eprintln!("worst corner error {worst:.1} px");
    // A paste (the source at half size on an emoji background) is found and improves on the
    // corner-to-corner mapping.
    let pasted =
        image::open(augly.join("dfdc_expected_output/test_overlay_onto_background_image.png"))
            .expect("output")
            .to_rgb8();
    let found = estimate(&pasted, &train);
    eprintln!("overlay_onto_background: {found:?}");
    assert!(found.improves() && found.score > 0.8, "{found:?}");
}
