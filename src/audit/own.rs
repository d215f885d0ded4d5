//! The baseline from the project's own training images: every catalogued image's full-SSCD
//! vector from the cache, searched exactly.

use std::collections::{BTreeSet, HashMap};

use crate::audit::baseline::{
    BaselineOutcome, Input, RESAMPLES, TrainingBaseline, TrainingFigures, sample_baseline,
    searched_in,
};
use crate::audit::options::{AuditError, AuditOptions};
use crate::export::report::{Baseline, DuplicateCounts};
use crate::index::{IndexStore, TrainingIndex};
use crate::project::Project;
use crate::project::cache::{ContentHash, EmbeddingCache};
use crate::project::last_scan::LastScan;
use crate::ranking::matches::{DUPLICATE_NEIGHBOURS, DUPLICATE_SIMILARITY, Side};
use crate::scan::sources::catalogue;
use crate::stats;

/// The project's own training vectors (not after a cascade scan: its cache holds the
/// student's for most training images).
pub(crate) struct OwnVectors;

impl TrainingBaseline for OwnVectors {
    fn figures(&self, input: &Input<'_>) -> Result<BaselineOutcome, AuditError> {
        let Input {
            project,
            cache,
            last,
            generation_top1,
            threshold,
            options,
        } = *input;
        if last.cascade.is_some() {
            return Ok(BaselineOutcome::NotMine(
                "the last scan ran the shortlist cascade".to_string(),
            ));
        }
        let side = match training_vectors(project, cache, &last.model_key, &*options.store) {
            Ok(side) => side,
            Err(why) => return Ok(BaselineOutcome::NotMine(why)),
        };
        let (baseline, all_counts) = own_baseline(&side, generation_top1, options)?;
        Ok(BaselineOutcome::Figures(Box::new(TrainingFigures {
            baseline: Some(baseline),
            unavailable: None,
            counts: Some(duplicate_counts(
                &side,
                last,
                cache,
                threshold,
                &all_counts,
                options,
            )?),
            training_blake3: Some(side.content_hash()),
            index_text: side.describe(""),
            training_images: side.keys.len(),
        })))
    }
}

/// The training images' whole-image vectors and content hashes, by catalogue position.
pub(crate) struct TrainingSide {
    /// Catalogue positions, one per image, ascending; the vectors are kept once, in `index`.
    pub(crate) keys: Vec<u64>,
    pub(crate) hashes: Vec<ContentHash>,
    /// Where each image is, to read it again.
    pub(crate) entries: Vec<crate::catalog::ImageEntry>,
    pub(crate) index: Box<dyn TrainingIndex>,
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
    model_key: &crate::embed::ModelKey,
    store: &dyn IndexStore,
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
    let mut index: Option<Box<dyn TrainingIndex>> = None;
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
            let exact = match &mut index {
                Some(exact) => exact,
                None => index.insert(
                    store
                        .exact(vector.len(), Vec::new())
                        .map_err(|e| e.to_string())?,
                ),
            };
            exact.add(i as u64, &vector).map_err(|e| e.to_string())?;
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
fn own_baseline(
    side: &TrainingSide,
    generation_top1: &[f32],
    options: &AuditOptions,
) -> Result<(Baseline, Vec<f64>), AuditError> {
    sample_baseline(
        &side.keys,
        &searched_in(side.index.as_ref()),
        &|key| side.index.vector(key).map_err(|e| e.to_string()),
        &|key| Ok(side.hash(key)),
        generation_top1,
        options,
    )
    .map_err(AuditError::Baseline)
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
