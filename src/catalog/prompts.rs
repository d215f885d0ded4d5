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
            if let Ok(text) = std::fs::read_to_string(&sidecar) {
                let text = text.trim();
                if !text.is_empty() {
                    by_rel_path.insert((*rel).to_string(), text.to_string());
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

/// The positive prompt stored in a PNG's text chunks, if any: AUTOMATIC1111's `parameters`
/// (the text before "Negative prompt:" or the settings line) or a ComfyUI `prompt` workflow
/// (the text of the node wired to a sampler's `positive` input). Reads only the chunks before
/// the image data; returns `None` for other formats or when nothing is found.
pub fn prompt_from_png_text(bytes: &[u8]) -> Option<String> {
    if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return None;
    }
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let reader = decoder.read_info().ok()?;
    let info = reader.info();
    let mut chunks: Vec<(String, String)> = Vec::new();
    for chunk in &info.uncompressed_latin1_text {
        chunks.push((chunk.keyword.clone(), chunk.text.clone()));
    }
    for chunk in &info.compressed_latin1_text {
        if let Ok(text) = chunk.get_text() {
            chunks.push((chunk.keyword.clone(), text));
        }
    }
    for chunk in &info.utf8_text {
        if let Ok(text) = chunk.get_text() {
            chunks.push((chunk.keyword.clone(), text));
        }
    }
    let find = |key: &str| {
        chunks
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    };
    if let Some(parameters) = find("parameters") {
        if let Some(prompt) = a1111_positive_prompt(parameters) {
            return Some(prompt);
        }
    }
    if let Some(workflow) = find("prompt") {
        if let Some(prompt) = comfyui_positive_prompt(workflow) {
            return Some(prompt);
        }
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
        if let Some(link) = inputs.and_then(|i| i.get("positive")) {
            if let Some(text) = resolve_text(nodes, link, 0) {
                return Some(text);
            }
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
        if let Some(next) = inputs.get(key) {
            if let Some(text) = resolve_text(nodes, next, depth + 1) {
                return Some(text);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
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
            prompt_from_png_text(&png).as_deref(),
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
            prompt_from_png_text(&png).as_deref(),
            Some("a castle at dawn")
        );
        let unwired = r#"{"1": {"class_type": "CLIPTextEncode", "inputs": {"text": "lonely"}}}"#;
        assert_eq!(comfyui_positive_prompt(unwired).as_deref(), Some("lonely"));
        assert_eq!(comfyui_positive_prompt("not json"), None);
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
