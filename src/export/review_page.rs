//! The review page (`replicant export --format review-html`): one self-contained HTML file in
//! which a reviewer without the desk labels a chosen set of pairs in any browser, with the
//! desk's keys, and saves the labels as a file for `replicant label import`. The pairs (their
//! names, content hashes, similarity, prompt and both images as small JPEG data URIs) are
//! embedded as JSON beside the page's script (`assets/review_page.js`); the page carries the
//! project's identity and its own, which the saved labels repeat and the import checks.

use std::io::Write as _;

use super::review_html::data_uri;
use super::review_row::ReviewRow;
use crate::catalog::ImageLocation;

/// The saved labels' `format`, which `replicant label import` recognises.
pub const PAGE_LABELS_FORMAT: &str = "replicant-review-page-labels";

#[derive(serde::Serialize)]
struct PagePair<'a> {
    generation: &'a str,
    training: &'a str,
    generation_hash: &'a str,
    training_hash: &'a str,
    similarity: f32,
    rank: usize,
    prompt: Option<&'a str>,
    /// The generation's and the training image's data URIs (empty when unreadable).
    images: [String; 2],
}

#[derive(serde::Serialize)]
struct PageData<'a> {
    /// The page's identity: its labels are kept under it in the browser.
    page: String,
    /// The exporting project's identity ([`crate::project::Project::identity`]).
    project: &'a str,
    pairs: Vec<PagePair<'a>>,
}

/// Writes the review page of `rows` (images read from `locations`, by position) for the
/// project whose identity is `project`.
pub(super) fn write_review_page(
    rows: &[ReviewRow],
    locations: &[[Option<ImageLocation>; 2]],
    project: &str,
    out: &mut Vec<u8>,
    problems: &mut Vec<String>,
    progress: &mut dyn FnMut(usize, usize) -> bool,
) -> std::io::Result<()> {
    let mut pairs = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        if !progress(i, rows.len()) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Interrupted,
                "the export was cancelled",
            ));
        }
        let images = [0, 1].map(|side| match &locations[i][side] {
            Some(location) => data_uri(location).unwrap_or_else(|reason| {
                let name = if side == 0 {
                    &row.generation
                } else {
                    &row.training
                };
                problems.push(format!("{name}: {reason}"));
                String::new()
            }),
            None => String::new(),
        });
        pairs.push(PagePair {
            generation: &row.generation,
            training: &row.training,
            generation_hash: &row.generation_hash,
            training_hash: &row.training_hash,
            similarity: row.similarity,
            rank: row.rank,
            prompt: row.prompt.as_deref(),
            images,
        });
    }
    // The page's identity: the project, its pairs and the moment, so that two exports of the
    // same pairs keep their labels apart in one browser.
    let mut hasher = blake3::Hasher::new();
    hasher.update(project.as_bytes());
    for pair in &pairs {
        hasher.update(pair.generation_hash.as_bytes());
        hasher.update(pair.training_hash.as_bytes());
    }
    hasher.update(crate::fsutil::utc_now().as_bytes());
    let data = PageData {
        page: hasher.finalize().to_hex()[..32].to_string(),
        project,
        pairs,
    };
    // Every text from the project (names, prompts) reaches the page through this JSON and the
    // script's `textContent`, never as markup. `</` inside a script element would end it: JSON
    // allows `<\/` for the same text.
    let json = serde_json::to_string(&data)
        .map_err(std::io::Error::other)?
        .replace("</", "<\\/");
    write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Replicant review: {n} pairs</title>\n<style>{style}</style></head><body>\
<header><h1>Replicant review</h1>\
<label>Your name <input id=\"reviewer\" autocomplete=\"name\"></label>\
<span id=\"progress\"></span><button id=\"save\">Save labels</button>\
<p class=\"help\">Keys as in the desk: <kbd>1</kbd> full copy, <kbd>2</kbd> near copy, \
<kbd>3</kbd> distinct, <kbd>0</kbd> clear, <kbd>&larr;</kbd> <kbd>&rarr;</kbd> previous and next. \
Labels stay in this browser until you save them; send the saved file back.</p>\
<p id=\"message\"></p></header>\
<main><div class=\"meta\"><span id=\"position\"></span> · similarity <b id=\"similarity\"></b> \
· rank <span id=\"rank\"></span> · <span id=\"label\" class=\"label\"></span></div>\
<div class=\"imgs\"><figure><img id=\"generation-image\" alt=\"generation\">\
<figcaption>generation: <span id=\"generation-name\"></span></figcaption></figure>\
<figure><img id=\"training-image\" alt=\"training image\">\
<figcaption>training image: <span id=\"training-name\"></span></figcaption></figure></div>\
<p class=\"prompt\">Prompt: <span id=\"prompt\"></span></p>\
<div class=\"buttons\"><button id=\"previous\">&larr;</button>\
<button data-key=\"1\" class=\"full_copy\">1 full copy</button>\
<button data-key=\"2\" class=\"near_copy\">2 near copy</button>\
<button data-key=\"3\" class=\"distinct\">3 distinct</button>\
<button data-key=\"0\">0 clear</button><button id=\"next\">&rarr;</button></div>\
<label class=\"note\">Note <textarea id=\"note\" rows=\"2\"></textarea></label></main>\
<script id=\"replicant-data\" type=\"application/json\">{json}</script>\
<script>{script}</script></body></html>\n",
        n = rows.len(),
        style = STYLE,
        script = include_str!("../../assets/review_page.js"),
    )?;
    Ok(())
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:16px 24px;background:#fafafa;color:#222}\
header{display:flex;flex-wrap:wrap;gap:12px;align-items:center}header h1{font-size:20px;margin:0 12px 0 0}\
.help{flex-basis:100%;margin:0;font-size:13px;color:#555}#message{flex-basis:100%;margin:0;color:#b71c1c}\
#progress{font-weight:600}.meta{margin:10px 0;font-size:14px}\
.imgs{display:flex;gap:12px}.imgs figure{margin:0;flex:1}.imgs img{max-width:100%;max-height:70vh;display:block}\
figcaption{font-size:12px;color:#555;word-break:break-all}.prompt{font-style:italic;font-size:13px}\
.label{display:inline-block;padding:2px 8px;border-radius:4px;background:#777;color:#fff;font-weight:600}\
.full_copy{background:#c62828;color:#fff}.near_copy{background:#ef6c00;color:#fff}.distinct{background:#2e7d32;color:#fff}\
.buttons{display:flex;gap:8px;margin:8px 0}.note textarea{width:100%;display:block}\
kbd{border:1px solid #aaa;border-radius:3px;padding:0 4px;background:#fff}";

#[cfg(test)]
mod tests {
    use super::*;

    fn row(generation: &str) -> ReviewRow {
        ReviewRow {
            generation: generation.into(),
            training: "t.png".into(),
            rank: 1,
            similarity: 0.61,
            label: String::new(),
            reviewer: String::new(),
            note: String::new(),
            labelled_at: String::new(),
            model: "sscd".into(),
            prompt: Some("a <b>bold</b> prompt".into()),
            generation_hash: "gh".into(),
            training_hash: "th".into(),
            duplicates: None,
            final_label: String::new(),
            reviewers: Default::default(),
            notes: Default::default(),
            adjudicated_by: None,
            samples: Default::default(),
        }
    }

    #[test]
    fn names_and_prompts_cannot_close_the_pages_script_and_the_identity_is_embedded() {
        let rows = [row("</script><script>alert(1)</script>.png")];
        let mut out = Vec::new();
        write_review_page(
            &rows,
            &[[None, None]],
            "project-id-1",
            &mut out,
            &mut Vec::new(),
            &mut |_, _| true,
        )
        .expect("page");
        let html = String::from_utf8(out).expect("utf-8");
        // Two scripts (the data and the behaviour), each closed once.
        assert_eq!(html.matches("</script>").count(), 2, "{html}");
        assert!(
            !html.contains("<b>bold</b>"),
            "markup from a prompt reached the page"
        );
        let start = html.find("application/json\">").expect("data") + "application/json\">".len();
        let end = start + html[start..].find("</script>").expect("end");
        let data: serde_json::Value = serde_json::from_str(&html[start..end]).expect("JSON");
        assert_eq!(data["project"], "project-id-1");
        assert_eq!(
            data["pairs"][0]["generation"],
            "</script><script>alert(1)</script>.png"
        );
        assert_eq!(data["pairs"][0]["prompt"], "a <b>bold</b> prompt");
        assert_eq!(data["page"].as_str().map(str::len), Some(32));
    }
}
