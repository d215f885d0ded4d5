//! Preparing decoded images for a model: the whole image resized to the model's input size
//! (SSCD's "skew" resize: aspect ratio not kept, nothing cropped), then packed into the
//! model's input layout.

use image::RgbImage;

/// How a model wants its input tensor.
#[derive(Debug, Clone, PartialEq)]
pub enum InputLayout {
    /// `uint8 [batch, height, width, 3]`, RGB; normalisation is inside the model (SSCD).
    U8Nhwc,
    /// `float32 [batch, 3, height, width]`, RGB scaled to 0..1, then `(x - mean) / std`.
    F32Nchw {
        /// Per-channel mean.
        mean: [f32; 3],
        /// Per-channel standard deviation.
        std: [f32; 3],
    },
}

/// The preprocessing of one model.
#[derive(Debug, Clone, PartialEq)]
pub struct Preprocess {
    /// Input width in pixels.
    pub width: u32,
    /// Input height in pixels.
    pub height: u32,
    /// Tensor layout and normalisation.
    pub layout: InputLayout,
    /// How transparency becomes RGB before resizing.
    pub alpha: crate::decode::Alpha,
}

impl Preprocess {
    /// SSCD's evaluation preprocessing: the whole image to 320x320, uint8 NHWC.
    pub fn sscd() -> Self {
        Self {
            width: 320,
            height: 320,
            layout: InputLayout::U8Nhwc,
            alpha: crate::decode::Alpha::CompositeOnWhite,
        }
    }

    /// A stable description for model keys, e.g. `skew320x320-bilinear-u8nhwc`.
    pub fn describe(&self) -> String {
        let layout = match &self.layout {
            InputLayout::U8Nhwc => "u8nhwc".to_string(),
            InputLayout::F32Nchw { mean, std } => format!(
                "f32nchw-mean{:.4},{:.4},{:.4}-std{:.4},{:.4},{:.4}",
                mean[0], mean[1], mean[2], std[0], std[1], std[2]
            ),
        };
        // Compositing on white, the default, adds nothing, so keys (and caches) made before
        // the choice existed stay valid.
        let alpha = match self.alpha {
            crate::decode::Alpha::CompositeOnWhite => "",
            crate::decode::Alpha::DropAlpha => "-dropalpha",
        };
        format!(
            "skew{}x{}-bilinear-{layout}{alpha}",
            self.width, self.height
        )
    }

    /// Bytes of one prepared image (`width * height * 3`).
    pub fn image_bytes(&self) -> usize {
        self.width as usize * self.height as usize * 3
    }
}

/// Resizes the whole image to the model's input size with an antialiased bilinear
/// (triangle) filter, as Pillow's `resize(BILINEAR)` does, which SSCD was evaluated with.
/// Returns `width * height * 3` bytes of RGB.
pub fn resize_for_model(image: &RgbImage, preprocess: &Preprocess) -> Vec<u8> {
    model_input(image, preprocess).into_raw()
}

/// The model's input as an image (what [`resize_for_model`] returns the pixels of), for
/// callers that also derive something else from it, such as the layout signature.
pub fn model_input(image: &RgbImage, preprocess: &Preprocess) -> RgbImage {
    crate::decode::resize_rgb(image, preprocess.width, preprocess.height)
}

/// The cosine similarity of two embeddings: their dot product, since embeddings are unit
/// length.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    // Eight running sums, so the compiler can keep them in SIMD lanes (one sum in order
    // cannot be vectorised: float addition is not associative); the report's exact baseline
    // makes a dot product with every training image per sampled image.
    const LANES: usize = 8;
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut sums = [0.0f32; LANES];
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for lane in 0..LANES {
            sums[lane] += x[lane] * y[lane];
        }
    }
    sums.iter().sum::<f32>() + tail
}

/// Scales `vector` to unit length in place (left as is when it is all zeros).
pub fn l2_normalise(vector: &mut [f32]) {
    let norm = vector.iter().map(|v| v * v).sum::<f32>().sqrt();
    if norm > 0.0 {
        for v in vector.iter_mut() {
            *v /= norm;
        }
    }
}

/// Packs prepared images into the model's input tensor data, in `layout`'s order.
pub(crate) fn pack_f32_nchw(
    images: &[&[u8]],
    width: u32,
    height: u32,
    mean: &[f32; 3],
    std: &[f32; 3],
) -> Vec<f32> {
    let plane = width as usize * height as usize;
    let mut out = vec![0f32; images.len() * 3 * plane];
    for (i, image) in images.iter().enumerate() {
        let base = i * 3 * plane;
        for (p, pixel) in image.chunks_exact(3).enumerate().take(plane) {
            for c in 0..3 {
                out[base + c * plane + p] = (f32::from(pixel[c]) / 255.0 - mean[c]) / std[c];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resize_keeps_flat_colour_and_reaches_the_size() {
        let image = RgbImage::from_pixel(640, 480, image::Rgb([10, 200, 30]));
        let out = resize_for_model(&image, &Preprocess::sscd());
        assert_eq!(out.len(), 320 * 320 * 3);
        assert!(out.chunks_exact(3).all(|p| p == [10, 200, 30]));
    }

    #[test]
    fn resize_is_antialiased() {
        // A one-pixel checkerboard averages to mid grey when shrunk, instead of aliasing.
        let image = RgbImage::from_fn(640, 640, |x, y| {
            let v = if (x + y) % 2 == 0 { 0 } else { 255 };
            image::Rgb([v, v, v])
        });
        let out = resize_for_model(&image, &Preprocess::sscd());
        assert!(
            out.iter().all(|&v| (120..=135).contains(&v)),
            "aliased resize"
        );
    }

    #[test]
    fn packing_nchw_normalises_per_channel() {
        let image = [255u8, 0, 51, 0, 255, 102];
        let out = pack_f32_nchw(&[&image], 2, 1, &[0.5, 0.5, 0.5], &[0.5, 0.5, 0.5]);
        assert_eq!(out.len(), 6);
        assert!((out[0] - 1.0).abs() < 1e-6 && (out[1] + 1.0).abs() < 1e-6);
        assert!((out[2] + 1.0).abs() < 1e-6 && (out[3] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn l2_normalise_makes_unit_vectors() {
        let mut v = vec![3.0, 4.0];
        l2_normalise(&mut v);
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
        let mut zero = vec![0.0; 3];
        l2_normalise(&mut zero);
        assert_eq!(zero, vec![0.0; 3]);
    }
}
