//! The evidence report's numbers, as written to `report.json` and drawn in `report.html`
//! (see [`crate::audit`] for how each is computed).

use crate::stats::{Calibration, CopyRateEstimate, Percentiles, PrPoint, Rate};

/// Everything `replicant report` writes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AuditReport {
    /// Generations in the last scan.
    pub generations: usize,
    /// Training images in the last scan's index.
    pub training_images: usize,
    /// The threshold the rates use.
    pub threshold: f32,
    /// Where the threshold came from: the scan's, given to the report, or the default.
    #[serde(default)]
    pub threshold_source: String,
    /// Generations whose highest similarity among their matches reaches the threshold.
    pub replication_rate: Rate,
    /// Generations whose highest similarity reaches 0.95.
    pub duplicate_rate: Rate,
    /// The training-against-training baseline; `None` (with `baseline_unavailable`) when the
    /// project's training embeddings cannot give one.
    pub baseline: Option<Baseline>,
    /// Why there is no baseline, when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_unavailable: Option<String>,
    /// Duplicate counts of the replicated matches' training images against all's.
    pub duplicate_counts: Option<DuplicateCounts>,
    /// The reviewers' labels.
    pub labels: LabelSummary,
    /// The calibrated threshold from final labels.
    pub calibration: Calibration,
    /// The precision-recall curve of the labelled pairs, highest similarity first.
    pub pr_curve: Vec<PrPoint>,
    /// The true copy rate among all generations, estimated band by band from labels.
    pub estimated_copy_rate: Option<CopyRateEstimate>,
    /// Each generation's highest similarity (the histogram's data).
    pub generation_top1: Vec<f32>,
    /// The highest-similarity pairs, for the page.
    pub top_pairs: Vec<TopPair>,
    /// The phrases of the generations' prompts, sorted by how strongly their use goes with
    /// copying (one-sided Fisher's exact test; see [`crate::prompts::analysis`]).
    #[serde(default)]
    pub prompt_phrases: Vec<crate::prompts::analysis::PhraseStat>,
    /// How `prompt_phrases` were counted, the top phrases in the training captions, and the
    /// generations made from sampled captions by what they copy.
    #[serde(default)]
    pub prompts: crate::prompts::analysis::PromptSide,
    /// Where every number comes from.
    pub provenance: Provenance,
}

/// The paper's baseline: each sampled training image's highest similarity to another
/// training image, beside each generation's highest similarity to a training image.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Baseline {
    /// Training images sampled.
    pub sample: usize,
    /// The sampling seed.
    pub seed: u64,
    /// How each sampled image's neighbours were found, when not by a search of full SSCD
    /// embeddings (a project scanned with the shortlist cascade).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Percentiles of the training-against-training top-1 similarity.
    pub train_train: Percentiles,
    /// Percentiles of the generation-against-training top-1 similarity.
    pub generation_train: Option<Percentiles>,
    /// The sampled training images' top-1 similarities (the histogram's data).
    pub train_top1: Vec<f32>,
}

/// How often the training images behind replicated matches are duplicated in the training
/// set, against training images at large (the paper: 34.1 against 11.6 copies on average).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DuplicateCounts {
    /// Mean duplicate count over the matches at or above the threshold.
    pub replicated_mean: Option<f64>,
    /// Mean duplicate count over the baseline's sample of training images.
    pub all_mean: Option<f64>,
    /// Bootstrap 95% interval of `replicated_mean`.
    pub ci95: Option<[f64; 2]>,
    /// Bootstrap 95% interval of `all_mean`.
    pub all_ci95: Option<[f64; 2]>,
    /// Matches counted.
    pub replicated_matches: usize,
    /// Duplicates are counted among this many nearest neighbours: a count equal to it is a
    /// lower bound.
    pub neighbours_searched: usize,
}

/// The labels in the project.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct LabelSummary {
    /// Everyone who labelled.
    pub reviewers: Vec<String>,
    /// Pairs by final label (`full_copy`, `near_copy`, `distinct`).
    pub counts: std::collections::BTreeMap<String, usize>,
    /// Pairs of the last scan with at least one reviewer's label.
    #[serde(default)]
    pub labelled_pairs: usize,
    /// Labels on those pairs (a pair labelled by two reviewers counts twice).
    #[serde(default)]
    pub labels: usize,
    /// Labelled pairs that are not among the last scan's (an earlier scan of other folders
    /// found them): left out of every count here.
    #[serde(default)]
    pub left_out_pairs: usize,
    /// Labels on those pairs.
    #[serde(default)]
    pub left_out_labels: usize,
    /// Pairs labelled by two reviewers or more.
    pub double_reviewed: usize,
    /// Pairs whose reviewers disagree and that no one has adjudicated (no final label yet).
    #[serde(default)]
    pub disagreements: usize,
    /// Pairs adjudicated (their final label is the adjudicator's).
    #[serde(default)]
    pub adjudicated: usize,
    /// Cohen's kappa of each pair of reviewers on the pairs both labelled.
    pub cohen_kappa: Vec<PairwiseKappa>,
    /// Fleiss' kappa over the pairs every reviewer labelled.
    pub fleiss_kappa: Option<f64>,
    /// Every reviewer's label on every pair.
    pub pairs: Vec<LabelledPair>,
    /// Each pair's final label (the one its reviewers agree on), as the calibration and the
    /// copy-rate estimate use them.
    #[serde(default)]
    pub final_pairs: Vec<LabelledPair>,
}

/// Cohen's kappa of two reviewers.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PairwiseKappa {
    /// One reviewer.
    pub a: String,
    /// The other.
    pub b: String,
    /// Their kappa (`None` when undefined).
    pub kappa: Option<f64>,
    /// Pairs both labelled.
    pub n: usize,
}

/// One labelled pair.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LabelledPair {
    /// The generation's name.
    pub generation: String,
    /// The training image's name.
    pub training: String,
    /// SSCD similarity when labelled.
    pub similarity: f32,
    /// The label.
    pub label: String,
    /// Who gave it.
    pub reviewer: String,
    /// When.
    pub labelled_at: String,
}

/// One of the highest-similarity pairs.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TopPair {
    /// The generation's name.
    pub generation: String,
    /// The generation's file.
    pub generation_path: std::path::PathBuf,
    /// The training image's name.
    pub training: String,
    /// Where its bytes are.
    pub training_path: crate::catalog::ImageLocation,
    /// img2dataset's key and URL of the training image's sample, for a shard member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_url: Option<String>,
    /// SSCD similarity.
    pub similarity: f32,
    /// Its final label, if any.
    pub label: Option<String>,
    /// Each reviewer's label (a pair whose reviewers disagree has labels but no final one).
    #[serde(default)]
    pub reviewers: std::collections::BTreeMap<String, String>,
}

/// Where the numbers come from.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Provenance {
    /// The model key of the similarities (model, hash prefix, preprocessing).
    pub model_key: crate::embed::ModelKey,
    /// The model file, when found.
    pub model_file: Option<String>,
    /// blake3 of the model file.
    pub model_blake3: Option<String>,
    /// The ONNX Runtime library, when found.
    pub onnxruntime: Option<String>,
    /// How images are prepared for the model.
    pub preprocessing: String,
    /// The training index: the project's own (exact or approximate search) or a prebuilt one.
    pub index: String,
    /// The generations' folder.
    pub generations: String,
    /// blake3 over the generations' content hashes, sorted.
    pub generations_blake3: String,
    /// The training sources, or the prebuilt index.
    pub training: Vec<String>,
    /// blake3 over the training images' content hashes, sorted (when known).
    pub training_blake3: Option<String>,
    /// Replicant's version.
    pub replicant_version: String,
    /// When the report was made (RFC 3339, UTC).
    pub created_at: String,
    /// The model files' licences, as their package ships them.
    pub licences: Vec<String>,
    /// How the scan was run (absent for a scan from before settings were recorded).
    #[serde(default)]
    pub settings: Option<crate::ranking::matches::ScanSettings>,
}
