//! Exporting the labelled review set: CSV, JSON Lines or one self-contained HTML page, with
//! optional copies of both images of each pair. Files are written atomically and never
//! overwrite an existing file unless asked to.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;

use crate::catalog::{ImageLocation, MAX_IMAGE_FILE_BYTES};
use crate::decode::{DecodeLimits, decode_image, thumbnail};
use crate::fsutil::write_atomically;
use crate::review::LabelRecord;

/// The review set's file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ReviewFormat {
    /// One row per labelled pair.
    Csv,
    /// One JSON object per labelled pair.
    JsonLines,
    /// One self-contained page with the pairs side by side.
    Html,
}

impl ReviewFormat {
    /// Parses `csv`, `jsonl` or `html`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "csv" => Some(Self::Csv),
            "jsonl" | "json" => Some(Self::JsonLines),
            "html" | "htm" => Some(Self::Html),
            _ => None,
        }
    }

    /// The format a file name implies (CSV when it implies none).
    pub fn for_path(path: &Path) -> Self {
        path.extension()
            .and_then(|e| e.to_str())
            .and_then(Self::parse)
            .unwrap_or(Self::Csv)
    }
}

/// Errors from exporting. Each names the path and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The output exists and overwriting was not asked for.
    #[error("{0} already exists; choose another name or pass --force to replace it")]
    Exists(PathBuf),
    /// Writing failed.
    #[error("cannot write {path}: {source}; check the folder exists and is writable")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// What an export wrote.
#[derive(Debug, Clone, Default)]
pub struct ExportReport {
    /// Labelled pairs written.
    pub pairs: usize,
    /// Image files copied (with images).
    pub images_copied: usize,
    /// Images that could not be copied or shown, with reasons.
    pub problems: Vec<String>,
    /// The images folder, when images were copied.
    pub images_dir: Option<PathBuf>,
}

/// One exported row: the fields of the review set, in order.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReviewRow {
    /// The generation's relative path.
    pub generation: String,
    /// The training image's relative path.
    pub training: String,
    /// The match's rank.
    pub rank: usize,
    /// Cosine similarity.
    pub similarity: f32,
    /// `full_copy`, `near_copy` or `distinct`.
    pub label: String,
    /// Who labelled it.
    pub reviewer: String,
    /// The reviewer's note.
    pub note: String,
    /// When (RFC 3339 UTC).
    pub labelled_at: String,
    /// The model key.
    pub model: String,
    /// The generation's prompt.
    pub prompt: Option<String>,
}

/// The rows of the labelled pairs of `records` (cleared labels are left out).
pub fn review_rows(records: &[LabelRecord]) -> Vec<ReviewRow> {
    records
        .iter()
        .filter_map(|r| {
            Some(ReviewRow {
                generation: r.key.generation.clone(),
                training: r.key.training.clone(),
                rank: r.context.rank,
                similarity: (r.context.similarity * 10_000.0).round() / 10_000.0,
                label: r.label?.as_str().to_string(),
                reviewer: r.reviewer.clone(),
                note: r.note.clone(),
                labelled_at: r.labelled_at.clone(),
                model: r.context.model_key.clone(),
                prompt: r.context.prompt.clone(),
            })
        })
        .collect()
}

/// Writes the review set of `records` to `out`. With `with_images`, both images of each pair
/// are copied into `<out stem>_images/` beside it.
pub fn export_review_set(
    records: &[LabelRecord],
    out: &Path,
    format: ReviewFormat,
    with_images: bool,
    force: bool,
) -> Result<ExportReport, ExportError> {
    if out.exists() && !force {
        return Err(ExportError::Exists(out.to_path_buf()));
    }
    let labelled: Vec<&LabelRecord> = records.iter().filter(|r| r.label.is_some()).collect();
    let rows = review_rows(records);
    let mut report = ExportReport {
        pairs: rows.len(),
        ..ExportReport::default()
    };
    let images_dir = with_images.then(|| images_dir_for(out));
    let mut copied: Vec<(Option<String>, Option<String>)> = vec![(None, None); labelled.len()];
    if let Some(dir) = &images_dir {
        if dir.exists() && !force {
            return Err(ExportError::Exists(dir.clone()));
        }
        std::fs::create_dir_all(dir).map_err(|source| ExportError::Io {
            path: dir.clone(),
            source,
        })?;
        for (i, record) in labelled.iter().enumerate() {
            let sides = [
                (
                    generation_location(record),
                    "generation",
                    &record.key.generation,
                ),
                (
                    record.context.training_path.clone(),
                    "training",
                    &record.key.training,
                ),
            ];
            for (slot, (source, side, rel)) in sides.into_iter().enumerate() {
                let Some(source) = source else {
                    report
                        .problems
                        .push(format!("{rel}: location unknown, not copied"));
                    continue;
                };
                let name = format!("{:04}_{side}_{}", i + 1, file_name_of(rel));
                let copied_file = source
                    .read(MAX_IMAGE_FILE_BYTES)
                    .and_then(|bytes| std::fs::write(dir.join(&name), bytes));
                match copied_file {
                    Ok(_) => {
                        report.images_copied += 1;
                        let link = format!(
                            "{}/{}",
                            dir.file_name()
                                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
                            name
                        );
                        if slot == 0 {
                            copied[i].0 = Some(link)
                        } else {
                            copied[i].1 = Some(link)
                        }
                    }
                    Err(err) => report.problems.push(format!("{}: {err}", source.display())),
                }
            }
        }
        report.images_dir = Some(dir.clone());
    }
    let mut body = Vec::new();
    match format {
        ReviewFormat::Csv => write_csv(&rows, &mut body),
        ReviewFormat::JsonLines => write_jsonl(&rows, &mut body),
        ReviewFormat::Html => {
            write_html(&labelled, &rows, &copied, &mut body, &mut report.problems)
        }
    }
    .map_err(|source| ExportError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    write_atomically(out, &body).map_err(|source| ExportError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    Ok(report)
}

fn images_dir_for(out: &Path) -> PathBuf {
    let stem = out
        .file_stem()
        .map_or_else(|| "review".into(), |s| s.to_string_lossy().into_owned());
    out.with_file_name(format!("{stem}_images"))
}

fn file_name_of(rel: &str) -> String {
    rel.rsplit('/')
        .next()
        .unwrap_or(rel)
        .chars()
        .map(|c| if c.is_control() { '_' } else { c })
        .collect()
}

fn write_csv(rows: &[ReviewRow], out: &mut Vec<u8>) -> std::io::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record([
        "generation",
        "training",
        "rank",
        "similarity",
        "label",
        "reviewer",
        "note",
        "labelled_at",
        "model",
        "prompt",
    ])?;
    for row in rows {
        writer.write_record([
            row.generation.as_str(),
            &row.training,
            &row.rank.to_string(),
            &format!("{:.4}", row.similarity),
            &row.label,
            &row.reviewer,
            &row.note,
            &row.labelled_at,
            &row.model,
            row.prompt.as_deref().unwrap_or(""),
        ])?;
    }
    writer.flush()
}

fn write_jsonl(rows: &[ReviewRow], out: &mut Vec<u8>) -> std::io::Result<()> {
    for row in rows {
        serde_json::to_writer(&mut *out, row)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A small JPEG of the image as a data URI, so the page needs no other file.
/// The generation's location, from what its label recorded.
fn generation_location(record: &LabelRecord) -> Option<ImageLocation> {
    record
        .context
        .generation_path
        .clone()
        .map(ImageLocation::File)
}

fn data_uri(location: &ImageLocation) -> Result<String, String> {
    let bytes = location
        .read(MAX_IMAGE_FILE_BYTES)
        .map_err(|e| e.to_string())?;
    let decoded = decode_image(&bytes, &DecodeLimits::default()).map_err(|e| e.to_string())?;
    let small = thumbnail(&decoded.rgb, 480);
    let mut jpeg = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85);
    image::DynamicImage::ImageRgb8(small)
        .write_with_encoder(encoder)
        .map_err(|e| e.to_string())?;
    Ok(format!(
        "data:image/jpeg;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(jpeg)
    ))
}

fn write_html(
    labelled: &[&LabelRecord],
    rows: &[ReviewRow],
    copied: &[(Option<String>, Option<String>)],
    out: &mut Vec<u8>,
    problems: &mut Vec<String>,
) -> std::io::Result<()> {
    writeln!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Replicant review set</title>\n<style>\
body{{font-family:system-ui,sans-serif;margin:24px;background:#fafafa;color:#222}}\
.pair{{background:#fff;border:1px solid #ddd;border-radius:8px;margin:0 0 18px;padding:12px}}\
.imgs{{display:flex;gap:12px}}.imgs figure{{margin:0;flex:1}}.imgs img{{max-width:100%;max-height:480px;display:block}}\
figcaption{{font-size:12px;color:#555;word-break:break-all}}\
.label{{display:inline-block;padding:2px 8px;border-radius:4px;color:#fff;font-weight:600}}\
.full_copy{{background:#c62828}}.near_copy{{background:#ef6c00}}.distinct{{background:#2e7d32}}\
.meta{{font-size:13px;margin:6px 0}}.prompt{{font-style:italic}}</style></head><body>"
    )?;
    writeln!(
        out,
        "<h1>Replicant review set</h1><p>{} labelled pairs.</p>",
        rows.len()
    )?;
    for (i, (record, row)) in labelled.iter().zip(rows).enumerate() {
        let mut figure =
            |path: &Option<ImageLocation>, link: &Option<String>, title: &str| -> String {
                let src = path.as_ref().map(data_uri);
                let img = match src {
                    Some(Ok(uri)) => format!("<img src=\"{uri}\" alt=\"{}\">", escape_html(title)),
                    Some(Err(reason)) => {
                        problems.push(format!("{title}: {reason}"));
                        format!("<p>(image unavailable: {})</p>", escape_html(&reason))
                    }
                    None => "<p>(image location unknown)</p>".into(),
                };
                let caption = match link {
                    Some(link) => format!(
                        "<a href=\"{}\">{}</a>",
                        escape_html(link),
                        escape_html(title)
                    ),
                    None => escape_html(title),
                };
                format!("<figure>{img}<figcaption>{caption}</figcaption></figure>")
            };
        let generation = figure(&generation_location(record), &copied[i].0, &row.generation);
        let training = figure(&record.context.training_path, &copied[i].1, &row.training);
        writeln!(
            out,
            "<section class=\"pair\"><div class=\"meta\"><span class=\"label {label}\">{label_title}</span> similarity <b>{sim:.4}</b> · rank {rank} · {reviewer} · {at}</div>\
<div class=\"imgs\">{generation}{training}</div>{prompt}{note}<div class=\"meta\">model {model}</div></section>",
            label = escape_html(&row.label),
            label_title = escape_html(&row.label.replace('_', " ")),
            sim = row.similarity,
            rank = row.rank,
            reviewer = escape_html(&row.reviewer),
            at = escape_html(&row.labelled_at),
            prompt = row.prompt.as_deref().map_or_else(String::new, |p| format!(
                "<p class=\"prompt\">Prompt: {}</p>",
                escape_html(p)
            )),
            note = if row.note.is_empty() {
                String::new()
            } else {
                format!("<p>Note: {}</p>", escape_html(&row.note))
            },
            model = escape_html(&row.model),
        )?;
    }
    writeln!(out, "</body></html>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape_html("<b a=\"x\">'&'</b>"),
            "&lt;b a=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/b&gt;"
        );
    }

    #[test]
    fn format_from_path() {
        assert_eq!(
            ReviewFormat::for_path(Path::new("a.HTML")),
            ReviewFormat::Html
        );
        assert_eq!(
            ReviewFormat::for_path(Path::new("a.jsonl")),
            ReviewFormat::JsonLines
        );
        assert_eq!(ReviewFormat::for_path(Path::new("a")), ReviewFormat::Csv);
    }
}
