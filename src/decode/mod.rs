//! Decoding image files safely: format sniffed from the bytes, size limits checked before any
//! large allocation, EXIF orientation applied, every pixel format brought to 8-bit RGB.
//!
//! Alpha is flattened onto white: a transparent pixel shows as white paper, as in a document
//! or a web page, so a logo on a transparent background and the same logo on white compare as
//! equal. Animations (GIF, APNG, animated WebP) are represented by their first frame.

mod scaled;
mod webp;

pub use scaled::{MIN_SIDE_FACTOR, decode_jpeg_reduced, reduction};
pub use webp::decode_webp_libwebp;

use std::io::{Cursor, Read};
use std::path::Path;

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, RgbImage};

/// Changes whenever decoding changes what it accepts, so failures cached by an older decoder
/// are tried again.
pub const DECODER_REVISION: &str = concat!(env!("CARGO_PKG_VERSION"), "+decode3");

/// How large an image may be before it is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// The most pixels (width times height) an image may have.
    pub max_pixels: u64,
    /// The most bytes the decoder may allocate.
    pub max_alloc_bytes: u64,
    /// How transparency becomes RGB. Not a limit, but it travels with them to every decode
    /// call, and embeddings depend on it as much as on the pixels.
    pub alpha: Alpha,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_pixels: 100_000_000,
            max_alloc_bytes: 512 * 1024 * 1024,
            alpha: Alpha::default(),
        }
    }
}

/// How an image with an alpha channel becomes RGB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Alpha {
    /// Composited over white, as a page shows it: a logo on a transparent background and the
    /// same logo on white compare as the same image.
    #[default]
    CompositeOnWhite,
    /// The alpha channel dropped, the colour under it kept, as PIL's `convert('RGB')` does
    /// (torchvision's default loader, the one the replication paper's code used): fully
    /// transparent areas show whatever colour they hold, often black.
    DropAlpha,
}

impl Alpha {
    /// The name in settings and model keys: `composite-on-white` or `drop-alpha`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CompositeOnWhite => "composite-on-white",
            Self::DropAlpha => "drop-alpha",
        }
    }
}

/// Why an image could not be decoded. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The bytes do not start like any image format this program reads.
    #[error(
        "the content is not a recognisable image (it does not start like a JPEG, PNG, WebP, GIF, BMP, TIFF or PNM file); the file may be damaged or not an image"
    )]
    UnknownFormat,
    /// The format is known but this variant of it is not supported.
    #[error("{format} variant not supported ({detail}); convert it to PNG or JPEG to include it")]
    Unsupported {
        /// The format named by the file's bytes.
        format: String,
        /// What the decoder said.
        detail: String,
    },
    /// The image has more pixels than the limit.
    #[error(
        "image is {width}x{height} ({megapixels:.0} megapixels), over the {limit_mp} megapixel limit; downscale it to include it"
    )]
    TooManyPixels {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// Width times height, in millions.
        megapixels: f64,
        /// The limit, in millions of pixels.
        limit_mp: u64,
    },
    /// Decoding would allocate more memory than allowed.
    #[error(
        "decoding needs more than {limit_mib} MiB of memory ({detail}); downscale or re-encode the image to include it"
    )]
    TooMuchMemory {
        /// The allocation limit in MiB.
        limit_mib: u64,
        /// What the decoder said.
        detail: String,
    },
    /// The file is damaged or cut short.
    #[error("{format} file is damaged or truncated: {detail}; re-export it from its source")]
    Corrupt {
        /// The format named by the file's bytes.
        format: String,
        /// What the decoder said.
        detail: String,
    },
    /// The image has no pixels.
    #[error("image has no pixels (0 width or height)")]
    Empty,
    /// The file could not be read.
    #[error("cannot read the file: {0}; check that it exists and is readable")]
    Io(#[from] std::io::Error),
}

/// A decoded image, oriented and in 8-bit RGB.
#[derive(Debug, Clone)]
pub struct DecodedImage {
    /// The pixels, after EXIF orientation and alpha flattening.
    pub rgb: RgbImage,
    /// The format found in the bytes (which may differ from the file's extension).
    pub format: ImageFormat,
    /// Set when the file ended before its image data did and the decoder filled the rest in
    /// (a JPEG cut short decodes, grey where data is missing): what is missing and what to do.
    pub partial: Option<String>,
    /// The image's own size after orientation; larger than `rgb` when a JPEG was decoded at a
    /// reduced scale (see [`decode_for_model`]).
    pub full_size: (u32, u32),
}

/// Whether a JPEG holds an end-of-image marker after the start of its (first) scan. Segments
/// before the scan are skipped by their lengths, so the end marker of an EXIF thumbnail does
/// not count; inside the entropy-coded data `0xFF 0xD9` cannot occur (every `0xFF` there is
/// followed by `0x00` or a restart marker), so finding it means the data ended properly.
pub fn jpeg_is_complete(bytes: &[u8]) -> bool {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return true;
    }
    let mut pos = 2usize;
    let scan_start = loop {
        // Skip fill bytes between segments.
        while bytes.get(pos) == Some(&0xFF) && bytes.get(pos + 1) == Some(&0xFF) {
            pos += 1;
        }
        let (Some(&0xFF), Some(&marker)) = (bytes.get(pos), bytes.get(pos + 1)) else {
            return false;
        };
        match marker {
            0xDA => break pos,
            0xD9 => return true,
            0x01 | 0xD0..=0xD7 => pos += 2,
            _ => {
                let Some(len) = bytes.get(pos + 2..pos + 4) else {
                    return false;
                };
                pos += 2 + usize::from(u16::from_be_bytes([len[0], len[1]]));
            }
        }
    };
    bytes[scan_start..]
        .windows(2)
        .any(|pair| pair == [0xFF, 0xD9])
}

/// The image format of a file, from its first bytes; `None` when it is not a known image.
pub fn sniff_file(path: &Path) -> std::io::Result<Option<ImageFormat>> {
    let mut head = [0u8; 64];
    let mut file = std::fs::File::open(path)?;
    let mut filled = 0;
    while filled < head.len() {
        let n = file.read(&mut head[filled..])?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(sniff_bytes(&head[..filled]))
}

/// The image format named by the first bytes of `bytes`, if any.
pub fn sniff_bytes(bytes: &[u8]) -> Option<ImageFormat> {
    image::guess_format(bytes).ok()
}

/// Decodes `bytes` within `limits`, applies EXIF orientation and flattens alpha onto white.
/// Opaque, still WebPs without EXIF are decoded by libwebp (the same pixels as the `image`
/// crate's decoder, in less than half the time; see `webp.rs`), everything else by
/// [`decode_with_image_crate`].
pub fn decode_image(bytes: &[u8], limits: &DecodeLimits) -> Result<DecodedImage, DecodeError> {
    match decode_webp_libwebp(bytes, limits) {
        Some(decoded) => Ok(decoded),
        None => decode_with_image_crate(bytes, limits),
    }
}

/// [`decode_image`] by the `image` crate's decoders alone: every format, and the reference the
/// libwebp path is checked against.
pub fn decode_with_image_crate(
    bytes: &[u8],
    limits: &DecodeLimits,
) -> Result<DecodedImage, DecodeError> {
    let format = sniff_bytes(bytes).ok_or(DecodeError::UnknownFormat)?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut image_limits = image::Limits::default();
    image_limits.max_alloc = Some(limits.max_alloc_bytes);
    reader.limits(image_limits);
    let mut decoder = reader
        .into_decoder()
        .map_err(|err| classify(err, format, limits))?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(DecodeError::Empty);
    }
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_pixels {
        return Err(DecodeError::TooManyPixels {
            width,
            height,
            megapixels: pixels as f64 / 1e6,
            limit_mp: limits.max_pixels / 1_000_000,
        });
    }
    // The decoders do not all honour the allocation limit, so check the decoded size here.
    let needed = decoder.total_bytes();
    if needed > limits.max_alloc_bytes {
        return Err(DecodeError::TooMuchMemory {
            limit_mib: limits.max_alloc_bytes / (1024 * 1024),
            detail: format!(
                "{width}x{height} {:?} needs {} MiB",
                decoder.color_type(),
                needed / (1024 * 1024)
            ),
        });
    }
    let orientation = decoder.orientation().ok();
    let mut image =
        DynamicImage::from_decoder(decoder).map_err(|err| classify(err, format, limits))?;
    if let Some(orientation) = orientation {
        image.apply_orientation(orientation);
    }
    let partial = (format == ImageFormat::Jpeg && !jpeg_is_complete(bytes)).then(|| {
        "partial decode: the JPEG ends before its image data does (no end-of-image marker), so the missing part is grey and similarities to it are lowered; re-export or re-download the file".to_string()
    });
    let rgb = match limits.alpha {
        Alpha::CompositeOnWhite => flatten_to_rgb(image),
        Alpha::DropAlpha => image.into_rgb8(),
    };
    Ok(DecodedImage {
        full_size: rgb.dimensions(),
        rgb,
        format,
        partial,
    })
}

/// Decodes `bytes` for a model whose input side is `input_side` pixels: a large JPEG at a
/// reduced DCT scale (both sides still at least [`MIN_SIDE_FACTOR`] times the input side),
/// anything else as [`decode_image`] does. Only for callers that need nothing but the model's
/// input from the whole image (not region windows).
pub fn decode_for_model(
    bytes: &[u8],
    limits: &DecodeLimits,
    input_side: u32,
) -> Result<DecodedImage, DecodeError> {
    let min_side = input_side.saturating_mul(MIN_SIDE_FACTOR);
    match decode_jpeg_reduced(bytes, limits, min_side) {
        Some(decoded) => Ok(decoded),
        None => decode_image(bytes, limits),
    }
}

/// Reads and decodes the file at `path` (see [`decode_image`]).
pub fn decode_file(path: &Path, limits: &DecodeLimits) -> Result<DecodedImage, DecodeError> {
    let bytes = std::fs::read(path)?;
    decode_image(&bytes, limits)
}

/// Resizes an RGB image to `width x height` with an antialiased bilinear filter.
pub fn resize_rgb(image: &RgbImage, width: u32, height: u32) -> RgbImage {
    if image.dimensions() == (width, height) {
        return image.clone();
    }
    let mut dst = Image::new(width.max(1), height.max(1), PixelType::U8x3);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    let mut resizer = Resizer::new();
    let resized = ImageRef::new(
        image.width(),
        image.height(),
        image.as_raw(),
        PixelType::U8x3,
    )
    .map_err(|err| err.to_string())
    .and_then(|src| {
        resizer
            .resize(&src, &mut dst, &options)
            .map_err(|err| err.to_string())
    });
    if resized.is_err() {
        // Only reachable for images of zero size, which decoding already refuses; fall back to
        // the image crate's filter rather than fail.
        return image::imageops::resize(
            image,
            width,
            height,
            image::imageops::FilterType::Triangle,
        );
    }
    RgbImage::from_raw(width.max(1), height.max(1), dst.into_vec()).unwrap_or_default()
}

/// The image scaled down (never up) so its longer side is at most `max_side` pixels.
pub fn thumbnail(image: &RgbImage, max_side: u32) -> RgbImage {
    let (w, h) = image.dimensions();
    let longest = w.max(h);
    if longest <= max_side {
        return image.clone();
    }
    let scale = max_side as f32 / longest as f32;
    let tw = ((w as f32 * scale).round() as u32).max(1);
    let th = ((h as f32 * scale).round() as u32).max(1);
    resize_rgb(image, tw, th)
}

/// Converts any pixel format to 8-bit RGB, compositing alpha over white.
pub fn flatten_to_rgb(image: DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.into_rgb8();
    }
    let rgba = image.into_rgba8();
    let (width, height) = rgba.dimensions();
    let mut out = Vec::with_capacity(width as usize * height as usize * 3);
    for pixel in rgba.pixels() {
        let [r, g, b, a] = pixel.0;
        let alpha = u32::from(a);
        for channel in [r, g, b] {
            // Rounded integer blend: c * a + 255 * (255 - a), over 255.
            let blended = (u32::from(channel) * alpha + 255 * (255 - alpha) + 127) / 255;
            out.push(blended as u8);
        }
    }
    RgbImage::from_raw(width, height, out).unwrap_or_default()
}

fn classify(err: image::ImageError, format: ImageFormat, limits: &DecodeLimits) -> DecodeError {
    use image::ImageError as E;
    match err {
        E::Limits(limit) => DecodeError::TooMuchMemory {
            limit_mib: limits.max_alloc_bytes / (1024 * 1024),
            detail: limit.to_string(),
        },
        E::Unsupported(detail) => DecodeError::Unsupported {
            format: format_name(format),
            detail: detail.to_string(),
        },
        E::IoError(io) if io.kind() != std::io::ErrorKind::UnexpectedEof => DecodeError::Io(io),
        other => DecodeError::Corrupt {
            format: format_name(format),
            detail: other.to_string(),
        },
    }
}

fn format_name(format: ImageFormat) -> String {
    format
        .extensions_str()
        .first()
        .map_or_else(|| format!("{format:?}"), |ext| ext.to_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, format).expect("encode");
        out.into_inner()
    }

    fn gradient(width: u32, height: u32) -> RgbImage {
        RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 128]))
    }

    #[test]
    fn decodes_by_content_not_extension() {
        let png = encode(&DynamicImage::ImageRgb8(gradient(8, 6)), ImageFormat::Png);
        let decoded = decode_image(&png, &DecodeLimits::default()).expect("decode");
        assert_eq!(decoded.format, ImageFormat::Png);
        assert_eq!(decoded.rgb.dimensions(), (8, 6));
        assert_eq!(decoded.rgb.get_pixel(3, 2).0, [3, 2, 128]);
    }

    #[test]
    fn refuses_images_over_the_pixel_limit_before_decoding() {
        let png = encode(
            &DynamicImage::ImageRgb8(gradient(100, 100)),
            ImageFormat::Png,
        );
        let limits = DecodeLimits {
            max_pixels: 9_999,
            ..DecodeLimits::default()
        };
        let err = decode_image(&png, &limits).expect_err("too big");
        assert!(matches!(
            err,
            DecodeError::TooManyPixels {
                width: 100,
                height: 100,
                ..
            }
        ));
        assert!(err.to_string().contains("100x100"), "{err}");
    }

    #[test]
    fn refuses_allocations_over_the_memory_limit() {
        let png = encode(
            &DynamicImage::ImageRgb8(gradient(300, 300)),
            ImageFormat::Png,
        );
        let limits = DecodeLimits {
            max_alloc_bytes: 10_000,
            ..DecodeLimits::default()
        };
        let result = decode_image(&png, &limits);
        assert!(
            matches!(result, Err(DecodeError::TooMuchMemory { .. })),
            "not refused: {:?}",
            result.err()
        );
    }

    #[test]
    fn a_huge_declared_size_in_a_tiny_file_is_refused_not_allocated() {
        // A PNG header that claims 60000x60000 pixels, followed by nothing.
        let mut png = encode(&DynamicImage::ImageRgb8(gradient(2, 2)), ImageFormat::Png);
        png[16..20].copy_from_slice(&60_000u32.to_be_bytes());
        png[20..24].copy_from_slice(&60_000u32.to_be_bytes());
        let crc = crc32fast::hash(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        let err = decode_image(&png, &DecodeLimits::default()).expect_err("refused");
        assert!(
            matches!(err, DecodeError::TooManyPixels { width: 60_000, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn truncated_and_garbage_files_are_errors_not_panics() {
        let jpeg = encode(
            &DynamicImage::ImageRgb8(gradient(64, 64)),
            ImageFormat::Jpeg,
        );
        for cut in [10, jpeg.len() / 2, jpeg.len() - 3] {
            let result = decode_image(&jpeg[..cut], &DecodeLimits::default());
            if let Err(err) = result {
                assert!(!err.to_string().is_empty());
            }
        }
        let err = decode_image(b"hello, not an image", &DecodeLimits::default()).expect_err("no");
        assert!(matches!(err, DecodeError::UnknownFormat));
        let err = decode_image(b"", &DecodeLimits::default()).expect_err("no");
        assert!(matches!(err, DecodeError::UnknownFormat));
    }

    /// Regression: a JPEG cut in half decoded without a word (it then scored 0.38 against
    /// its own source); now the decode says it is partial.
    #[test]
    fn a_jpeg_cut_short_decodes_as_partial_and_a_whole_one_does_not() {
        let jpeg = encode(
            &DynamicImage::ImageRgb8(gradient(256, 256)),
            ImageFormat::Jpeg,
        );
        let whole = decode_image(&jpeg, &DecodeLimits::default()).expect("decode");
        assert_eq!(whole.partial, None);
        let half = &jpeg[..jpeg.len() / 2];
        // The decoder fills the missing half in rather than failing: only the note tells.
        let decoded = decode_image(half, &DecodeLimits::default()).expect("decodes anyway");
        let note = decoded.partial.expect("a partial decode is named");
        assert!(note.contains("partial decode"), "{note}");
        assert!(!jpeg_is_complete(half));
        assert!(jpeg_is_complete(&jpeg));
        // Trailing bytes after the end marker are fine.
        let mut padded = jpeg.clone();
        padded.extend_from_slice(&[0u8; 100]);
        assert!(jpeg_is_complete(&padded));
    }

    #[test]
    fn alpha_is_flattened_onto_white_and_16_bit_and_gray_become_rgb() {
        let mut rgba = image::RgbaImage::new(2, 1);
        rgba.put_pixel(0, 0, image::Rgba([0, 0, 0, 0]));
        rgba.put_pixel(1, 0, image::Rgba([200, 100, 0, 255]));
        let png = encode(&DynamicImage::ImageRgba8(rgba), ImageFormat::Png);
        let decoded = decode_image(&png, &DecodeLimits::default()).expect("decode");
        assert_eq!(decoded.rgb.get_pixel(0, 0).0, [255, 255, 255]);
        assert_eq!(decoded.rgb.get_pixel(1, 0).0, [200, 100, 0]);

        let wide = image::ImageBuffer::<image::Rgb<u16>, _>::from_pixel(
            2,
            2,
            image::Rgb([65535, 0, 32896]),
        );
        let png16 = encode(&DynamicImage::ImageRgb16(wide), ImageFormat::Png);
        let decoded = decode_image(&png16, &DecodeLimits::default()).expect("decode 16-bit");
        assert_eq!(decoded.rgb.get_pixel(0, 0).0, [255, 0, 128]);

        let gray = image::GrayImage::from_pixel(3, 3, image::Luma([77]));
        let png_gray = encode(&DynamicImage::ImageLuma8(gray), ImageFormat::Png);
        let decoded = decode_image(&png_gray, &DecodeLimits::default()).expect("decode gray");
        assert_eq!(decoded.rgb.get_pixel(1, 1).0, [77, 77, 77]);
    }

    #[test]
    fn animated_gif_gives_its_first_frame() {
        use image::codecs::gif::GifEncoder;
        use image::{Delay, Frame, RgbaImage};
        let mut bytes = Vec::new();
        {
            let mut encoder = GifEncoder::new(&mut bytes);
            let red = RgbaImage::from_pixel(4, 4, image::Rgba([255, 0, 0, 255]));
            let blue = RgbaImage::from_pixel(4, 4, image::Rgba([0, 0, 255, 255]));
            encoder
                .encode_frames([
                    Frame::from_parts(red, 0, 0, Delay::from_numer_denom_ms(100, 1)),
                    Frame::from_parts(blue, 0, 0, Delay::from_numer_denom_ms(100, 1)),
                ])
                .expect("encode gif");
        }
        let decoded = decode_image(&bytes, &DecodeLimits::default()).expect("decode gif");
        let [r, _, b] = decoded.rgb.get_pixel(1, 1).0;
        assert!(r > 200 && b < 50, "first frame is red");
    }

    #[test]
    fn exif_orientation_is_applied() {
        // A 4x2 JPEG with an EXIF block saying "rotate 90° clockwise" (orientation 6).
        let jpeg = encode(&DynamicImage::ImageRgb8(gradient(4, 2)), ImageFormat::Jpeg);
        let exif: &[u8] = &[
            b'E', b'x', b'i', b'f', 0, 0, b'M', b'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0,
            0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0,
        ];
        let mut with_exif = jpeg[..2].to_vec();
        with_exif.extend_from_slice(&[0xFF, 0xE1]);
        with_exif.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
        with_exif.extend_from_slice(exif);
        with_exif.extend_from_slice(&jpeg[2..]);
        let decoded = decode_image(&with_exif, &DecodeLimits::default()).expect("decode");
        assert_eq!(decoded.rgb.dimensions(), (2, 4));
    }
}
