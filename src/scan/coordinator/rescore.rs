//! The cascade's second phase: every shortlisted training image is read again from its source
//! (a file, or a tar member by its offset) and embedded with full SSCD unless the cache has
//! it, each generation is embedded with full SSCD too, and each generation is matched over its
//! re-scored shortlist as soon as all of it is ready.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::Coordinator;
use super::neighbours::{cascade_duplicate_count, student_near_duplicates};
use crate::catalog::ImageEntry;
use crate::project::cache::ContentHash;
use crate::ranking::layout::LAYOUT_VIEW;
use crate::ranking::matches::{Side, SkippedFile};
use crate::scan::ScanEvent;
use crate::scan::ScanPhase;
use crate::scan::embedding::{self, EmbeddingRun, Needs, Outcome, RunSettings, Step};
use crate::scan::error::ScanError;
use crate::scan::training::Training;
use crate::scan::workers::Slot;

/// A shortlisted training image.
struct Candidate {
    entry: ImageEntry,
    hash: Option<ContentHash>,
    /// Its full-SSCD embedding, once known; `None` while pending or when it failed.
    vector: Option<Vec<f32>>,
    /// Whether it is settled (embedded, cached, or failed).
    settled: bool,
}

/// A generation waiting for its re-scored shortlist.
struct Waiting {
    generation: usize,
    /// Index keys, best first by the student.
    keys: Vec<u64>,
    /// Its full-SSCD views, once embedded (or `Some(empty)` to read them from the cache).
    views: Option<Vec<(String, Vec<f32>)>>,
    failed: bool,
}

impl Coordinator<'_> {
    /// The training image behind index key `key`, as an entry the workers can read.
    fn candidate(&self, key: u64) -> Result<Option<Candidate>, ScanError> {
        match &self.training {
            Training::Sources { catalogued, .. } => Ok(usize::try_from(key)
                .ok()
                .and_then(|i| catalogued.records.get(i))
                .map(|record| Candidate {
                    entry: record.entry.clone(),
                    hash: record.hash,
                    vector: None,
                    settled: false,
                })),
            Training::Prebuilt(prebuilt) => {
                let Some(row) = prebuilt.rows.row(key)? else {
                    return Ok(None);
                };
                let hash = row.blake3;
                Ok(Some(Candidate {
                    entry: crate::scan::training::row_entry(row),
                    hash: Some(hash),
                    vector: None,
                    settled: false,
                }))
            }
        }
    }

    /// Runs the re-scoring phase when the cascade is on: false when cancelled.
    pub(super) fn rescore(&mut self, cancel: &Arc<AtomicBool>) -> Result<bool, ScanError> {
        let Some(cascade) = &mut self.cascade else {
            return Ok(true);
        };
        let Some(scorer) = cascade.scorer.take() else {
            return Ok(true);
        };
        let shortlists = std::mem::take(&mut cascade.shortlists);
        self.events.send(ScanEvent::Phase(ScanPhase::Rescoring));
        let score_key = self.keys.similarity_key.clone();

        // Each shortlisted training image once, resolved from the cache by content where it
        // can be.
        let mut positions: HashMap<u64, usize> = HashMap::new();
        let mut candidates: Vec<Candidate> = Vec::new();
        for (_, keys) in &shortlists {
            for &key in keys {
                if positions.contains_key(&key) {
                    continue;
                }
                if let Some(candidate) = self.candidate(key)? {
                    positions.insert(key, candidates.len());
                    candidates.push(candidate);
                }
            }
        }
        let shortlisted = candidates.len();
        // Each shortlisted image's near duplicates by the student, embedded with full SSCD
        // too, so that a match's duplicate count is full SSCD's.
        let near = student_near_duplicates(
            &self.training,
            positions.keys().copied().collect::<Vec<_>>(),
        )?;
        for &key in near.values().flatten() {
            if positions.contains_key(&key) {
                continue;
            }
            if let Some(candidate) = self.candidate(key)? {
                positions.insert(key, candidates.len());
                candidates.push(candidate);
            }
        }
        let known = self.cache.embedded_hashes(&score_key, "")?;
        for candidate in &mut candidates {
            if let Some(hash) = candidate.hash.filter(|h| known.contains(h)) {
                candidate.vector = self.cache.vector(&score_key, &hash, "")?;
                candidate.settled = candidate.vector.is_some();
            }
        }
        let mut waiting: Vec<Waiting> = shortlists
            .into_iter()
            .map(|(generation, keys)| Waiting {
                generation,
                keys,
                views: None,
                failed: false,
            })
            .collect();

        // Generations first in each group, then their unsettled candidates, so results come
        // out as the phase goes.
        let mut order: Vec<(Slot, &ImageEntry)> = Vec::new();
        let mut listed: HashSet<usize> = HashSet::new();
        for w in &waiting {
            order.push((
                Slot::Generation(w.generation),
                &self.generations[w.generation].entry,
            ));
            let duplicates = w.keys.iter().flat_map(|key| near.get(key)).flatten();
            for key in w.keys.iter().chain(duplicates) {
                if let Some(&pos) = positions.get(key)
                    && !candidates[pos].settled
                    && listed.insert(pos)
                {
                    order.push((Slot::Training(pos), &candidates[pos].entry));
                }
            }
        }
        let needs = Needs {
            regions: self.regions.coarse,
            sizes: false,
        };
        let mut plan = embedding::plan(&self.cache, &score_key, order.iter().copied(), needs)?;
        let ready = std::mem::take(&mut plan.ready);
        let work = plan.work.len();
        let mut embedded_now = 0;
        let mut outcomes_in = ready;
        let mut run = if work > 0 {
            let settings = RunSettings {
                batch_size: self.options.batch_size,
                decode_threads: self.options.decode_threads,
                already_skipped: self.tally.skipped.len(),
            };
            Some(EmbeddingRun::start(
                plan,
                order.iter().copied(),
                scorer,
                &settings,
                cancel,
            )?)
        } else {
            drop(scorer);
            None
        };
        drop(order);
        loop {
            for outcome in std::mem::take(&mut outcomes_in) {
                embedded_now += self.settle(outcome, &mut candidates, &mut waiting, &score_key)?;
            }
            self.match_rescored(&mut waiting, &candidates, &positions, &near, &score_key)?;
            let Some(active) = run.as_mut() else { break };
            match active.next(&mut self.cache, &score_key, self.events)? {
                Step::Outcomes(outcomes) => outcomes_in = outcomes,
                Step::Done => {
                    if let Some(done) = run.take() {
                        done.finish(&mut self.cache, &score_key)?;
                    }
                }
                Step::Cancelled => return Ok(false),
            }
        }
        let rescored = candidates.iter().filter(|c| c.vector.is_some()).count();
        let duplicate_neighbours = candidates[shortlisted..]
            .iter()
            .filter(|c| c.vector.is_some())
            .count();
        let training_ready = match &self.training {
            Training::Sources { catalogued, .. } => catalogued
                .records
                .iter()
                .filter(|r| r.state == crate::scan::sources::State::Ready)
                .count(),
            Training::Prebuilt(prebuilt) => prebuilt.manifest.rows as usize,
        };
        if let Some(cascade) = &mut self.cascade {
            cascade.summary.rescored = rescored;
            cascade.summary.rescored_embedded = embedded_now;
            cascade.summary.full_embeddings_saved = training_ready.saturating_sub(rescored);
            cascade.summary.duplicate_neighbours = duplicate_neighbours;
        }
        Ok(true)
    }

    /// Takes in one outcome of the phase; returns 1 for a training image embedded now.
    fn settle(
        &mut self,
        outcome: Outcome,
        candidates: &mut [Candidate],
        waiting: &mut [Waiting],
        score_key: &crate::embed::ModelKey,
    ) -> Result<usize, ScanError> {
        match outcome {
            Outcome::Cached { slot, hash, .. } => match slot {
                Slot::Training(pos) => {
                    if let Some(candidate) = candidates.get_mut(pos) {
                        candidate.vector = self.cache.vector(score_key, &hash, "")?;
                        candidate.settled = true;
                    }
                }
                Slot::Generation(i) => {
                    for w in waiting.iter_mut().filter(|w| w.generation == i) {
                        w.views = Some(Vec::new());
                    }
                }
            },
            Outcome::Embedded {
                slot,
                mut views,
                luma,
                ..
            } => match slot {
                Slot::Training(pos) => {
                    if let Some(candidate) = candidates.get_mut(pos) {
                        candidate.vector = views
                            .iter()
                            .position(|(name, _)| name.is_empty())
                            .map(|p| views.swap_remove(p).1);
                        candidate.settled = true;
                        return Ok(1);
                    }
                }
                Slot::Generation(i) => {
                    views.push((LAYOUT_VIEW.to_string(), luma));
                    if let Some(w) = waiting.iter_mut().find(|w| w.generation == i) {
                        w.views = Some(views);
                    }
                }
            },
            Outcome::Failed { slot, reason } => match slot {
                Slot::Training(pos) => {
                    if let Some(candidate) = candidates.get_mut(pos) {
                        candidate.settled = true;
                        let file = SkippedFile {
                            side: Side::Training,
                            path: candidate.entry.rel_path.clone(),
                            reason: format!(
                                "shortlisted but could not be read again for re-scoring: {reason}"
                            ),
                        };
                        self.events.send(ScanEvent::Skipped(file.clone()));
                        self.tally.notes.push(file);
                    }
                }
                Slot::Generation(i) => {
                    for w in waiting.iter_mut().filter(|w| w.generation == i) {
                        w.failed = true;
                    }
                    self.fail(Slot::Generation(i), reason);
                }
            },
        }
        Ok(0)
    }

    /// Matches each waiting generation whose views and shortlist are all settled.
    fn match_rescored(
        &mut self,
        waiting: &mut Vec<Waiting>,
        candidates: &[Candidate],
        positions: &HashMap<u64, usize>,
        near: &HashMap<u64, Vec<u64>>,
        score_key: &crate::embed::ModelKey,
    ) -> Result<(), ScanError> {
        let settings = self.match_settings();
        let mut still = Vec::with_capacity(waiting.len());
        for w in std::mem::take(waiting) {
            if w.failed {
                continue;
            }
            let duplicates = w.keys.iter().flat_map(|key| near.get(key)).flatten();
            let settled = w.views.is_some()
                && w.keys.iter().chain(duplicates).all(|key| {
                    positions
                        .get(key)
                        .is_none_or(|&pos| candidates[pos].settled)
                });
            if !settled {
                still.push(w);
                continue;
            }
            let views = match w.views {
                Some(views) if !views.is_empty() => views,
                _ => match self.generations[w.generation].hash {
                    Some(hash) => self.cache.views(score_key, &hash)?,
                    None => Vec::new(),
                },
            };
            let vectors: Vec<(u64, Vec<f32>)> = w
                .keys
                .iter()
                .filter_map(|key| {
                    let pos = positions.get(key)?;
                    candidates[*pos].vector.clone().map(|v| (*key, v))
                })
                .collect();
            let dims = views
                .iter()
                .find(|(name, _)| name.is_empty())
                .map_or(0, |(_, v)| v.len());
            let index = self.options.store.exact(dims, vectors)?;
            if let Some(matched) = self.match_views(&views, index.as_ref(), settings)? {
                let full_vector = |key: u64| {
                    positions
                        .get(&key)
                        .and_then(|&pos| candidates[pos].vector.as_deref())
                };
                for key in matched.matches.iter().filter_map(|m| m.training_key) {
                    let count = cascade_duplicate_count(key, near, &full_vector);
                    self.state.neighbours.counts.entry(key).or_insert(count);
                }
                self.emit(w.generation, matched);
            }
        }
        *waiting = still;
        Ok(())
    }
}
