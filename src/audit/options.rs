//! What the report is asked for, and why it cannot be made.

/// What the report is asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditOptions {
    /// The threshold of the rates; `None`: the one the project's scan used (0.5 for a scan
    /// from before settings were recorded).
    pub threshold: Option<f32>,
    /// The precision the calibrated threshold must reach.
    pub target_precision: f64,
    /// Training images sampled for the baseline (all when fewer).
    pub baseline_sample: usize,
    /// The sampling seed, recorded in the report.
    pub seed: u64,
    /// Where a prebuilt training index is opened, and exact indexes are made.
    pub store: crate::index::VectorStore,
    /// The models the baseline may run (the cascade's full model re-scores its shortlists).
    pub models: crate::embed::registry::Models,
    /// The least number of generations a prompt phrase must be used by to be tested.
    pub min_phrase_generations: usize,
}

impl Default for AuditOptions {
    fn default() -> Self {
        Self {
            threshold: None,
            target_precision: 0.9,
            baseline_sample: 1_000,
            seed: 12_345,
            store: crate::index::VectorStore::default(),
            models: crate::embed::registry::Models::default(),
            min_phrase_generations: crate::prompts::analysis::DEFAULT_MIN_GENERATIONS,
        }
    }
}

/// Why a report cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The project cannot be opened.
    #[error(transparent)]
    Project(#[from] crate::project::ProjectError),
    /// The last scan cannot be read.
    #[error(transparent)]
    LastScan(#[from] crate::project::last_scan::LastScanError),
    /// The project has not been scanned.
    #[error("{0} has no scan results yet; run `replicant scan --project {0}` first")]
    NotScanned(String),
    /// The cache failed.
    #[error(transparent)]
    Cache(#[from] crate::project::cache::CacheError),
    /// The review store failed.
    #[error(transparent)]
    Review(#[from] crate::review::ReviewError),
    /// The index failed.
    #[error(transparent)]
    Index(#[from] crate::index::IndexError),
    /// The baseline could not be sampled.
    #[error("the training-against-training baseline could not be sampled: {0}")]
    Baseline(String),
}
