//! Decoding a large JPEG at a reduced DCT scale (1/2, 1/4 or 1/8 of each side) when all that
//! is wanted is the model's input: the inverse DCT of each 8x8 block then yields 4x4, 2x2 or
//! 1x1 pixels, so a 6000x4000 photo is decoded as 750x500 at a fraction of the cost, and
//! resizing starts from far fewer pixels. The reduction stops while both sides are still at
//! least [`MIN_SIDE_FACTOR`] times the model's input side, so the antialiased resize to the
//! model's input sees nearly the same image: on the fixtures the embeddings stay within 0.01
//! cosine of a full decode (`docs/benchmark.md` gives the worst case).
//!
//! Anything unusual (CMYK, 16-bit, lossless or arithmetic-coded JPEGs, a file cut short, any
//! decoder error) returns `None`, and the caller decodes the whole image as before.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, RgbImage};

use super::{DecodeLimits, DecodedImage, jpeg_is_complete, sniff_bytes};

/// The reduced image keeps both sides at least this many times the model's input side.
pub const MIN_SIDE_FACTOR: u32 = 2;

/// The largest reduction (8, 4, 2) that keeps both sides of a `width x height` image at
/// least `min_side`, or `None` when even halving would go below.
pub fn reduction(width: u32, height: u32, min_side: u32) -> Option<u32> {
    [8, 4, 2]
        .into_iter()
        .find(|d| width.div_ceil(*d) >= min_side && height.div_ceil(*d) >= min_side)
}

/// Decodes `bytes` as a JPEG reduced by DCT scaling so that both sides stay at least
/// `min_side`; `None` when it is not a JPEG, no reduction is possible, or anything is unusual
/// (see the module's comment). The result's `full_size` is the image's own size.
pub fn decode_jpeg_reduced(
    bytes: &[u8],
    limits: &DecodeLimits,
    min_side: u32,
) -> Option<DecodedImage> {
    if sniff_bytes(bytes) != Some(ImageFormat::Jpeg) || !jpeg_is_complete(bytes) {
        return None;
    }
    let mut decoder = jpeg_decoder::Decoder::new(Cursor::new(bytes));
    decoder.read_info().ok()?;
    let info = decoder.info()?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    if width == 0
        || height == 0
        || u64::from(width) * u64::from(height) > limits.max_pixels
        || info.coding_process == jpeg_decoder::CodingProcess::Lossless
    {
        return None;
    }
    let d = reduction(width, height, min_side)?;
    let wanted = (
        u16::try_from(width.div_ceil(d)).ok()?,
        u16::try_from(height.div_ceil(d)).ok()?,
    );
    let (scaled_width, scaled_height) = decoder.scale(wanted.0, wanted.1).ok()?;
    let (scaled_width, scaled_height) = (u32::from(scaled_width), u32::from(scaled_height));
    if scaled_width < min_side || scaled_height < min_side {
        return None;
    }
    let pixels = decoder.decode().ok()?;
    let info = decoder.info()?;
    let rgb = match info.pixel_format {
        jpeg_decoder::PixelFormat::RGB24 => {
            RgbImage::from_raw(scaled_width, scaled_height, pixels)?
        }
        jpeg_decoder::PixelFormat::L8 => {
            image::GrayImage::from_raw(scaled_width, scaled_height, pixels)
                .map(|gray| DynamicImage::ImageLuma8(gray).into_rgb8())?
        }
        jpeg_decoder::PixelFormat::L16 | jpeg_decoder::PixelFormat::CMYK32 => return None,
    };
    let mut image = DynamicImage::ImageRgb8(rgb);
    let mut full_size = (width, height);
    if let Some(orientation) = decoder
        .exif_data()
        .and_then(image::metadata::Orientation::from_exif_chunk)
    {
        image.apply_orientation(orientation);
        if matches!(
            orientation,
            image::metadata::Orientation::Rotate90
                | image::metadata::Orientation::Rotate270
                | image::metadata::Orientation::Rotate90FlipH
                | image::metadata::Orientation::Rotate270FlipH
        ) {
            full_size = (height, width);
        }
    }
    Some(DecodedImage {
        rgb: image.into_rgb8(),
        format: ImageFormat::Jpeg,
        partial: None,
        full_size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reductions_keep_both_sides_above_the_floor() {
        assert_eq!(reduction(6000, 4000, 640), Some(4)); // 1500x1000; 1/8 would be 750x500
        assert_eq!(reduction(8000, 6000, 640), Some(8)); // 1000x750
        assert_eq!(reduction(1400, 1400, 640), Some(2));
        assert_eq!(reduction(1200, 1200, 640), None);
        assert_eq!(reduction(5000, 600, 640), None, "a thin side decides");
    }

    fn jpeg(width: u32, height: u32) -> Vec<u8> {
        let image = RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
        });
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
            .encode_image(&image)
            .expect("encode");
        out
    }

    #[test]
    fn a_large_jpeg_is_decoded_reduced_and_keeps_its_own_size() {
        let bytes = jpeg(1500, 1400);
        let limits = DecodeLimits::default();
        let decoded = decode_jpeg_reduced(&bytes, &limits, 640).expect("reduced");
        assert_eq!(decoded.full_size, (1500, 1400));
        assert_eq!(decoded.rgb.dimensions(), (750, 700));
        // Small images, PNGs and files cut short take the full decode.
        assert!(decode_jpeg_reduced(&jpeg(800, 800), &limits, 640).is_none());
        assert!(decode_jpeg_reduced(&bytes[..bytes.len() / 2], &limits, 640).is_none());
        let mut png = Vec::new();
        RgbImage::new(2000, 2000)
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .expect("png");
        assert!(decode_jpeg_reduced(&png, &limits, 640).is_none());
        // Over the pixel limit: left to the full decode, which refuses it with its reason.
        let tight = DecodeLimits {
            max_pixels: 1000,
            ..limits
        };
        assert!(decode_jpeg_reduced(&bytes, &tight, 640).is_none());
    }
}
