//! Apache Parquet for the tools our users already run (pandas, pyarrow, polars, DuckDB): the
//! scan's results one row per generation and match, and the review set one row per labelled
//! pair, with typed columns (numbers as numbers, absent values as nulls). Text is written as
//! it is: a Parquet reader does not evaluate formulas, so the CSV's neutralisation does not
//! apply. Snappy-compressed; each file's metadata names the format and its version
//! (`replicant.format`, `replicant.format_version`) so a reader can tell what it holds.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::{Float32Builder, StringBuilder, UInt32Builder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::review_row::ReviewRow;
use crate::ranking::matches::GenerationMatches;

/// The version of the scan results' columns (see `docs/formats.md`).
pub const SCAN_PARQUET_VERSION: u32 = 1;
/// The version of the review set's columns.
pub const REVIEW_PARQUET_VERSION: u32 = 1;

/// Column builders by kind, so that each table is a list of named columns.
enum Column {
    Text(StringBuilder),
    Float(Float32Builder),
    Count(UInt32Builder),
}

impl Column {
    fn text() -> Self {
        Self::Text(StringBuilder::new())
    }
    fn float() -> Self {
        Self::Float(Float32Builder::new())
    }
    fn count() -> Self {
        Self::Count(UInt32Builder::new())
    }
    fn text_value(&mut self, value: Option<&str>) {
        if let Self::Text(b) = self {
            b.append_option(value);
        }
    }
    fn float_value(&mut self, value: Option<f32>) {
        if let Self::Float(b) = self {
            b.append_option(value);
        }
    }
    fn count_value(&mut self, value: Option<usize>) {
        if let Self::Count(b) = self {
            b.append_option(value.map(|v| u32::try_from(v).unwrap_or(u32::MAX)));
        }
    }
    fn finish(self, name: &str, nullable: bool) -> (Field, ArrayRef) {
        let (data_type, array): (DataType, ArrayRef) = match self {
            Self::Text(mut b) => (DataType::Utf8, Arc::new(b.finish())),
            Self::Float(mut b) => (DataType::Float32, Arc::new(b.finish())),
            Self::Count(mut b) => (DataType::UInt32, Arc::new(b.finish())),
        };
        (Field::new(name, data_type, nullable), array)
    }
}

/// Writes named columns (name, nullable, column) as one Parquet file in memory.
fn write(
    columns: Vec<(&str, bool, Column)>,
    format: &str,
    version: u32,
) -> Result<Vec<u8>, String> {
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = columns
        .into_iter()
        .map(|(name, nullable, column)| column.finish(name, nullable))
        .unzip();
    let metadata = HashMap::from([
        ("replicant.format".to_string(), format.to_string()),
        ("replicant.format_version".to_string(), version.to_string()),
        (
            "replicant.version".to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
    ]);
    let schema = Arc::new(Schema::new_with_metadata(fields, metadata));
    let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| e.to_string())?;
    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut out = Vec::new();
    let mut writer =
        ArrowWriter::try_new(&mut out, schema, Some(properties)).map_err(|e| e.to_string())?;
    writer.write(&batch).map_err(|e| e.to_string())?;
    writer.close().map_err(|e| e.to_string())?;
    Ok(out)
}

/// The scan's results as Parquet: one row per generation and match (a generation without a
/// match has one row with the match's columns null), in `results`' order.
pub fn scan_results_parquet(results: &[GenerationMatches]) -> Result<Vec<u8>, String> {
    let names = [
        "generation",
        "generation_hash",
        "prompt",
        "rank",
        "training",
        "training_hash",
        "similarity",
        "score",
        "layout",
        "verified",
        "region_x",
        "region_y",
        "region_width",
        "region_height",
        "ranked_by",
        "duplicates",
    ];
    let mut c: Vec<Column> = vec![
        Column::text(),
        Column::text(),
        Column::text(),
        Column::count(),
        Column::text(),
        Column::text(),
        Column::float(),
        Column::float(),
        Column::float(),
        Column::float(),
        Column::count(),
        Column::count(),
        Column::count(),
        Column::count(),
        Column::text(),
        Column::count(),
    ];
    for result in results {
        let generation_hash = result.generation_hash.as_deref();
        let rows: Vec<Option<&crate::ranking::matches::Match>> = if result.matches.is_empty() {
            vec![None]
        } else {
            result.matches.iter().map(Some).collect()
        };
        for m in rows {
            c[0].text_value(Some(&result.generation));
            c[1].text_value(generation_hash);
            c[2].text_value(result.prompt.as_deref());
            c[3].count_value(m.map(|m| m.rank));
            c[4].text_value(m.map(|m| m.training.as_str()));
            c[5].text_value(m.and_then(|m| m.training_hash.as_deref()));
            c[6].float_value(m.map(|m| m.similarity));
            c[7].float_value(m.and_then(|m| m.score));
            c[8].float_value(m.and_then(|m| m.layout));
            c[9].float_value(m.and_then(|m| m.verification.as_ref().map(|v| v.score)));
            let region = m.and_then(|m| m.region);
            for (i, column) in c[10..14].iter_mut().enumerate() {
                column.count_value(region.map(|r| r[i] as usize));
            }
            c[14].text_value(m.and_then(|m| m.ranked_by.as_deref()));
            c[15].count_value(m.and_then(|m| m.duplicates));
        }
    }
    // Only the generation's name is never null.
    let columns = names
        .into_iter()
        .zip(c)
        .map(|(name, column)| (name, name != "generation", column))
        .collect();
    write(columns, "scan-results", SCAN_PARQUET_VERSION)
}

/// The review set as Parquet: one row per labelled pair, with each reviewer's label and note
/// in columns `label:NAME` and `note:NAME` (as the CSV has them).
pub fn review_set_parquet(rows: &[ReviewRow], reviewers: &[String]) -> Result<Vec<u8>, String> {
    let text_names = [
        "generation",
        "training",
        "label",
        "reviewer",
        "note",
        "labelled_at",
        "model",
        "prompt",
        "generation_hash",
        "training_hash",
        "final_label",
        "adjudicated_by",
    ];
    let mut text: Vec<Column> = text_names.iter().map(|_| Column::text()).collect();
    let (mut rank, mut similarity, mut duplicates) =
        (Column::count(), Column::float(), Column::count());
    let note_writers: Vec<&String> = rows
        .iter()
        .flat_map(|r| r.notes.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut labels: Vec<Column> = reviewers.iter().map(|_| Column::text()).collect();
    let mut notes: Vec<Column> = note_writers.iter().map(|_| Column::text()).collect();
    for row in rows {
        let values = [
            Some(row.generation.as_str()),
            Some(row.training.as_str()),
            Some(row.label.as_str()),
            Some(row.reviewer.as_str()),
            Some(row.note.as_str()),
            Some(row.labelled_at.as_str()),
            Some(row.model.as_str()),
            row.prompt.as_deref(),
            Some(row.generation_hash.as_str()),
            Some(row.training_hash.as_str()),
            Some(row.final_label.as_str()),
            row.adjudicated_by.as_deref(),
        ];
        for (column, value) in text.iter_mut().zip(values) {
            column.text_value(value);
        }
        rank.count_value(Some(row.rank));
        similarity.float_value(Some(row.similarity));
        duplicates.count_value(row.duplicates);
        for (column, reviewer) in labels.iter_mut().zip(reviewers) {
            column.text_value(row.reviewers.get(reviewer).map(String::as_str));
        }
        for (column, writer) in notes.iter_mut().zip(&note_writers) {
            column.text_value(row.notes.get(*writer).map(String::as_str));
        }
    }
    let label_names: Vec<String> = reviewers.iter().map(|r| format!("label:{r}")).collect();
    let note_names: Vec<String> = note_writers.iter().map(|r| format!("note:{r}")).collect();
    let mut columns: Vec<(&str, bool, Column)> = Vec::new();
    let mut text = text.into_iter();
    for name in text_names {
        let column = text.next().expect("one column a name");
        columns.push((name, matches!(name, "prompt" | "adjudicated_by"), column));
        // The numbers follow the training image's name, as in the CSV.
        if name == "training" {
            columns.push(("rank", false, std::mem::replace(&mut rank, Column::count())));
            columns.push((
                "similarity",
                false,
                std::mem::replace(&mut similarity, Column::float()),
            ));
        }
    }
    columns.push(("duplicates", true, duplicates));
    columns.extend(
        label_names
            .iter()
            .zip(labels)
            .map(|(n, c)| (n.as_str(), true, c)),
    );
    columns.extend(
        note_names
            .iter()
            .zip(notes)
            .map(|(n, c)| (n.as_str(), true, c)),
    );
    write(columns, "review-set", REVIEW_PARQUET_VERSION)
}
