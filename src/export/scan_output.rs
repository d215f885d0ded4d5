//! The scan's output: JSON Lines (one object per generation), CSV or Parquet (one row per
//! match).

use std::io::Write;
use std::path::Path;

use super::review_set::csv_text_cell;
use crate::ranking::matches::GenerationMatches;

/// The format of `replicant scan --out`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanOutputFormat {
    /// One JSON object per generation.
    JsonLines,
    /// One row per generation and match.
    Csv,
    /// One row per generation and match, typed columns (see [`super::parquet`]).
    Parquet,
}

impl ScanOutputFormat {
    /// CSV for a `.csv` path, Parquet for `.parquet`; JSON Lines for `.jsonl`, `.ndjson`,
    /// `.json` or no extension; an error naming the extension for any other (a `results.xlsx`
    /// that held JSON Lines would mislead whoever opens it).
    pub fn for_path(path: &Path) -> Result<Self, String> {
        let Some(ext) = path.extension() else {
            return Ok(Self::JsonLines);
        };
        let ext = ext.to_string_lossy().to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Ok(Self::Csv),
            "parquet" => Ok(Self::Parquet),
            "jsonl" | "ndjson" | "json" => Ok(Self::JsonLines),
            _ => Err(format!(
                "{}: this program writes scan results as JSON Lines (.jsonl), CSV (.csv) or Parquet (.parquet), not .{ext}; give --out with one of those extensions",
                path.display()
            )),
        }
    }
}

#[derive(serde::Serialize)]
struct JsonMatch<'a> {
    rank: usize,
    training: &'a str,
    similarity: f64,
    /// The score that ordered the matches (see [`crate::ranking::matches::Match::score`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<f64>,
    region: Option<[u32; 4]>,
    layout: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    verified: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ranked_by: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duplicates: Option<usize>,
    /// img2dataset's key and URL of a training image read from a shard.
    #[serde(skip_serializing_if = "Option::is_none")]
    training_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    training_url: Option<&'a str>,
}

#[derive(serde::Serialize)]
struct JsonGeneration<'a> {
    generation: &'a str,
    prompt: Option<&'a str>,
    /// The id of the prompt-set line it was made from, and that caption's training image.
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt_source: Option<&'a str>,
    /// img2dataset's key and URL of a generation read from a shard.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    matches: Vec<JsonMatch<'a>>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    notes: &'a [String],
}

/// Similarities (and layout agreements) are written with 4 decimals: f16 index storage makes
/// further digits noise.
fn rounded(similarity: f32) -> f64 {
    (f64::from(similarity) * 10_000.0).round() / 10_000.0
}

/// Writes `results` (already in the order wanted) to `out` in `format`.
pub fn write_scan_results(
    results: &[GenerationMatches],
    format: ScanOutputFormat,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    match format {
        ScanOutputFormat::JsonLines => {
            for result in results {
                let line = JsonGeneration {
                    generation: &result.generation,
                    prompt: result.prompt.as_deref(),
                    prompt_id: result.prompt_source.as_ref().map(|s| s.id.as_str()),
                    prompt_source: result.prompt_source.as_ref().map(|s| s.training.as_str()),
                    key: result.key.as_deref(),
                    url: result.url.as_deref(),
                    notes: &result.notes,
                    matches: result
                        .matches
                        .iter()
                        .map(|m| JsonMatch {
                            rank: m.rank,
                            training: &m.training,
                            similarity: rounded(m.similarity),
                            score: m.score.map(rounded),
                            region: m.region,
                            layout: m.layout.map(rounded),
                            verified: m.verification.as_ref().map(|v| rounded(v.score)),
                            ranked_by: m.ranked_by.as_deref(),
                            duplicates: m.duplicates,
                            training_key: m.training_key.as_deref(),
                            training_url: m.training_url.as_deref(),
                        })
                        .collect(),
                };
                serde_json::to_writer(&mut *out, &line)?;
                out.write_all(b"\n")?;
            }
        }
        ScanOutputFormat::Csv => {
            let mut writer = csv::Writer::from_writer(&mut *out);
            writer.write_record([
                "generation",
                "prompt",
                "rank",
                "training",
                "similarity",
                "region",
                "layout",
                "verified",
                "ranked_by",
                "duplicates",
                "score",
                "generation_key",
                "generation_url",
                "training_key",
                "training_url",
            ])?;
            for result in results {
                // Names and prompts are neutralised against spreadsheet formulas, as in
                // review-set exports (see `csv_text_cell`).
                let prompt = csv_text_cell(result.prompt.as_deref().unwrap_or(""));
                let generation = csv_text_cell(&result.generation);
                let key = csv_text_cell(result.key.as_deref().unwrap_or(""));
                let url = csv_text_cell(result.url.as_deref().unwrap_or(""));
                if result.matches.is_empty() {
                    let mut row = [""; 15];
                    row[0] = generation.as_ref();
                    row[1] = prompt.as_ref();
                    row[11] = key.as_ref();
                    row[12] = url.as_ref();
                    writer.write_record(row)?;
                }
                for m in &result.matches {
                    let region = m
                        .region
                        .map_or_else(String::new, |[x, y, w, h]| format!("{x} {y} {w} {h}"));
                    writer.write_record([
                        generation.as_ref(),
                        prompt.as_ref(),
                        &m.rank.to_string(),
                        &csv_text_cell(&m.training),
                        &format!("{:.4}", rounded(m.similarity)),
                        &region,
                        &m.layout
                            .map_or_else(String::new, |l| format!("{:.4}", rounded(l))),
                        &m.verification
                            .as_ref()
                            .map_or_else(String::new, |v| format!("{:.4}", rounded(v.score))),
                        m.ranked_by.as_deref().unwrap_or(""),
                        &m.duplicates.map_or_else(String::new, |d| d.to_string()),
                        &m.score
                            .map_or_else(String::new, |v| format!("{:.4}", rounded(v))),
                        key.as_ref(),
                        url.as_ref(),
                        &csv_text_cell(m.training_key.as_deref().unwrap_or("")),
                        &csv_text_cell(m.training_url.as_deref().unwrap_or("")),
                    ])?;
                }
            }
            writer.flush()?;
        }
        ScanOutputFormat::Parquet => {
            let bytes = super::parquet::scan_results_parquet(results)
                .map_err(|e| std::io::Error::other(format!("cannot write Parquet: {e}")))?;
            out.write_all(&bytes)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ranking::matches::Match;

    fn sample() -> Vec<GenerationMatches> {
        vec![GenerationMatches {
            generation: "sub/a.png".into(),
            generation_path: "/g/sub/a.png".into(),
            generation_hash: None,
            prompt: Some("a \"quoted\", prompt".into()),
            prompt_source: None,
            key: Some("g-000001".into()),
            url: Some("https://example.org/g.png".into()),
            matches: vec![Match {
                rank: 1,
                training: "x.jpg".into(),
                similarity: 0.831_234,
                score: Some(1.105_67),
                region: None,
                layout: Some(0.612_34),
                verification: Some(crate::ranking::verify::Verification {
                    score: 0.456_78,
                    shift: [1, 0],
                    cells: vec![0.5; 16],
                }),
                training_path: std::path::PathBuf::from("/t/x.jpg").into(),
                training_caption: None,
                training_key: Some("000000007".into()),
                training_url: Some("=https://example.org/x.jpg".into()),
                training_hash: None,
                ranked_by: Some("sscd-distilled+sscd".into()),
                duplicates: Some(3),
                index_key: None,
            }],
            region_hits: Vec::new(),
            collage: false,
            notes: Vec::new(),
        }]
    }

    #[test]
    fn json_lines_have_the_documented_keys() {
        let mut out = Vec::new();
        write_scan_results(&sample(), ScanOutputFormat::JsonLines, &mut out).expect("write");
        let value: serde_json::Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(value["generation"], "sub/a.png");
        assert_eq!(value["prompt"], "a \"quoted\", prompt");
        assert_eq!(value["matches"][0]["rank"], 1);
        assert_eq!(value["matches"][0]["training"], "x.jpg");
        assert_eq!(value["matches"][0]["similarity"], 0.8312);
        assert_eq!(value["matches"][0]["score"], 1.1057);
        assert!(value["matches"][0]["region"].is_null());
        assert_eq!(value["matches"][0]["layout"], 0.6123);
        assert_eq!(value["matches"][0]["verified"], 0.4568);
        assert_eq!(value["matches"][0]["ranked_by"], "sscd-distilled+sscd");
        assert_eq!(value["matches"][0]["duplicates"], 3);
        assert_eq!(value["key"], "g-000001");
        assert_eq!(value["url"], "https://example.org/g.png");
        assert_eq!(value["matches"][0]["training_key"], "000000007");
        assert_eq!(
            value["matches"][0]["training_url"],
            "=https://example.org/x.jpg"
        );
    }

    #[test]
    fn parquet_has_typed_columns_and_a_null_row_for_a_generation_without_matches() {
        use arrow_array::Array;
        let mut results = sample();
        let mut empty = sample().remove(0);
        empty.generation = "b.png".into();
        empty.prompt = None;
        empty.matches.clear();
        results.push(empty);
        results[0].matches[0].region = Some([10, 20, 64, 48]);
        let mut out = Vec::new();
        write_scan_results(&results, ScanOutputFormat::Parquet, &mut out).expect("write");
        let read = crate::export::parquet::read_back::ReadBack::of(out);
        assert_eq!(read.metadata["replicant.format"], "scan-results");
        assert_eq!(read.metadata["replicant.format_version"], "1");
        assert_eq!(read.rows(), 2);
        let column = |name: &str| read.column(name);
        let text = |name: &str| read.text(name);
        let count = |name: &str| read.count(name);
        let float = |name: &str| read.float(name);
        assert_eq!(text("generation").value(0), "sub/a.png");
        assert_eq!(text("prompt").value(0), "a \"quoted\", prompt");
        assert_eq!(count("rank").value(0), 1);
        assert_eq!(text("training").value(0), "x.jpg");
        // Parquet keeps the float32 value, not the 4 decimals of the text formats.
        assert_eq!(float("similarity").value(0), 0.831_234);
        assert_eq!(float("score").value(0), 1.105_67);
        assert_eq!(float("layout").value(0), 0.612_34);
        assert_eq!(float("verified").value(0), 0.456_78);
        assert_eq!(
            ["region_x", "region_y", "region_width", "region_height"].map(|c| count(c).value(0)),
            [10, 20, 64, 48]
        );
        assert_eq!(text("ranked_by").value(0), "sscd-distilled+sscd");
        assert_eq!(count("duplicates").value(0), 3);
        assert_eq!(text("generation_key").value(0), "g-000001");
        assert_eq!(text("generation_url").value(0), "https://example.org/g.png");
        assert_eq!(text("training_key").value(0), "000000007");
        assert_eq!(text("training_url").value(0), "=https://example.org/x.jpg");
        // The generation without a match: its name, nulls for the match.
        assert_eq!(text("generation").value(1), "b.png");
        for name in [
            "prompt",
            "rank",
            "training",
            "similarity",
            "region_x",
            "duplicates",
            "training_key",
            "training_url",
        ] {
            assert!(column(name).is_null(1), "{name} not null");
        }
    }

    #[test]
    fn csv_has_a_row_per_match_and_quotes_prompts() {
        let mut out = Vec::new();
        write_scan_results(&sample(), ScanOutputFormat::Csv, &mut out).expect("write");
        let mut reader = csv::Reader::from_reader(out.as_slice());
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
        assert_eq!(rows.len(), 1);
        assert_eq!(&rows[0][1], "a \"quoted\", prompt");
        assert_eq!(&rows[0][4], "0.8312");
        assert_eq!(&rows[0][6], "0.6123");
        assert_eq!(&rows[0][7], "0.4568");
        assert_eq!(&rows[0][8], "sscd-distilled+sscd");
        assert_eq!(&rows[0][9], "3");
        assert_eq!(&rows[0][10], "1.1057");
        assert_eq!(&rows[0][11], "g-000001");
        assert_eq!(&rows[0][12], "https://example.org/g.png");
        assert_eq!(&rows[0][13], "000000007");
        // A URL is text like any other: neutralised where a spreadsheet would evaluate it.
        assert_eq!(&rows[0][14], "'=https://example.org/x.jpg");
        let mut hostile = sample();
        hostile[0].generation = "=HYPERLINK(\"x\")".into();
        hostile[0].prompt = Some("+1".into());
        let mut out = Vec::new();
        write_scan_results(&hostile, ScanOutputFormat::Csv, &mut out).expect("write");
        let mut reader = csv::Reader::from_reader(out.as_slice());
        let row = reader.records().next().expect("a row").expect("row");
        assert_eq!(&row[0], "'=HYPERLINK(\"x\")");
        assert_eq!(&row[1], "'+1");
    }
}
