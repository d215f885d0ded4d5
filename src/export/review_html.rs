//! The review set as one HTML page: each labelled pair's two images (as data URIs, or links
//! to the copies beside the page), its label, similarity, reviewer, prompt and note.

use std::io::Write as _;

use base64::Engine;

use super::review_row::ReviewRow;
use crate::catalog::{ImageLocation, MAX_IMAGE_FILE_BYTES};
use crate::decode::{DecodeLimits, decode_image, thumbnail};

/// The label as the page shows it: the final label, or "disputed", with each reviewer's own
/// when more than one labelled the pair.
fn label_title(row: &ReviewRow) -> String {
    let head = if row.label.is_empty() {
        "disputed".to_string()
    } else {
        row.label.replace('_', " ")
    };
    if row.reviewers.len() < 2 {
        return head;
    }
    let each: Vec<String> = row
        .reviewers
        .iter()
        .map(|(who, l)| format!("{who}: {}", l.replace('_', " ")))
        .collect();
    format!("{head} ({})", each.join(", "))
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
pub(super) fn data_uri(location: &ImageLocation) -> Result<String, String> {
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

pub(super) fn write_html(
    rows: &[ReviewRow],
    locations: &[[Option<ImageLocation>; 2]],
    copied: &[[Option<String>; 2]],
    out: &mut Vec<u8>,
    problems: &mut Vec<String>,
    progress: &mut dyn FnMut(usize, usize) -> bool,
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
    for (i, row) in rows.iter().enumerate() {
        if !progress(i, rows.len()) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Interrupted,
                "the export was cancelled",
            ));
        }
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
        let generation = figure(&locations[i][0], &copied[i][0], &row.generation);
        let training = figure(&locations[i][1], &copied[i][1], &row.training);
        writeln!(
            out,
            "<section class=\"pair\"><div class=\"meta\"><span class=\"label {label}\">{label_title}</span> similarity <b>{sim:.4}</b> · rank {rank} · {reviewer} · {at}</div>\
<div class=\"imgs\">{generation}{training}</div>{prompt}{note}<div class=\"meta\">model {model}</div></section>",
            label = escape_html(&row.label),
            label_title = escape_html(&label_title(row)),
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
