//! The scan's output: JSON Lines (one object per generation) or CSV (one row per match).

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
}

impl ScanOutputFormat {
    /// CSV for a `.csv` path; JSON Lines for `.jsonl`, `.ndjson`, `.json` or no extension;
    /// an error naming the extension for any other (a `results.parquet` that held JSON Lines
    /// would mislead whoever opens it).
    pub fn for_path(path: &Path) -> Result<Self, String> {
        let Some(ext) = path.extension() else {
            return Ok(Self::JsonLines);
        };
        let ext = ext.to_string_lossy().to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Ok(Self::Csv),
            "jsonl" | "ndjson" | "json" => Ok(Self::JsonLines),
            _ => Err(format!(
                "{}: this program writes scan results as JSON Lines (.jsonl) or CSV (.csv), not .{ext}; give --out with one of those extensions",
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
    region: Option<[u32; 4]>,
    layout: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    verified: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ranked_by: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duplicates: Option<usize>,
}

#[derive(serde::Serialize)]
struct JsonGeneration<'a> {
    generation: &'a str,
    prompt: Option<&'a str>,
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
                    notes: &result.notes,
                    matches: result
                        .matches
                        .iter()
                        .map(|m| JsonMatch {
                            rank: m.rank,
                            training: &m.training,
                            similarity: rounded(m.similarity),
                            region: m.region,
                            layout: m.layout.map(rounded),
                            verified: m.verification.as_ref().map(|v| rounded(v.score)),
                            ranked_by: m.ranked_by.as_deref(),
                            duplicates: m.duplicates,
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
            ])?;
            for result in results {
                // Names and prompts are neutralised against spreadsheet formulas, as in
                // review-set exports (see `csv_text_cell`).
                let prompt = csv_text_cell(result.prompt.as_deref().unwrap_or(""));
                let generation = csv_text_cell(&result.generation);
                if result.matches.is_empty() {
                    writer.write_record([
                        generation.as_ref(),
                        prompt.as_ref(),
                        "",
                        "",
                        "",
                        "",
                        "",
                        "",
                        "",
                        "",
                    ])?;
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
                    ])?;
                }
            }
            writer.flush()?;
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
            matches: vec![Match {
                rank: 1,
                training: "x.jpg".into(),
                similarity: 0.831_234,
                region: None,
                layout: Some(0.612_34),
                verification: Some(crate::ranking::verify::Verification {
                    score: 0.456_78,
                    shift: [1, 0],
                    cells: vec![0.5; 16],
                }),
                training_path: std::path::PathBuf::from("/t/x.jpg").into(),
                training_caption: None,
                training_hash: None,
                ranked_by: Some("sscd-distilled+sscd".into()),
                duplicates: Some(3),
                training_key: None,
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
        assert!(value["matches"][0]["region"].is_null());
        assert_eq!(value["matches"][0]["layout"], 0.6123);
        assert_eq!(value["matches"][0]["verified"], 0.4568);
        assert_eq!(value["matches"][0]["ranked_by"], "sscd-distilled+sscd");
        assert_eq!(value["matches"][0]["duplicates"], 3);
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
