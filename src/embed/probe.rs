//! A model's fingerprint: its embedding of one fixed, generated image. Stored beside the
//! vectors a model made (a worker's part, a training index), it lets a later run check that
//! those vectors came from the model it runs, whatever a manifest says. Measured: SSCD's probe
//! against its distilled student's has cosine 0.67; SSCD against itself with another thread
//! count, 1.000000.

use image::{Rgb, RgbImage};

use super::{EmbedError, Embedder, cosine, resize_for_model};

/// The cosine at or above which two probe embeddings come from the same model and
/// preprocessing: a margin between one model against itself (1.0) and SSCD against its
/// student (0.67), chosen on no image set.
pub const SAME_MODEL_COSINE: f32 = 0.97;

/// The probe image: 320x320, colour gradients, rings and a grid of blocks, made the same way
/// on every machine (no randomness, no file).
pub fn probe_image() -> RgbImage {
    const SIDE: u32 = 320;
    RgbImage::from_fn(SIDE, SIDE, |x, y| {
        let (fx, fy) = (x as f32 / SIDE as f32, y as f32 / SIDE as f32);
        let (dx, dy) = (fx - 0.35, fy - 0.6);
        let ring = ((dx * dx + dy * dy).sqrt() * 40.0).sin() > 0.3;
        let block = (x / 40 + y / 56) % 3 == 0 && fx > 0.55;
        if ring && fx < 0.7 {
            Rgb([230, (fy * 200.0) as u8, 40])
        } else if block {
            Rgb([20, 40 + (fx * 150.0) as u8, 200])
        } else {
            Rgb([(fx * 255.0) as u8, 120, (fy * 255.0) as u8])
        }
    })
}

/// `embedder`'s embedding of [`probe_image`].
pub fn probe_vector(embedder: &mut dyn Embedder) -> Result<Vec<f32>, EmbedError> {
    let input = resize_for_model(&probe_image(), embedder.preprocess());
    let mut vectors = embedder.embed_batch(&[input.as_slice()])?;
    Ok(vectors.pop().unwrap_or_default())
}

/// Whether two probe embeddings come from the same model (see [`SAME_MODEL_COSINE`]); the
/// cosine is returned for messages.
pub fn same_model(a: &[f32], b: &[f32]) -> (bool, f32) {
    if a.len() != b.len() || a.is_empty() {
        return (false, f32::NAN);
    }
    let similarity = cosine(a, b);
    (similarity >= SAME_MODEL_COSINE, similarity)
}

/// A probe embedding as stored in manifests: 5 decimals (float16 holds fewer).
pub fn stored(vector: &[f32]) -> Vec<f32> {
    vector
        .iter()
        .map(|v| (v * 100_000.0).round() / 100_000.0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_is_the_same_every_time_and_not_flat() {
        let a = probe_image();
        assert_eq!(a, probe_image());
        let distinct: std::collections::HashSet<[u8; 3]> = a.pixels().map(|p| p.0).collect();
        assert!(distinct.len() > 1000, "{} colours", distinct.len());
    }

    #[test]
    fn same_model_needs_matching_lengths_and_a_high_cosine() {
        assert!(same_model(&[1.0, 0.0], &[0.999, 0.01]).0);
        assert!(!same_model(&[1.0, 0.0], &[0.0, 1.0]).0);
        assert!(!same_model(&[1.0, 0.0], &[1.0, 0.0, 0.0]).0);
        assert!(!same_model(&[], &[]).0);
    }
}
