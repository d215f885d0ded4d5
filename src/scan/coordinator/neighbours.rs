//! What the scan learns of the training side beyond each match: the training images' mean
//! embedding (for centred ranking) and each matched training image's duplicate count.

use std::collections::HashMap;

use rayon::prelude::*;

use crate::embed::ModelKey;
use crate::project::cache::EmbeddingCache;
use crate::ranking::cascade::near_duplicates_by_student;
use crate::ranking::matches::DUPLICATE_NEIGHBOURS;
use crate::ranking::matches::DUPLICATE_SIMILARITY;
use crate::scan::error::ScanError;
use crate::scan::sources::State;
use crate::scan::training::Training;

/// What the scan has learnt of its training side: the mean embedding, once asked for, and
/// each training image's duplicate count, once counted (by index key).
#[derive(Default)]
pub(super) struct TrainingNeighbours {
    /// The mean of the training images' whole-image embeddings (when ranking centres on it).
    pub(super) mean: Option<Vec<f32>>,
    /// Duplicate counts of training images already counted, by index key.
    pub(super) counts: HashMap<u64, Option<usize>>,
}

impl TrainingNeighbours {
    /// The mean of the training images' whole-image embeddings (`model_key`'s, from the
    /// cache), once; only when `wanted` (ranking centres on it; the scan's own training images,
    /// since a prebuilt index has none).
    pub(super) fn ensure_mean(
        &mut self,
        wanted: bool,
        training: &Training,
        cache: &EmbeddingCache,
        model_key: &ModelKey,
    ) -> Result<(), ScanError> {
        if !wanted || self.mean.is_some() {
            return Ok(());
        }
        let mut sum: Vec<f64> = Vec::new();
        let mut n = 0usize;
        for record in training.records() {
            let Some(hash) = record.hash.filter(|_| record.state == State::Ready) else {
                continue;
            };
            if let Some(vector) = cache.vector(model_key, &hash, "")? {
                sum.resize(vector.len(), 0.0);
                for (s, v) in sum.iter_mut().zip(&vector) {
                    *s += f64::from(*v);
                }
                n += 1;
            }
        }
        if n > 0 {
            self.mean = Some(sum.iter().map(|s| (s / n as f64) as f32).collect());
        }
        Ok(())
    }

    /// How many other training images are within [`DUPLICATE_SIMILARITY`] of the training
    /// image with index key `key`: its nearest [`DUPLICATE_NEIGHBOURS`] at or above it, less
    /// itself (so byte-identical copies count), from the vector the index stores (the
    /// project's own index or a prebuilt one). With the cascade (`cascade`), whose index holds
    /// the student's embeddings, the re-scoring phase counts them (see
    /// [`student_near_duplicates`]) before a match is emitted.
    pub(super) fn duplicate_count(
        &mut self,
        training: &Training,
        cascade: bool,
        key: u64,
    ) -> Option<usize> {
        if let Some(known) = self.counts.get(&key) {
            return *known;
        }
        let count = if cascade {
            None
        } else {
            training
                .index()
                .and_then(|index| count_in_index(index, key))
        };
        self.counts.insert(key, count);
        count
    }

    /// Counts the duplicates of every one of `keys` not counted yet, on all cores (each is
    /// a search as costly as matching a generation; see [`Self::duplicate_count`]).
    pub(super) fn count_duplicates(
        &mut self,
        training: &Training,
        cascade: bool,
        keys: impl IntoIterator<Item = u64>,
    ) {
        if cascade {
            return;
        }
        let Some(index) = training.index() else {
            return;
        };
        let mut todo: Vec<u64> = keys
            .into_iter()
            .filter(|key| !self.counts.contains_key(key))
            .collect();
        todo.sort_unstable();
        todo.dedup();
        let counted: Vec<(u64, Option<usize>)> = todo
            .par_iter()
            .map(|&key| (key, count_in_index(index, key)))
            .collect();
        self.counts.extend(counted);
    }
}

/// For each of `keys` (shortlisted training images), its near duplicates by the student
/// among its nearest [`DUPLICATE_NEIGHBOURS`] ([`near_duplicates_by_student`]): the images
/// the cascade embeds with full SSCD too, so that a match's duplicate count is full SSCD's.
pub(super) fn student_near_duplicates(
    training: &Training,
    keys: impl IntoIterator<Item = u64>,
) -> Result<HashMap<u64, Vec<u64>>, ScanError> {
    let mut near = HashMap::new();
    let Some(index) = training.index() else {
        return Ok(near);
    };
    for key in keys {
        if near.contains_key(&key) {
            continue;
        }
        let neighbours = match index.vector(key)? {
            Some(vector) => {
                let hits = index.search(&vector, DUPLICATE_NEIGHBOURS + 1)?;
                near_duplicates_by_student(key, &hits).collect()
            }
            None => Vec::new(),
        };
        near.insert(key, neighbours);
    }
    Ok(near)
}

/// The duplicate count of training image `key` from the vector `index` stores (see
/// [`TrainingNeighbours::duplicate_count`]).
fn count_in_index(index: &dyn crate::index::TrainingIndex, key: u64) -> Option<usize> {
    let vector = index.vector(key).ok()??;
    let hits = index.search(&vector, DUPLICATE_NEIGHBOURS + 1).ok()?;
    let close = hits
        .iter()
        .filter(|h| h.similarity >= DUPLICATE_SIMILARITY)
        .count();
    Some(close.saturating_sub(1))
}

/// Full SSCD's duplicate count of training image `key` in the cascade: how many of its
/// student near duplicates `near` have a full-SSCD embedding (`full_vector`) within
/// [`DUPLICATE_SIMILARITY`] of its own; `None` without its own.
pub(super) fn cascade_duplicate_count<'a>(
    key: u64,
    near: &HashMap<u64, Vec<u64>>,
    full_vector: &dyn Fn(u64) -> Option<&'a [f32]>,
) -> Option<usize> {
    let own = full_vector(key)?;
    Some(
        near.get(&key)
            .into_iter()
            .flatten()
            .filter_map(|&n| full_vector(n))
            .filter(|v| crate::embed::cosine(v, own) >= DUPLICATE_SIMILARITY)
            .count(),
    )
}
