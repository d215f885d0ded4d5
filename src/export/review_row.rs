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
}
