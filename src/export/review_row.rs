//! One row of the exported review set: a labelled pair with its label, reviewers and context.

/// One exported row: the fields of the review set, in order.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReviewRow {
    /// The generation's name (as the latest scan names it).
    pub generation: String,
    /// The training image's name (as the latest scan names it).
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
    /// blake3 of the generation's bytes (the label's key, with the next).
    pub generation_hash: String,
    /// blake3 of the training image's bytes.
    pub training_hash: String,
    /// The training image's duplicate count when labelled (`None` when the scan had none).
    pub duplicates: Option<usize>,
    /// The final label (adjudicated, else agreed by its reviewers; empty while disputed).
    /// `label` is the same; this column names it for readers of a double review.
    pub final_label: String,
    /// Each reviewer's own label.
    pub reviewers: std::collections::BTreeMap<String, String>,
    /// Each reviewer's own note (`note` joins them as `name: note`).
    #[serde(default)]
    pub notes: std::collections::BTreeMap<String, String>,
    /// Who adjudicated the pair, when its final label is an adjudication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adjudicated_by: Option<String>,
    /// img2dataset's key and url of both images, for images read from shards.
    #[serde(flatten)]
    pub samples: crate::review::PairSamples,
}

/// One cell of a review-set row, typed, for the tabular exports.
pub(super) enum Cell<'a> {
    /// Text; `None` where absent.
    Text(Option<&'a str>),
    /// A count; `None` where unknown.
    Count(Option<usize>),
    /// The similarity (already rounded to 4 decimals).
    Similarity(f32),
}

impl ReviewRow {
    /// The cell of column `name` (one of [`COLUMNS`]).
    pub(super) fn cell(&self, name: &str) -> Cell<'_> {
        fn text(value: &str) -> Cell<'_> {
            Cell::Text(Some(value))
        }
        match name {
            "generation" => text(&self.generation),
            "training" => text(&self.training),
            "rank" => Cell::Count(Some(self.rank)),
            "similarity" => Cell::Similarity(self.similarity),
            "label" => text(&self.label),
            "reviewer" => text(&self.reviewer),
            "note" => text(&self.note),
            "labelled_at" => text(&self.labelled_at),
            "model" => text(&self.model),
            "prompt" => Cell::Text(self.prompt.as_deref()),
            "generation_hash" => text(&self.generation_hash),
            "training_hash" => text(&self.training_hash),
            "duplicates" => Cell::Count(self.duplicates),
            "final_label" => text(&self.final_label),
            "adjudicated_by" => Cell::Text(self.adjudicated_by.as_deref()),
            "generation_key" => Cell::Text(self.samples.generation_key.as_deref()),
            "generation_url" => Cell::Text(self.samples.generation_url.as_deref()),
            "training_key" => Cell::Text(self.samples.training_key.as_deref()),
            "training_url" => Cell::Text(self.samples.training_url.as_deref()),
            _ => Cell::Text(None),
        }
    }
}

/// How a column is typed in the tabular exports (Parquet's types; CSV writes them as text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Text,
    Count,
    Similarity,
}

/// One of the review set's columns: its name, type, and whether it may be absent (nullable in
/// every export of the format, whatever the rows hold, so that the schema is one).
#[derive(Debug, Clone, Copy)]
pub(super) struct ColumnSpec {
    pub name: &'static str,
    pub kind: Kind,
    pub nullable: bool,
}

const fn column(name: &'static str, kind: Kind, nullable: bool) -> ColumnSpec {
    ColumnSpec {
        name,
        kind,
        nullable,
    }
}

/// The review set's columns before each reviewer's own, in the order every tabular export
/// (CSV, Parquet) writes them; [`ReviewRow::cell`] gives each one's value.
pub(super) const COLUMNS: [ColumnSpec; 19] = [
    column("generation", Kind::Text, false),
    column("training", Kind::Text, false),
    column("rank", Kind::Count, false),
    column("similarity", Kind::Similarity, false),
    column("label", Kind::Text, false),
    column("reviewer", Kind::Text, false),
    column("note", Kind::Text, false),
    column("labelled_at", Kind::Text, false),
    column("model", Kind::Text, false),
    column("prompt", Kind::Text, true),
    column("generation_hash", Kind::Text, false),
    column("training_hash", Kind::Text, false),
    column("duplicates", Kind::Count, true),
    column("final_label", Kind::Text, false),
    column("adjudicated_by", Kind::Text, true),
    column("generation_key", Kind::Text, true),
    column("generation_url", Kind::Text, true),
    column("training_key", Kind::Text, true),
    column("training_url", Kind::Text, true),
];

/// Everyone who wrote a note on `rows`, in name order: each gets a `note:NAME` column.
pub(super) fn note_writers(rows: &[ReviewRow]) -> Vec<&String> {
    rows.iter()
        .flat_map(|r| r.notes.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}
