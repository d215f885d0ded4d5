//! Tests of [`super`] (`src/export/review_set.rs`).

use super::*;
use crate::export::escape_html;

#[test]
fn escapes_markup() {
    assert_eq!(
        escape_html("<b a=\"x\">'&'</b>"),
        "&lt;b a=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/b&gt;"
    );
}

/// Regression: CSV cells starting with `=`, `+`, `-` or `@` were written verbatim, so a
/// prompt or note could run as a formula in a spreadsheet.
#[test]
fn csv_cells_that_would_be_formulas_are_neutralised_and_read_back() {
    for text in ["=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tx"] {
        let cell = csv_text_cell(text);
        assert!(cell.starts_with('\''), "{cell}");
        assert_eq!(csv_text_uncell(&cell), text);
    }
    assert_eq!(csv_text_cell("a castle"), "a castle");
    assert_eq!(csv_text_uncell("'quoted"), "'quoted");
    let row = ReviewRow {
        generation: "=cmd|' /C calc'!A0.png".into(),
        training: "t.png".into(),
        rank: 1,
        similarity: -0.25,
        label: "distinct".into(),
        reviewer: "@admin".into(),
        note: "+note".into(),
        labelled_at: "2026".into(),
        model: "m".into(),
        prompt: Some("-prompt".into()),
        generation_hash: "g".into(),
        training_hash: "t".into(),
        final_label: "distinct".into(),
        duplicates: Some(2),
        reviewers: [("=evil".to_string(), "distinct".to_string())].into(),
        notes: Default::default(),
        adjudicated_by: None,
        samples: Default::default(),
    };
    let mut body = Vec::new();
    write_csv(&[row], &["=evil".to_string()], &mut body).expect("csv");
    let mut reader = csv::Reader::from_reader(body.as_slice());
    let record = reader.records().next().expect("row").expect("parse");
    for (i, expected) in [
        (0, "'=cmd|' /C calc'!A0.png"),
        (5, "'@admin"),
        (6, "'+note"),
        (9, "'-prompt"),
    ] {
        assert_eq!(&record[i], expected);
    }
    assert_eq!(&record[3], "-0.2500", "numbers are left as they are");
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
