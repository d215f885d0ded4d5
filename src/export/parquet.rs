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

use super::review_row::{COLUMNS, Cell, Kind, ReviewRow, note_writers};
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
        "generation_key",
        "generation_url",
        "training_key",
        "training_url",
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
        Column::text(),
        Column::text(),
        Column::text(),
        Column::text(),
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
            c[16].text_value(result.key.as_deref());
            c[17].text_value(result.url.as_deref());
            c[18].text_value(m.and_then(|m| m.training_key.as_deref()));
            c[19].text_value(m.and_then(|m| m.training_url.as_deref()));
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

/// The review set as Parquet: one row per labelled pair, in the CSV's columns (typed), with
/// each reviewer's label and note in columns `label:NAME` and `note:NAME`.
pub fn review_set_parquet(rows: &[ReviewRow], reviewers: &[String]) -> Result<Vec<u8>, String> {
    let note_writers = note_writers(rows);
    let label_names: Vec<String> = reviewers.iter().map(|r| format!("label:{r}")).collect();
    let note_names: Vec<String> = note_writers.iter().map(|r| format!("note:{r}")).collect();
    let mut columns: Vec<(&str, bool, Column)> = Vec::new();
    for spec in COLUMNS {
        let mut column = match spec.kind {
            Kind::Count => Column::count(),
            Kind::Similarity => Column::float(),
            Kind::Text => Column::text(),
        };
        for row in rows {
            match row.cell(spec.name) {
                Cell::Text(text) => column.text_value(text),
                Cell::Count(count) => column.count_value(count),
                Cell::Similarity(similarity) => column.float_value(Some(similarity)),
            }
        }
        columns.push((spec.name, spec.nullable, column));
    }
    for (name, reviewer) in label_names.iter().zip(reviewers) {
        let mut column = Column::text();
        for row in rows {
            column.text_value(row.reviewers.get(reviewer).map(String::as_str));
        }
        columns.push((name, true, column));
    }
    for (name, writer) in note_names.iter().zip(&note_writers) {
        let mut column = Column::text();
        for row in rows {
            column.text_value(row.notes.get(*writer).map(String::as_str));
        }
        columns.push((name, true, column));
    }
    write(columns, "review-set", REVIEW_PARQUET_VERSION)
}

/// A Parquet file read back, for the tests of both tables: its metadata, column names, and
/// columns by name and type.
#[cfg(test)]
pub(super) mod read_back {
    use arrow_array::{Array, ArrayRef, Float32Array, RecordBatch, StringArray, UInt32Array};

    pub struct ReadBack {
        pub metadata: arrow_schema::Metadata,
        pub names: Vec<String>,
        batch: RecordBatch,
    }

    impl ReadBack {
        /// Reads `bytes` (one batch).
        pub fn of(bytes: Vec<u8>) -> Self {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("t.parquet");
            std::fs::write(&path, bytes).expect("write");
            let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                std::fs::File::open(&path).expect("open"),
            )
            .expect("a parquet file");
            let metadata = builder.schema().metadata().clone();
            let names = builder
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            let batch = builder
                .build()
                .expect("reader")
                .next()
                .expect("a batch")
                .expect("batch");
            Self {
                metadata,
                names,
                batch,
            }
        }
        pub fn rows(&self) -> usize {
            self.batch.num_rows()
        }
        pub fn column(&self, name: &str) -> ArrayRef {
            self.batch.column_by_name(name).expect(name).clone()
        }
        pub fn text(&self, name: &str) -> StringArray {
            let column = self.column(name);
            column
                .as_any()
                .downcast_ref::<StringArray>()
                .expect(name)
                .clone()
        }
        pub fn count(&self, name: &str) -> UInt32Array {
            let column = self.column(name);
            column
                .as_any()
                .downcast_ref::<UInt32Array>()
                .expect(name)
                .clone()
        }
        pub fn float(&self, name: &str) -> Float32Array {
            let column = self.column(name);
            column
                .as_any()
                .downcast_ref::<Float32Array>()
                .expect(name)
                .clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;

    fn row(generation: &str, label: &str) -> ReviewRow {
        ReviewRow {
            generation: generation.into(),
            training: "t.png".into(),
            rank: 2,
            similarity: 0.75,
            label: label.into(),
            reviewer: "ann".into(),
            note: String::new(),
            labelled_at: "2026-12-06T10:00:00Z".into(),
            model: "sscd".into(),
            prompt: None,
            generation_hash: "gh".into(),
            training_hash: "th".into(),
            duplicates: Some(4),
            final_label: label.into(),
            reviewers: [("ann".to_string(), label.to_string())].into(),
            notes: Default::default(),
            adjudicated_by: None,
            samples: crate::review::PairSamples {
                training_key: Some("000000007".into()),
                training_url: Some("https://example.org/t.jpg".into()),
                ..Default::default()
            },
        }
    }

    #[test]
    fn the_review_set_has_the_csvs_columns_typed_with_each_reviewers_own() {
        let mut second = row("b.png", "distinct");
        second.notes.insert("bob".into(), "=not a formula".into());
        second.duplicates = None;
        let read = read_back::ReadBack::of(
            review_set_parquet(&[row("a.png", "near_copy"), second], &["ann".into()])
                .expect("parquet"),
        );
        assert_eq!(read.metadata["replicant.format"], "review-set");
        let mut expected: Vec<String> = COLUMNS.map(|c| c.name.to_string()).to_vec();
        expected.extend(["label:ann".to_string(), "note:bob".to_string()]);
        assert_eq!(read.names, expected);
        assert_eq!(read.count("rank").value(1), 2);
        assert_eq!(read.float("similarity").value(0), 0.75);
        assert!(read.column("duplicates").is_null(1) && !read.column("duplicates").is_null(0));
        assert_eq!(read.text("label").value(1), "distinct");
        assert_eq!(read.text("label:ann").value(0), "near_copy");
        assert_eq!(read.text("training_key").value(0), "000000007");
        assert_eq!(
            read.text("training_url").value(1),
            "https://example.org/t.jpg"
        );
        assert!(read.column("generation_key").is_null(0));
        // Text as written: Parquet readers evaluate nothing, so no formula guard.
        assert_eq!(read.text("note:bob").value(1), "=not a formula");
        assert!(read.text("note:bob").is_null(0) && read.column("prompt").is_null(0));
    }
}
