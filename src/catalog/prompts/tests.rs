//! Tests of [`super`] (`src/catalog/prompts.rs`).

/// A sidecar that is a FIFO, a link to /dev/zero, 20 MB of text or not UTF-8 neither
/// hangs nor fills memory nor vanishes: each is noted, the text is capped or decoded
/// lossily.
#[cfg(unix)]
#[test]
fn sidecars_are_read_with_limits_and_notes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    for name in ["fifo", "zero", "huge", "latin", "plain"] {
        std::fs::write(root.join(format!("{name}.png")), b"png").expect("image");
    }
    let status = std::process::Command::new("mkfifo")
        .arg(root.join("fifo.txt"))
        .status()
        .expect("mkfifo");
    assert!(status.success());
    std::os::unix::fs::symlink("/dev/zero", root.join("zero.txt")).expect("link");
    let huge = "a castle ".repeat(20 * 1024 * 1024 / 9);
    std::fs::write(root.join("huge.txt"), &huge).expect("huge");
    std::fs::write(root.join("latin.txt"), b"caf\xe9 au lait").expect("latin");
    std::fs::write(root.join("plain.txt"), "a red barn\n").expect("plain");
    let rels = ["fifo.png", "zero.png", "huge.png", "latin.png", "plain.png"];
    let (tx, rx) = std::sync::mpsc::channel();
    let root_owned = root.to_path_buf();
    std::thread::spawn(move || {
        let mut warnings = Vec::new();
        let index = PromptIndex::load(&root_owned, &rels, &mut warnings);
        let _ = tx.send((index, warnings));
    });
    let (index, warnings) = rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the sidecars were read without hanging");
    assert_eq!(index.get("plain.png"), Some("a red barn"));
    assert_eq!(index.get("fifo.png"), None);
    assert_eq!(index.get("zero.png"), None);
    assert_eq!(
        index.get("huge.png").map(str::len),
        Some(huge[..MAX_PNG_TEXT_BYTES].trim().len())
    );
    assert_eq!(index.get("latin.png"), Some("caf\u{FFFD} au lait"));
    let said = |path: &str| -> String {
        warnings
            .iter()
            .filter(|w| w.path == path)
            .map(|w| w.reason.clone())
            .collect::<Vec<_>>()
            .join("; ")
    };
    assert!(
        said("fifo.txt").contains("not a regular file"),
        "{warnings:?}"
    );
    assert!(
        said("zero.txt").contains("not a regular file"),
        "{warnings:?}"
    );
    assert!(said("huge.txt").contains("truncated"), "{warnings:?}");
    assert!(said("latin.txt").contains("not UTF-8"), "{warnings:?}");
    assert_eq!(said("plain.txt"), "");
}

use super::*;

fn png_with_text(chunks: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, 2, 2);
        encoder.set_color(png::ColorType::Rgb);
        for (k, v) in chunks {
            encoder
                .add_itxt_chunk((*k).to_string(), (*v).to_string())
                .expect("chunk");
        }
        let mut writer = encoder.write_header().expect("header");
        writer.write_image_data(&[0u8; 12]).expect("data");
    }
    out
}

#[test]
fn a1111_parameters_give_the_positive_prompt() {
    let text = "a cat on a mat, oil painting\nNegative prompt: blurry\nSteps: 20, Sampler: Euler";
    let png = png_with_text(&[("parameters", text)]);
    assert_eq!(
        prompt_from_png_text(&png).map(|p| p.text).as_deref(),
        Some("a cat on a mat, oil painting")
    );
    assert_eq!(
        a1111_positive_prompt("a dog\nSteps: 30, CFG scale: 7").as_deref(),
        Some("a dog")
    );
    assert_eq!(a1111_positive_prompt("Steps: 30, CFG scale: 7"), None);
}

#[test]
fn comfyui_workflow_gives_the_text_wired_to_positive() {
    let workflow = r#"{
      "3": {"class_type": "KSampler", "inputs": {"positive": ["6", 0], "negative": ["7", 0]}},
      "6": {"class_type": "CLIPTextEncode", "inputs": {"text": ["10", 0], "clip": ["4", 1]}},
      "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "ugly, watermark"}},
      "10": {"class_type": "PrimitiveString", "inputs": {"value": "a castle at dawn"}}
    }"#;
    let png = png_with_text(&[("prompt", workflow), ("workflow", "{}")]);
    assert_eq!(
        prompt_from_png_text(&png).map(|p| p.text).as_deref(),
        Some("a castle at dawn")
    );
    let unwired = r#"{"1": {"class_type": "CLIPTextEncode", "inputs": {"text": "lonely"}}}"#;
    assert_eq!(comfyui_positive_prompt(unwired).as_deref(), Some("lonely"));
    assert_eq!(comfyui_positive_prompt("not json"), None);
}

/// A PNG whose `parameters` text is `size` bytes, in a zTXt (compressed) chunk.
fn png_with_ztxt_parameters(size: usize) -> Vec<u8> {
    use std::io::Write;
    let mut deflated = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    deflated.write_all(b"a bomb of a prompt ").expect("deflate");
    let zeros = vec![b'a'; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(zeros.len());
        deflated.write_all(&zeros[..n]).expect("deflate");
        left -= n;
    }
    let stream = deflated.finish().expect("deflate");
    let mut data = b"parameters\0\0".to_vec();
    data.extend_from_slice(&stream);
    let plain = png_with_text(&[]);
    // Insert the zTXt chunk right after IHDR (8 + 25 bytes).
    let mut out = plain[..33].to_vec();
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(b"zTXt");
    out.extend_from_slice(&data);
    let mut crc = crc32fast::Hasher::new();
    crc.update(b"zTXt");
    crc.update(&data);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
    out.extend_from_slice(&plain[33..]);
    out
}

/// Regression: a zTXt `parameters` chunk that inflates to 256 MiB was read whole (and a
/// 2 GiB one aborted the scan); now it is cut at 1 MiB and said to be.
#[test]
fn a_text_chunk_that_inflates_to_hundreds_of_megabytes_is_cut_at_one() {
    let png = png_with_ztxt_parameters(256 << 20);
    assert!(
        png.len() < 2 << 20,
        "the bomb is small: {} bytes",
        png.len()
    );
    let prompt = prompt_from_png_text(&png).expect("a prompt");
    assert!(prompt.truncated);
    assert_eq!(prompt.text.len(), MAX_PNG_TEXT_BYTES);
    assert!(prompt.text.starts_with("a bomb of a prompt aaaa"));
    let small = prompt_from_png_text(&png_with_ztxt_parameters(10)).expect("a prompt");
    assert_eq!(
        (small.text.as_str(), small.truncated),
        ("a bomb of a prompt aaaaaaaaaa", false)
    );
    // The image itself still decodes.
    let decoded =
        crate::decode::decode_image(&png, &crate::decode::DecodeLimits::default()).expect("decode");
    assert_eq!(decoded.rgb.dimensions(), (2, 2));
}

#[test]
fn non_png_and_plain_png_have_no_prompt() {
    assert_eq!(prompt_from_png_text(b"\xff\xd8\xff\xe0 jpeg"), None);
    assert_eq!(prompt_from_png_text(&png_with_text(&[])), None);
}

#[test]
fn sidecars_and_metadata_files_are_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("sub")).expect("mkdir");
    std::fs::write(root.join("a.txt"), "  sidecar prompt \n").expect("write");
    std::fs::write(
        root.join("sub/metadata.jsonl"),
        "{\"file_name\": \"b.png\", \"caption\": \"from jsonl\"}\n\n{\"file_name\": \"c.png\", \"other\": 1}\n",
    )
    .expect("write");
    std::fs::write(
        root.join("metadata.csv"),
        "file_name,text\nd.png,\"from csv, quoted\"\na.png,loses to sidecar\n",
    )
    .expect("write");
    let mut warnings = Vec::new();
    let index = PromptIndex::load(root, &["a.png", "sub/b.png", "d.png"], &mut warnings);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(index.get("a.png"), Some("sidecar prompt"));
    assert_eq!(index.get("sub/b.png"), Some("from jsonl"));
    assert_eq!(index.get("sub/c.png"), None);
    assert_eq!(index.get("d.png"), Some("from csv, quoted"));
}

#[test]
fn prompt_set_ids_come_from_metadata_rows_and_json_sidecars() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::write(
        root.join("metadata.jsonl"),
        "{\"file_name\": \"a.png\", \"id\": \"p000003\"}\n{\"file_name\": \"b.png\", \"prompt_id\": 12, \"prompt\": \"x\"}\n",
    )
    .expect("write");
    std::fs::write(root.join("c.json"), "{\"id\": \"p000007\", \"seed\": 1}").expect("write");
    std::fs::write(root.join("d.json"), "[1, 2]").expect("write");
    let mut warnings = Vec::new();
    let index = PromptIndex::load(root, &["a.png", "b.png", "c.png", "d.png"], &mut warnings);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(index.id("a.png"), Some("p000003"));
    assert_eq!(index.id("b.png"), Some("12"));
    assert_eq!((index.get("a.png"), index.get("b.png")), (None, Some("x")));
    assert_eq!(index.id("c.png"), Some("p000007"));
    assert_eq!(index.id("d.png"), None);
    // A CSV with an id column and no text column is read for its ids.
    let csv_dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        csv_dir.path().join("metadata.csv"),
        "file_name,id\ne.png,p000009\n",
    )
    .expect("write");
    let index = PromptIndex::load(csv_dir.path(), &["e.png"], &mut warnings);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(index.id("e.png"), Some("p000009"));
}

#[test]
fn malformed_metadata_is_a_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("metadata.jsonl"), "{broken\n").expect("write");
    let mut warnings = Vec::new();
    let index = PromptIndex::load(dir.path(), &[], &mut warnings);
    assert!(index.is_empty());
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].reason.contains("line 1"), "{warnings:?}");
}
