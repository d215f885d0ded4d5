//! WebP by libwebp: the same pixels as the full decode by `image-webp`, in less than half the
//! time. `image-webp`, pure Rust, decodes a 4096x4096 lossy wallpaper in 110-240 ms here, and
//! a training set stored as WebP (img2dataset's `--encode_format webp`) spends most of its
//! decoding there. [`super::decode_image`] tries it first, so the model's input, the region
//! windows and the desk all get it.
//!
//! Decoding at a reduced scale was measured and rejected: libwebp's scaler is 1.3x faster
//! again, but on the fixtures' near-flat GNOME "symbolic" wallpapers the embedding moved by up
//! to 0.045 cosine (pixels at the model's input within 0.1 of a grey level: those images sit
//! where int8 SSCD is most sensitive), beyond the 0.01 a reduced decode may cost.
//!
//! Files with alpha, EXIF or animation (flattened onto white, oriented, or cut to their first
//! frame by the full decode), anything libwebp refuses, and anything over the limits return
//! `None`, and the caller decodes as before, which also gives the error its reason.

use image::{ImageFormat, RgbImage};

use super::{DecodeLimits, DecodedImage, sniff_bytes};

/// VP8X header flags (RIFF header, then "VP8X", its size and one flags byte).
const VP8X_EXIF: u8 = 0x08;
const VP8X_ANIMATION: u8 = 0x02;
const VP8X_ALPHA: u8 = 0x10;

/// Decodes `bytes` with libwebp when it is an opaque, still WebP without EXIF within
/// `limits`; `None` otherwise (see the module's comment).
pub fn decode_webp_libwebp(bytes: &[u8], limits: &DecodeLimits) -> Option<DecodedImage> {
    if sniff_bytes(bytes) != Some(ImageFormat::WebP) {
        return None;
    }
    if bytes.get(12..16) == Some(b"VP8X")
        && bytes
            .get(20)
            .is_none_or(|flags| flags & (VP8X_EXIF | VP8X_ANIMATION | VP8X_ALPHA) != 0)
    {
        return None;
    }
    let mut config = libwebp_sys::WebPDecoderConfig::new().ok()?;
    // SAFETY: `bytes` is a live slice of the given length and `config.input` an owned
    // features struct that libwebp fills in; nothing is retained after the call.
    let status =
        unsafe { libwebp_sys::WebPGetFeatures(bytes.as_ptr(), bytes.len(), &mut config.input) };
    if status != libwebp_sys::VP8StatusCode::VP8_STATUS_OK
        || config.input.has_alpha != 0
        || config.input.has_animation != 0
    {
        return None;
    }
    let width = u32::try_from(config.input.width).ok()?;
    let height = u32::try_from(config.input.height).ok()?;
    let pixels = u64::from(width) * u64::from(height);
    // A lossless WebP is decoded through a full-size ARGB buffer besides the RGB output.
    if width == 0
        || height == 0
        || pixels > limits.max_pixels
        || pixels * (4 + 3) > limits.max_alloc_bytes
    {
        return None;
    }
    let stride = usize::try_from(width).ok()? * 3;
    let mut rgb = vec![0u8; stride * usize::try_from(height).ok()?];
    config.options.use_threads = 0;
    config.output.colorspace = libwebp_sys::WEBP_CSP_MODE::MODE_RGB;
    config.output.is_external_memory = 1;
    config.output.u.RGBA = libwebp_sys::WebPRGBABuffer {
        rgba: rgb.as_mut_ptr(),
        stride: i32::try_from(stride).ok()?,
        size: rgb.len(),
    };
    // SAFETY: libwebp reads `bytes` (live, of the given length) and writes the image into
    // `rgb` through the external-memory buffer set above, whose pointer, stride and size
    // describe exactly `rgb`'s allocation (`height` rows of `stride` bytes); libwebp checks
    // that the buffer is large enough for the image and writes nothing past `size`. `rgb`
    // outlives the call and is not freed by libwebp.
    let status = unsafe { libwebp_sys::WebPDecode(bytes.as_ptr(), bytes.len(), &mut config) };
    // SAFETY: frees only what libwebp allocated itself (nothing for external memory).
    unsafe { libwebp_sys::WebPFreeDecBuffer(&mut config.output) };
    if status != libwebp_sys::VP8StatusCode::VP8_STATUS_OK {
        return None;
    }
    Some(DecodedImage {
        rgb: RgbImage::from_raw(width, height, rgb)?,
        format: ImageFormat::WebP,
        partial: None,
        full_size: (width, height),
    })
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use image::{DynamicImage, RgbaImage};

    use super::*;
    use crate::decode::decode_with_image_crate;

    fn webp(image: DynamicImage) -> Vec<u8> {
        let mut out = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut out), ImageFormat::WebP)
            .expect("encode");
        out
    }

    fn pattern(width: u32, height: u32) -> RgbaImage {
        RgbaImage::from_fn(width, height, |x, y| {
            image::Rgba([
                (x * 7 % 256) as u8,
                (y * 3 % 256) as u8,
                ((x ^ y) % 256) as u8,
                255,
            ])
        })
    }

    #[test]
    fn an_opaque_webp_decodes_to_the_same_pixels_as_the_full_decode() {
        let bytes = webp(DynamicImage::ImageRgb8(
            DynamicImage::ImageRgba8(pattern(301, 177)).into_rgb8(),
        ));
        let limits = DecodeLimits::default();
        let fast = decode_webp_libwebp(&bytes, &limits).expect("libwebp");
        let full = decode_with_image_crate(&bytes, &limits).expect("image-webp");
        assert_eq!(fast.full_size, (301, 177));
        assert_eq!(fast.rgb, full.rgb, "pixels differ from image-webp's");
    }

    #[test]
    fn alpha_truncation_other_formats_and_limits_are_left_to_the_full_decode() {
        let limits = DecodeLimits::default();
        let mut translucent = pattern(64, 64);
        translucent.put_pixel(3, 3, image::Rgba([0, 0, 0, 0]));
        let with_alpha = webp(DynamicImage::ImageRgba8(translucent));
        assert!(decode_webp_libwebp(&with_alpha, &limits).is_none());
        let opaque = webp(DynamicImage::ImageRgba8(pattern(64, 64)).into_rgb8().into());
        assert!(decode_webp_libwebp(&opaque, &limits).is_some());
        assert!(decode_webp_libwebp(&opaque[..opaque.len() / 2], &limits).is_none());
        assert!(decode_webp_libwebp(&opaque[..10], &limits).is_none());
        let mut png = Vec::new();
        DynamicImage::ImageRgba8(pattern(8, 8))
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .expect("png");
        assert!(decode_webp_libwebp(&png, &limits).is_none());
        let tight = DecodeLimits {
            max_pixels: 1000,
            ..limits
        };
        assert!(decode_webp_libwebp(&opaque, &tight).is_none());
    }

    #[test]
    fn damaged_webps_are_refused_or_decoded_never_a_crash() {
        let limits = DecodeLimits::default();
        let bytes = webp(DynamicImage::ImageRgba8(pattern(97, 61)).into_rgb8().into());
        for cut in (0..bytes.len()).step_by(7) {
            assert!(
                decode_webp_libwebp(&bytes[..cut], &limits).is_none(),
                "cut at {cut}"
            );
        }
        // Bytes flipped one at a time past the RIFF header: whatever libwebp makes of them,
        // an image of the declared size or nothing.
        for at in (20..bytes.len()).step_by(3) {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x5A;
            if let Some(decoded) = decode_webp_libwebp(&damaged, &limits) {
                let (w, h) = decoded.full_size;
                assert_eq!(decoded.rgb.dimensions(), (w, h));
            }
        }
    }
}
