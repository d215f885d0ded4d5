//! Prompts and captions: `<stem>.txt` sidecars, `metadata.jsonl` / `metadata.csv` files (the
//! Hugging Face imagefolder convention), and text chunks written into PNGs by generators
//! (AUTOMATIC1111's `parameters`, ComfyUI's `prompt` workflow).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::CatalogWarning;

/// Column or key names that hold the text, in order of preference.
const TEXT_KEYS: &[&str] = &["prompt", "caption", "text"];

/// Prompts and captions found beside the images of one folder, by relative image path.
#[derive(Debug, Default, Clone)]
pub struct PromptIndex {
    by_rel_path: HashMap<String, String>,
}

impl PromptIndex {
    /// Reads every `metadata.jsonl` and `metadata.csv` under `root`, and every `<stem>.txt`
    /// beside an image in `rel_paths`. A sidecar wins over a metadata row for the same image.
    /// Unreadable or malformed metadata files become warnings.
    pub fn load(root: &Path, rel_paths: &[&str], warnings: &mut Vec<CatalogWarning>) -> Self {
        let mut by_rel_path = HashMap::new();
        for entry in walkdir::WalkDir::new(root)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_map(Result::ok)
        {
            let name = entry.file_name().to_string_lossy().to_ascii_lowercase();
            if !entry.file_type().is_file() {
                continue;
            }
            let dir = entry.path().parent().unwrap_or(root).to_path_buf();
            let rows = match name.as_str() {
                "metadata.jsonl" => read_metadata_jsonl(entry.path()),
                "metadata.csv" => read_metadata_csv(entry.path()),
                _ => continue,
            };
            match rows {
                Ok(rows) => {
                    for (file_name, text) in rows {
                        let rel = super::relative_display(root, &dir.join(&file_name));
                        by_rel_path.insert(rel, text);
                    }
                }
                Err(reason) => warnings.push(CatalogWarning {
                    path: super::relative_display(root, entry.path()),
                    reason,
                    skipped: false,
                }),
            }
        }
        for rel in rel_paths {
            let sidecar = sidecar_path(&root.join(rel));
            let shown = || super::relative_display(root, &sidecar);
            match read_sidecar(&sidecar) {
                Sidecar::Absent => {}
                Sidecar::Refused(reason) => warnings.push(CatalogWarning {
                    path: shown(),
                    reason,
                    skipped: false,
                }),
                Sidecar::Text { text, notes } => {
                    for reason in notes {
                        warnings.push(CatalogWarning {
                            path: shown(),
                            reason,
                            skipped: false,
                        });
                    }
                    let text = text.trim();
                    if !text.is_empty() {
                        by_rel_path.insert((*rel).to_string(), text.to_string());
                    }
                }
            }
        }
        Self { by_rel_path }
    }

    /// The prompt or caption for the image at `rel_path`, if any was found beside it.
    pub fn get(&self, rel_path: &str) -> Option<&str> {
        self.by_rel_path.get(rel_path).map(String::as_str)
    }

    /// How many images have a prompt or caption.
    pub fn len(&self) -> usize {
        self.by_rel_path.len()
    }

    /// Whether no prompt or caption was found.
    pub fn is_empty(&self) -> bool {
        self.by_rel_path.is_empty()
    }
}

fn sidecar_path(image: &Path) -> PathBuf {
    image.with_extension("txt")
}

/// What reading a prompt sidecar gave.
#[derive(Debug, PartialEq)]
enum Sidecar {
    /// No sidecar.
    Absent,
    /// Something is there but is not read (not a regular file), and why.
    Refused(String),
    /// Its text, with notes on how it was read (cut at the cap, bytes not UTF-8).
    Text { text: String, notes: Vec<String> },
}

/// Reads the sidecar at `path`: a regular file only (a FIFO would block the scan forever, a
/// link to `/dev/zero` would fill memory), at most [`MAX_PNG_TEXT_BYTES`] like a PNG's
/// prompt, decoded as UTF-8 with any other bytes replaced; each liberty taken is noted.
fn read_sidecar(path: &Path) -> Sidecar {
    use std::io::Read;
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Sidecar::Absent,
        Err(err) => {
            return Sidecar::Refused(format!(
                "the prompt sidecar cannot be read ({err}); the generation is scanned without its prompt"
            ));
        }
    };
    if !meta.is_file() {
        return Sidecar::Refused(
            "the prompt sidecar is not a regular file (a pipe, a device or a folder); not read, the generation is scanned without its prompt".into(),
        );
    }
    let mut bytes = Vec::new();
    let read = std::fs::File::open(path).and_then(|file| {
        file.take(MAX_PNG_TEXT_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
    });
    if let Err(err) = read {
        return Sidecar::Refused(format!(
            "the prompt sidecar cannot be read ({err}); the generation is scanned without its prompt"
        ));
    }
    let mut notes = Vec::new();
    if bytes.len() > MAX_PNG_TEXT_BYTES {
        // Cut at a character boundary where the bytes are UTF-8.
        let mut end = MAX_PNG_TEXT_BYTES;
        while end > 0 && (bytes[end] & 0xC0) == 0x80 {
            end -= 1;
        }
        bytes.truncate(end);
        notes.push(format!(
            "prompt sidecar truncated: it holds more than {} MiB; only the first {} bytes are kept as the prompt",
            MAX_PNG_TEXT_BYTES / (1024 * 1024),
            bytes.len()
        ));
    }
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => {
            notes.push(
                "the prompt sidecar is not UTF-8 text; bytes that are not were replaced with \u{FFFD}"
                    .into(),
            );
            String::from_utf8_lossy(err.as_bytes()).into_owned()
        }
    };
    Sidecar::Text { text, notes }
}

fn text_of(value: &serde_json::Value) -> Option<String> {
    let object = value.as_object()?;
    TEXT_KEYS.iter().find_map(|key| {
        object
            .get(*key)
            .and_then(|v| v.as_str())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    })
}

fn read_metadata_jsonl(path: &Path) -> Result<Vec<(String, String)>, String> {
    let body = std::fs::read_to_string(path)
        .map_err(|err| format!("cannot read metadata file: {err}; prompts from it are ignored"))?;
    let mut rows = Vec::new();
    for (line_no, line) in body.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(line).map_err(|err| {
            format!(
                "line {}: not JSON ({err}); fix the line, prompts from this file are ignored",
                line_no + 1
            )
        })?;
        let Some(file_name) = value.get("file_name").and_then(|v| v.as_str()) else {
            continue;
        };
        if let Some(text) = text_of(&value) {
            rows.push((file_name.to_string(), text));
        }
    }
    Ok(rows)
}

fn read_metadata_csv(path: &Path) -> Result<Vec<(String, String)>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|err| format!("cannot read metadata file: {err}; prompts from it are ignored"))?;
    let headers = reader
        .headers()
        .map_err(|err| format!("bad CSV header: {err}; prompts from this file are ignored"))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h.trim() == name);
    let Some(file_col) = column("file_name") else {
        return Err("no file_name column; prompts from this file are ignored".into());
    };
    let Some(text_col) = TEXT_KEYS.iter().find_map(|k| column(k)) else {
        return Err("no prompt, caption or text column; prompts from this file are ignored".into());
    };
    let mut rows = Vec::new();
    for record in reader.records() {
        let record =
            record.map_err(|err| format!("bad CSV row: {err}; prompts from this file ignored"))?;
        if let (Some(file), Some(text)) = (record.get(file_col), record.get(text_col)) {
            let text = text.trim();
            if !text.is_empty() {
                rows.push((file.trim().to_string(), text.to_string()));
            }
        }
    }
    Ok(rows)
}

/// The most text kept from one PNG text chunk once inflated. A prompt is a few lines; a
/// chunk that inflates to gigabytes is damage or an attack, and would be copied into every
/// output.
pub const MAX_PNG_TEXT_BYTES: usize = 1024 * 1024;

/// A prompt read from a PNG's own text chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedPrompt {
    /// The positive prompt.
    pub text: String,
    /// Whether its chunk held more than [`MAX_PNG_TEXT_BYTES`] (only that much was read).
    pub truncated: bool,
}

/// The text chunks (`tEXt`, `zTXt`, `iTXt`) before a PNG's image data: keyword, text (at most
/// [`MAX_PNG_TEXT_BYTES`], compressed ones inflated only that far) and whether it was cut.
fn png_text_chunks(bytes: &[u8]) -> Vec<(String, String, bool)> {
    let mut chunks = Vec::new();
    let mut pos = 8usize;
    while pos + 8 <= bytes.len() {
        let len = u32::from_be_bytes([bytes[pos], bytes[pos + 1], bytes[pos + 2], bytes[pos + 3]])
            as usize;
        let kind = &bytes[pos + 4..pos + 8];
        let Some(data) = bytes.get(pos + 8..(pos + 8).saturating_add(len)) else {
            break;
        };
        if kind == b"IDAT" || kind == b"IEND" {
            break;
        }
        let text = match kind {
            b"tEXt" => split_keyword(data).map(|(k, rest)| {
                let (cut, truncated) = cap(rest);
                (k, latin1(cut), truncated)
            }),
            b"zTXt" => split_keyword(data).and_then(|(k, rest)| {
                // One byte of compression method (0, deflate), then the stream.
                let (text, truncated) = inflate_capped(rest.get(1..)?)?;
                Some((k, latin1(&text), truncated))
            }),
            b"iTXt" => split_keyword(data).and_then(|(k, rest)| {
                let compressed = *rest.first()? == 1;
                let rest = rest.get(2..)?;
                let lang_end = rest.iter().position(|&b| b == 0)?;
                let rest = rest.get(lang_end + 1..)?;
                let translated_end = rest.iter().position(|&b| b == 0)?;
                let rest = rest.get(translated_end + 1..)?;
                let (text, truncated) = if compressed {
                    inflate_capped(rest)?
                } else {
                    let (cut, truncated) = cap(rest);
                    (cut.to_vec(), truncated)
                };
                Some((k, String::from_utf8_lossy(&text).into_owned(), truncated))
            }),
            _ => None,
        };
        chunks.extend(text);
        pos = pos.saturating_add(12).saturating_add(len);
    }
    chunks
}

fn split_keyword(data: &[u8]) -> Option<(String, &[u8])> {
    let end = data.iter().take(80).position(|&b| b == 0)?;
    Some((latin1(&data[..end]), &data[end + 1..]))
}

fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

fn cap(bytes: &[u8]) -> (&[u8], bool) {
    if bytes.len() > MAX_PNG_TEXT_BYTES {
        (&bytes[..MAX_PNG_TEXT_BYTES], true)
    } else {
        (bytes, false)
    }
}

/// Inflates a zlib stream, stopping after [`MAX_PNG_TEXT_BYTES`] (memory stays bounded
/// whatever the stream would inflate to).
fn inflate_capped(compressed: &[u8]) -> Option<(Vec<u8>, bool)> {
    use std::io::Read;
    let mut out = Vec::new();
    let mut decoder =
        flate2::read::ZlibDecoder::new(compressed).take(MAX_PNG_TEXT_BYTES as u64 + 1);
    if decoder.read_to_end(&mut out).is_err() && out.is_empty() {
        return None;
    }
    let truncated = out.len() > MAX_PNG_TEXT_BYTES;
    out.truncate(MAX_PNG_TEXT_BYTES);
    Some((out, truncated))
}

/// The positive prompt stored in a PNG's text chunks, if any: AUTOMATIC1111's `parameters`
/// (the text before "Negative prompt:" or the settings line) or a ComfyUI `prompt` workflow
/// (the text of the node wired to a sampler's `positive` input). Reads only the chunks before
/// the image data, each at most [`MAX_PNG_TEXT_BYTES`] once inflated; returns `None` for other
/// formats or when nothing is found.
pub fn prompt_from_png_text(bytes: &[u8]) -> Option<EmbeddedPrompt> {
    if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return None;
    }
    let chunks = png_text_chunks(bytes);
    let find = |key: &str| {
        chunks
            .iter()
            .find(|(k, _, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v, truncated)| (v.as_str(), *truncated))
    };
    if let Some((parameters, truncated)) = find("parameters")
        && let Some(text) = a1111_positive_prompt(parameters)
    {
        return Some(EmbeddedPrompt { text, truncated });
    }
    if let Some((workflow, truncated)) = find("prompt")
        && let Some(text) = comfyui_positive_prompt(workflow)
    {
        return Some(EmbeddedPrompt { text, truncated });
    }
    None
}

/// The positive prompt of AUTOMATIC1111's `parameters` text: everything before the
/// "Negative prompt:" line, or before the final "Steps: ..." settings line.
pub fn a1111_positive_prompt(parameters: &str) -> Option<String> {
    let mut end = parameters.len();
    if let Some(pos) = parameters.find("\nNegative prompt:") {
        end = pos;
    } else if parameters.starts_with("Negative prompt:") {
        end = 0;
    } else if let Some(pos) = parameters.rfind("\nSteps: ") {
        end = pos;
    } else if parameters.starts_with("Steps: ") {
        end = 0;
    }
    let prompt = parameters[..end].trim();
    (!prompt.is_empty()).then(|| prompt.to_string())
}

/// The positive prompt of a ComfyUI API-format workflow (`prompt` chunk): follows each
/// sampler's `positive` input to the text node it is wired to (through string nodes too).
/// Falls back to the first `CLIPTextEncode` text when no sampler is wired.
pub fn comfyui_positive_prompt(workflow: &str) -> Option<String> {
    let graph: serde_json::Value = serde_json::from_str(workflow).ok()?;
    let nodes = graph.as_object()?;
    let mut ids: Vec<&String> = nodes.keys().collect();
    ids.sort_by_key(|id| (id.parse::<u64>().unwrap_or(u64::MAX), (*id).clone()));
    for id in &ids {
        let inputs = nodes[*id].get("inputs");
        if let Some(link) = inputs.and_then(|i| i.get("positive"))
            && let Some(text) = resolve_text(nodes, link, 0)
        {
            return Some(text);
        }
    }
    ids.iter().find_map(|id| {
        let node = &nodes[*id];
        let class = node
            .get("class_type")
            .and_then(|c| c.as_str())
            .unwrap_or("");
        if class.starts_with("CLIPTextEncode") {
            let text = node.get("inputs")?.get("text")?;
            resolve_text(nodes, text, 0)
        } else {
            None
        }
    })
}

/// Follows a ComfyUI input (a literal string or a `[node_id, output]` link) to text.
fn resolve_text(
    nodes: &serde_json::Map<String, serde_json::Value>,
    value: &serde_json::Value,
    depth: usize,
) -> Option<String> {
    if depth > 16 {
        return None;
    }
    if let Some(text) = value.as_str() {
        let text = text.trim();
        return (!text.is_empty()).then(|| text.to_string());
    }
    let link = value.as_array()?;
    let target = match link.first()? {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let inputs = nodes.get(&target)?.get("inputs")?.as_object()?;
    for key in [
        "text",
        "text_g",
        "string",
        "value",
        "prompt",
        "conditioning",
        "positive",
    ] {
        if let Some(next) = inputs.get(key)
            && let Some(text) = resolve_text(nodes, next, depth + 1)
        {
            return Some(text);
        }
    }
    None
}

#[cfg(test)]
mod tests {
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
        let text =
            "a cat on a mat, oil painting\nNegative prompt: blurry\nSteps: 20, Sampler: Euler";
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
        let decoded = crate::decode::decode_image(&png, &crate::decode::DecodeLimits::default())
            .expect("decode");
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
    fn malformed_metadata_is_a_warning() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("metadata.jsonl"), "{broken\n").expect("write");
        let mut warnings = Vec::new();
        let index = PromptIndex::load(dir.path(), &[], &mut warnings);
        assert!(index.is_empty());
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].reason.contains("line 1"), "{warnings:?}");
    }
}
