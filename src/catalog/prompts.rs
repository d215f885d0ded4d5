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
    /// The prompt-set ids given beside images (an `id` in a metadata row, or in a
    /// `<stem>.json` sidecar): how a generation names the line of `replicant prompts sample`
    /// it was made from when its file name does not.
    ids: HashMap<String, String>,
}

impl PromptIndex {
    /// Reads every `metadata.jsonl` and `metadata.csv` under `root`, and every `<stem>.txt`
    /// beside an image in `rel_paths`. A sidecar wins over a metadata row for the same image.
    /// Unreadable or malformed metadata files become warnings.
    pub fn load(root: &Path, rel_paths: &[&str], warnings: &mut Vec<CatalogWarning>) -> Self {
        let mut by_rel_path = HashMap::new();
        let mut ids = HashMap::new();
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
                    for row in rows {
                        let rel = super::relative_display(root, &dir.join(&row.file_name));
                        if let Some(id) = row.id {
                            ids.insert(rel.clone(), id);
                        }
                        if let Some(text) = row.text {
                            by_rel_path.insert(rel, text);
                        }
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
            if let Some(id) = sidecar_id(&root.join(rel).with_extension("json")) {
                ids.insert((*rel).to_string(), id);
            }
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
        Self { by_rel_path, ids }
    }

    /// The prompt-set id given beside the image at `rel_path`, if any.
    pub fn id(&self, rel_path: &str) -> Option<&str> {
        self.ids.get(rel_path).map(String::as_str)
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

/// One row of a metadata file: the image it describes, its text and its prompt-set id.
struct MetadataRow {
    file_name: String,
    text: Option<String>,
    id: Option<String>,
}

/// The `id` (or `prompt_id`) of a JSON object, as text (a number is taken as written).
fn id_of(value: &serde_json::Value) -> Option<String> {
    ["id", "prompt_id"]
        .iter()
        .find_map(|key| match value.get(*key)? {
            serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
}

/// The id in a `<stem>.json` sidecar beside an image: a small regular file only (as for text
/// sidecars, a pipe or a huge file is not read).
fn sidecar_id(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > 64 * 1024 {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    id_of(&value)
}

fn read_metadata_jsonl(path: &Path) -> Result<Vec<MetadataRow>, String> {
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
        let (text, id) = (text_of(&value), id_of(&value));
        if text.is_some() || id.is_some() {
            rows.push(MetadataRow {
                file_name: file_name.to_string(),
                text,
                id,
            });
        }
    }
    Ok(rows)
}

fn read_metadata_csv(path: &Path) -> Result<Vec<MetadataRow>, String> {
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
    let text_col = TEXT_KEYS.iter().find_map(|k| column(k));
    let id_col = column("id").or_else(|| column("prompt_id"));
    if text_col.is_none() && id_col.is_none() {
        return Err(
            "no prompt, caption, text or id column; prompts from this file are ignored".into(),
        );
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record =
            record.map_err(|err| format!("bad CSV row: {err}; prompts from this file ignored"))?;
        let cell = |col: Option<usize>| {
            col.and_then(|c| record.get(c))
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
        };
        let (text, id) = (cell(text_col), cell(id_col));
        if let Some(file) = record.get(file_col)
            && (text.is_some() || id.is_some())
        {
            rows.push(MetadataRow {
                file_name: file.trim().to_string(),
                text,
                id,
            });
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
mod tests;
