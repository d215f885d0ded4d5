//! The scan engine: embeds both folders and matches each generation against the training
//! set, with typed progress events, cancellation and caches. The desk, the command line and
//! the tests all drive the engine through [`start_scan`].
//!
//! Threads: the scan's coordinator runs on `replicant-scan`; decoding and resizing run on a
//! rayon pool (`replicant-decode-N`) over all cores; one `replicant-inference` thread owns the
//! ONNX Runtime session. They talk through bounded channels, so memory stays flat whatever
//! the folder size. Dropping the [`ScanHandle`] cancels the scan.

mod coordinator;
pub mod embedding;
pub mod error;
pub mod events;
pub mod sources;
pub mod training;
pub mod workers;

pub use error::ScanError;
pub use sources::{FILES_PER_UNIT, UnitId};

use std::path::PathBuf;

pub use crate::embed::registry::Models;
use crate::index::{Dtype, VectorStore};
use crate::ranking::matches::{GenerationMatches, SkippedFile, TruncatedShard};

use crate::embed::request::ModelRequest;
use crate::jobs::{Job, Waker};
use crate::ranking::{cascade, regions};

/// Everything a scan needs to know.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// The folder of generated images.
    pub generations: PathBuf,
    /// One or more training sources: folders, folders of tar shards, or `.tar` shards. Empty
    /// when `training_index` is given.
    pub training: Vec<PathBuf>,
    /// A prebuilt training index (`replicant index build`) to match against instead of
    /// embedding training sources.
    pub training_index: Option<PathBuf>,
    /// The project folder; `None` for the default one under the data folder.
    pub project_dir: Option<PathBuf>,
    /// Which model, and where its runtime is.
    pub model: ModelRequest,
    /// Images per inference batch (0: chosen by where inference runs, see
    /// `workers::auto_batch_size`).
    pub batch_size: usize,
    /// How the project's own training index stores vectors.
    pub dtype: Dtype,
    /// Decoding threads (0: one per core).
    pub decode_threads: usize,
    /// How generations are matched and ranked.
    pub matching: MatchOptions,
    /// Whether the shortlist cascade runs, and its size (see [`cascade`]).
    pub shortlist: cascade::Shortlist,
    /// The preset these options follow (`somepalli-2022`), recorded in the settings.
    pub preset: Option<String>,
    /// Where the training index is made and opened.
    pub store: VectorStore,
    /// The models the scan may run: names, files, the cascade's student, loading.
    pub models: Models,
    /// A prompt set (`replicant prompts sample`): each generation named after one of its ids
    /// (or given one beside it) is linked to that prompt and its caption's training image.
    pub prompt_set: Option<PathBuf>,
}

/// How a scan matches and ranks generations: the match phase's options, one value.
#[derive(Debug, Clone)]
pub struct MatchOptions {
    /// Matches kept per generation.
    pub top_k: usize,
    /// Top-1 similarity at or above which a generation counts as a likely copy.
    pub threshold: f32,
    /// Whether generations are matched by region too.
    pub regions: regions::RegionMode,
    /// Whether each generation's candidates are ranked by layout agreement too (see
    /// [`crate::ranking::layout`]); off ranks by SSCD similarity alone.
    pub layout_rerank: bool,
    /// Whether candidates are ranked after centring embeddings on the training mean (a
    /// repaint lever, measured: docs/scanning.md, "Repainted copies").
    pub centring: bool,
    /// The re-rank's layout weight and pool (the defaults, unless tuning them).
    pub ranking: crate::ranking::layout::Ranking,
    /// The coarse region windows' plan (the defaults, unless tuning them).
    pub region_plan: regions::RegionPlan,
    /// The fine region windows' plan, searched in generations the coarse pass left below the
    /// threshold; `None` searches none.
    pub fine_plan: Option<regions::RegionPlan>,
}

impl Default for MatchOptions {
    /// The defaults of `replicant scan`.
    fn default() -> Self {
        Self {
            top_k: 5,
            threshold: DEFAULT_THRESHOLD,
            regions: regions::RegionMode::Auto,
            layout_rerank: true,
            centring: false,
            ranking: crate::ranking::layout::Ranking::default(),
            region_plan: regions::RegionPlan::default(),
            fine_plan: Some(regions::RegionPlan::fine()),
        }
    }
}

impl ScanOptions {
    /// Options with the defaults of `replicant scan` for these folders.
    pub fn new(generations: PathBuf, training: Vec<PathBuf>) -> Self {
        Self {
            generations,
            training,
            training_index: None,
            project_dir: None,
            model: ModelRequest::default(),
            batch_size: 0,
            dtype: Dtype::F16,
            decode_threads: 0,
            matching: MatchOptions::default(),
            shortlist: cascade::Shortlist::default(),
            preset: None,
            store: VectorStore::default(),
            models: Models::default(),
            prompt_set: None,
        }
    }

    /// These options set to the replication paper's protocol (Somepalli et al. 2022) as
    /// closely as this model allows: SSCD's global descriptor alone (no region windows, no
    /// layout re-rank, no cascade), top-1 threshold 0.5, and images loaded as PIL's
    /// `convert('RGB')` loads them (transparency dropped, not composited). What still differs
    /// is the model file: the int8 `disc_mixup` export against the paper's float one.
    pub fn with_somepalli_2022(mut self) -> Self {
        self.preset = Some(SOMEPALLI_2022.to_string());
        self.matching.regions = regions::RegionMode::Off;
        self.matching.layout_rerank = false;
        self.matching.centring = false;
        self.shortlist.mode = cascade::ShortlistMode::Off;
        self.matching.threshold = DEFAULT_THRESHOLD;
        // The paper's descriptor, SSCD, is the registry's default.
        self.model.choice = crate::embed::ModelChoice::default();
        self.model.overrides.alpha = crate::decode::Alpha::DropAlpha;
        self
    }
}

/// The name of the replication paper's protocol as a preset.
pub const SOMEPALLI_2022: &str = "somepalli-2022";

/// What the scan is doing now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanPhase {
    /// Walking the folders.
    Cataloguing,
    /// Finding and loading the model and its runtime.
    LoadingModel,
    /// Decoding and embedding images.
    Embedding,
    /// Building the training index.
    Indexing,
    /// The shortlist cascade: re-reading each generation's shortlist and re-scoring it with
    /// full SSCD.
    Rescoring,
    /// Embedding fine windows of the generations still without a match at the threshold.
    FineWindows,
}

/// Counts for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Progress {
    /// Images finished (embedded, found in the cache by content, or skipped).
    pub done: usize,
    /// Images to finish (those not already cached by path).
    pub total: usize,
    /// Embedding rate so far.
    pub images_per_sec: f64,
    /// Estimated seconds left, once a rate is known.
    pub eta_secs: Option<f64>,
    /// Files skipped so far.
    pub skipped: usize,
}

/// The final report of a scan.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ScanSummary {
    /// Generations scanned (skipped ones not counted).
    pub generations: usize,
    /// Training images indexed.
    pub training_images: usize,
    /// Files that could not be used, with reasons.
    pub skipped: Vec<SkippedFile>,
    /// Notes about files that were still scanned (odd names, metadata problems).
    pub notes: Vec<SkippedFile>,
    /// Tar shards that ended early (their members before the cut were scanned).
    pub truncated_shards: Vec<TruncatedShard>,
    /// Images embedded by this scan.
    pub embedded: usize,
    /// Images whose embedding came from the cache.
    pub cached: usize,
    /// The threshold used.
    pub threshold: f32,
    /// Generations whose top-1 similarity is at or above the threshold.
    pub at_or_above_threshold: usize,
    /// Generations whose top-1 similarity is at or above 0.95 (duplicates).
    pub duplicates: usize,
    /// Wall time of the whole scan.
    pub elapsed_secs: f64,
    /// Images (both folders) per second of wall time.
    pub images_per_sec: f64,
    /// The model key of the reported similarities.
    pub model_key: crate::embed::ModelKey,
    /// What the shortlist cascade did; `None` when it did not run.
    pub cascade: Option<cascade::CascadeSummary>,
    /// Where inference ran ("CPU" or "CUDA").
    pub execution_provider: String,
    /// Whether search was exhaustive.
    pub exact_search: bool,
    /// Whether generations were matched by region too.
    pub regions: bool,
    /// Generations searched with fine windows too (those the whole image and the coarse
    /// windows left below the threshold).
    #[serde(default)]
    pub fine_windows: usize,
    /// Region windows not searched because they are one flat colour (summed over the
    /// generations' final matching; see [`blank`]).
    #[serde(default)]
    pub blank_windows: usize,
    /// Generations whose regions match two or more training images at or above the threshold.
    pub collages: usize,
    /// With a prompt set: the generations linked to it, by whether they copy their own
    /// caption's training image, another one, or nothing (at the threshold).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_sources: Option<crate::prompts::analysis::SourceSplit>,
    /// The prebuilt training index matched against, if one was given.
    #[serde(with = "crate::fsutil::serde_path::option")]
    pub training_index: Option<PathBuf>,
    /// Why the results could not be saved in the project (the desk, `label` and `export`
    /// cannot use them then); `None` when they were.
    pub save_error: Option<String>,
    /// The project folder.
    #[serde(with = "crate::fsutil::serde_path")]
    pub project_dir: PathBuf,
    /// How the scan was run, as asked and as decided.
    pub settings: crate::ranking::matches::ScanSettings,
}

impl ScanSummary {
    /// The share of generations at or above the threshold (the replication rate).
    pub fn replication_rate(&self) -> f64 {
        if self.generations == 0 {
            0.0
        } else {
            self.at_or_above_threshold as f64 / self.generations as f64
        }
    }

    /// The share of generations at or above 0.95.
    pub fn duplicate_rate(&self) -> f64 {
        if self.generations == 0 {
            0.0
        } else {
            self.duplicates as f64 / self.generations as f64
        }
    }
}

pub use crate::ranking::matches::{DEFAULT_THRESHOLD, DUPLICATE_SIMILARITY};

/// Events a scan sends, in order: phases and counts, then results as they are ready, then
/// exactly one of `Finished`, `Failed` or `Cancelled`.
#[derive(Debug, Clone)]
pub enum ScanEvent {
    /// A new phase began.
    Phase(ScanPhase),
    /// The folders were walked.
    Catalogued {
        /// Generations found.
        generations: usize,
        /// Training images found.
        training: usize,
        /// Images that need reading (not cached by path).
        to_process: usize,
    },
    /// Every generation found, before any is matched, so a reviewer sees them all from the
    /// start (each is pending until its `Generation` event).
    Listed(Vec<PendingGeneration>),
    /// A line for the log ("running on CPU", "index loaded from ...").
    Info(String),
    /// Progress of the embedding phase.
    Progress(Progress),
    /// A file was skipped (or a note about one that was scanned).
    Skipped(SkippedFile),
    /// One generation's matches.
    Generation(Box<GenerationMatches>),
    /// The scan ended.
    Finished(Box<ScanSummary>),
    /// The scan could not go on.
    Failed(String),
    /// The scan was cancelled.
    Cancelled,
}

/// A generation found by a scan, before its matches.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingGeneration {
    /// Its name (as in results).
    pub generation: String,
    /// The file.
    pub generation_path: PathBuf,
    /// Its prompt from a sidecar or metadata file (a PNG's own is read when it is embedded).
    pub prompt: Option<String>,
}

/// A running scan: its events end with `Finished`, `Cancelled` or `Failed`. Dropping it
/// cancels the scan; its threads stop after the batch in hand.
pub type ScanHandle = Job<ScanEvent>;

/// Starts a scan on a named thread; events arrive on the handle's channel.
pub fn start_scan(options: ScanOptions, waker: Option<Waker>) -> ScanHandle {
    Job::spawn("replicant-scan", 1024, waker, move |events| {
        coordinator::run(&options, events, events.cancel_flag());
    })
    .unwrap_or_else(|why| Job::ended(vec![ScanEvent::Failed(why)], Some(())))
}
