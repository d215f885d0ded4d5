//! The cascade's second phase: every shortlisted training image is read again from its source
//! (a file, or a tar member by its offset) and embedded with full SSCD unless the cache has
//! it, each generation is embedded with full SSCD too, and each generation is matched over its
//! re-scored shortlist as soon as all of it is ready.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::neighbours::{cascade_duplicate_count, student_near_duplicates};
use crate::catalog::ImageEntry;
use crate::embed::{Embedder, ModelKey};
use crate::project::cache::{ContentHash, EmbeddingCache};
use crate::ranking::layout::LAYOUT_VIEW;
use crate::ranking::matches::{Side, SkippedFile};
use crate::ranking::matching::{MatchSettings, Matched, search_views};
use crate::ranking::regions::RegionChoice;
use crate::scan::ScanOptions;
use crate::scan::embedding::{self, EmbeddingRun, Needs, Outcome, RunSettings, Step};
use crate::scan::error::ScanError;
use crate::scan::events::EventSink;
use crate::scan::training::Training;
use crate::scan::workers::Slot;

/// What the re-scoring phase reads and writes.
pub(super) struct Inputs<'a> {
    pub(super) options: &'a ScanOptions,
    pub(super) events: &'a EventSink,
    pub(super) cache: &'a mut EmbeddingCache,
    pub(super) training: &'a Training,
    /// The training index's model (the student): its layout thumbnails name the matches.
    pub(super) index_key: &'a ModelKey,
    /// Full SSCD: the model that re-scores.
    pub(super) score_key: &'a ModelKey,
    pub(super) regions: RegionChoice,
    /// How matches are ranked (centring is off with the cascade, so no mean is needed).
    pub(super) settings: MatchSettings,
    /// The training side's structure index: its candidates were shortlisted, and are kept
    /// in the pool whatever their re-scored similarity.
    pub(super) structure: Option<&'a dyn crate::index::TrainingIndex>,
    /// Files skipped before this phase, so that its progress counts on from them.
    pub(super) already_skipped: usize,
}

/// A generation and its shortlist by the student.
pub(super) struct Shortlisted {
    pub(super) generation: usize,
    pub(super) entry: ImageEntry,
    pub(super) hash: Option<ContentHash>,
    /// Index keys, best first by the student.
    pub(super) keys: Vec<u64>,
}

/// What the phase gives out as it goes.
pub(super) enum Rescored {
    /// A generation matched over its re-scored shortlist, with full SSCD's duplicate count of
    /// each matched training image.
    Matched {
        generation: usize,
        matched: Matched,
        duplicate_counts: Vec<(u64, Option<usize>)>,
    },
    /// A generation that could not be read again.
    Failed { generation: usize, reason: String },
    /// A shortlisted training image that could not be read again.
    Note(SkippedFile),
}

/// What the phase counted, for the cascade's summary.
pub(super) struct Counts {
    /// Shortlisted training images (and their near duplicates) with a full-SSCD embedding.
    pub(super) rescored: usize,
    /// Of those, embedded by this phase (the rest came from the cache).
    pub(super) embedded: usize,
    /// Near duplicates embedded for the duplicate counts.
    pub(super) duplicate_neighbours: usize,
}

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
    shortlisted: Shortlisted,
    /// Its full-SSCD views, once embedded (or `Some(empty)` to read them from the cache).
    views: Option<Vec<(String, Vec<f32>)>>,
    failed: bool,
}

/// The phase's state: the shortlisted training images, each once, and the generations
/// waiting for them.
struct Rescoring {
    candidates: Vec<Candidate>,
    /// Each candidate's position in `candidates`, by index key.
    positions: HashMap<u64, usize>,
    /// Each shortlisted training image's near duplicates by the student.
    near: HashMap<u64, Vec<u64>>,
    /// Candidates from the shortlists themselves (the rest are their near duplicates).
    shortlisted: usize,
    waiting: Vec<Waiting>,
}

/// Runs the re-scoring phase over `shortlists` with `scorer` (full SSCD), giving out each
/// generation's matches through `out` as soon as its shortlist is re-scored; `None` when
/// cancelled.
pub(super) fn rescore(
    inputs: Inputs<'_>,
    scorer: Box<dyn Embedder>,
    shortlists: Vec<Shortlisted>,
    out: &mut dyn FnMut(Rescored),
    cancel: &Arc<AtomicBool>,
) -> Result<Option<Counts>, ScanError> {
    let score_key = inputs.score_key;
    let mut phase = Rescoring::gather(&inputs, shortlists)?;
    let order = phase.order();
    let needs = Needs {
        regions: inputs.regions.coarse,
        sizes: false,
    };
    let mut plan = embedding::plan(inputs.cache, score_key, order.iter().copied(), needs)?;
    let mut outcomes_in = std::mem::take(&mut plan.ready);
    let mut run = if plan.work.is_empty() {
        drop(scorer);
        None
    } else {
        let settings = RunSettings {
            batch_size: inputs.options.batch_size,
            decode_threads: inputs.options.decode_threads,
            already_skipped: inputs.already_skipped,
        };
        Some(EmbeddingRun::start(
            plan,
            order.iter().copied(),
            scorer,
            &settings,
            cancel,
        )?)
    };
    drop(order);
    let mut embedded = 0;
    loop {
        for outcome in std::mem::take(&mut outcomes_in) {
            embedded += phase.settle(outcome, inputs.cache, score_key, out)?;
        }
        phase.match_settled(&inputs, out)?;
        let Some(active) = run.as_mut() else { break };
        match active.next(inputs.cache, score_key, inputs.events)? {
            Step::Outcomes(outcomes) => outcomes_in = outcomes,
            Step::Done => {
                if let Some(done) = run.take() {
                    done.finish(inputs.cache, score_key)?;
                }
            }
            Step::Cancelled => return Ok(None),
        }
    }
    let rescored = phase
        .candidates
        .iter()
        .filter(|c| c.vector.is_some())
        .count();
    let duplicate_neighbours = phase.candidates[phase.shortlisted..]
        .iter()
        .filter(|c| c.vector.is_some())
        .count();
    Ok(Some(Counts {
        rescored,
        embedded,
        duplicate_neighbours,
    }))
}

impl Rescoring {
    /// Each shortlisted training image once, and each one's near duplicates by the student,
    /// resolved from the cache by content where it can be.
    fn gather(inputs: &Inputs<'_>, shortlists: Vec<Shortlisted>) -> Result<Self, ScanError> {
        let mut positions: HashMap<u64, usize> = HashMap::new();
        let mut candidates: Vec<Candidate> = Vec::new();
        let mut add = |key: u64, positions: &mut HashMap<u64, usize>| -> Result<(), ScanError> {
            if !positions.contains_key(&key)
                && let Some(candidate) = candidate(inputs.training, key)?
            {
                positions.insert(key, candidates.len());
                candidates.push(candidate);
            }
            Ok(())
        };
        for shortlist in &shortlists {
            for &key in &shortlist.keys {
                add(key, &mut positions)?;
            }
        }
        let shortlisted = positions.len();
        // Each shortlisted image's near duplicates by the student, embedded with full SSCD
        // too, so that a match's duplicate count is full SSCD's.
        let near = student_near_duplicates(
            inputs.training,
            positions.keys().copied().collect::<Vec<_>>(),
        )?;
        for &key in near.values().flatten() {
            add(key, &mut positions)?;
        }
        let known = inputs.cache.embedded_hashes(inputs.score_key, "")?;
        for candidate in &mut candidates {
            if let Some(hash) = candidate.hash.filter(|h| known.contains(h)) {
                candidate.vector = inputs.cache.vector(inputs.score_key, &hash, "")?;
                candidate.settled = candidate.vector.is_some();
            }
        }
        let waiting = shortlists
            .into_iter()
            .map(|shortlisted| Waiting {
                shortlisted,
                views: None,
                failed: false,
            })
            .collect();
        Ok(Self {
            candidates,
            positions,
            near,
            shortlisted,
            waiting,
        })
    }

    /// What to read: each generation, then its unsettled candidates, so that results come
    /// out as the phase goes.
    fn order(&self) -> Vec<(Slot, &ImageEntry)> {
        let mut order: Vec<(Slot, &ImageEntry)> = Vec::new();
        let mut listed: HashSet<usize> = HashSet::new();
        for w in &self.waiting {
            order.push((
                Slot::Generation(w.shortlisted.generation),
                &w.shortlisted.entry,
            ));
            for key in self.keys_with_duplicates(w) {
                if let Some(&pos) = self.positions.get(key)
                    && !self.candidates[pos].settled
                    && listed.insert(pos)
                {
                    order.push((Slot::Training(pos), &self.candidates[pos].entry));
                }
            }
        }
        order
    }

    /// A waiting generation's shortlist, then its shortlisted images' near duplicates.
    fn keys_with_duplicates<'s>(&'s self, w: &'s Waiting) -> impl Iterator<Item = &'s u64> {
        let duplicates = w
            .shortlisted
            .keys
            .iter()
            .flat_map(|key| self.near.get(key))
            .flatten();
        w.shortlisted.keys.iter().chain(duplicates)
    }

    /// Takes in one outcome of the phase; returns 1 for a training image embedded now.
    fn settle(
        &mut self,
        outcome: Outcome,
        cache: &EmbeddingCache,
        score_key: &ModelKey,
        out: &mut dyn FnMut(Rescored),
    ) -> Result<usize, ScanError> {
        match outcome {
            Outcome::Cached { slot, hash, .. } => match slot {
                Slot::Training(pos) => {
                    if let Some(candidate) = self.candidates.get_mut(pos) {
                        candidate.vector = cache.vector(score_key, &hash, "")?;
                        candidate.settled = true;
                    }
                }
                Slot::Generation(i) => {
                    for w in self.waiting_for(i) {
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
                    if let Some(candidate) = self.candidates.get_mut(pos) {
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
                    if let Some(w) = self.waiting_for(i).next() {
                        w.views = Some(views);
                    }
                }
            },
            Outcome::Failed { slot, reason } => match slot {
                Slot::Training(pos) => {
                    if let Some(candidate) = self.candidates.get_mut(pos) {
                        candidate.settled = true;
                        out(Rescored::Note(SkippedFile {
                            side: Side::Training,
                            path: candidate.entry.rel_path.clone(),
                            reason: format!(
                                "shortlisted but could not be read again for re-scoring: {reason}"
                            ),
                        }));
                    }
                }
                Slot::Generation(i) => {
                    for w in self.waiting_for(i) {
                        w.failed = true;
                    }
                    out(Rescored::Failed {
                        generation: i,
                        reason,
                    });
                }
            },
        }
        Ok(0)
    }

    fn waiting_for(&mut self, generation: usize) -> impl Iterator<Item = &mut Waiting> {
        self.waiting
            .iter_mut()
            .filter(move |w| w.shortlisted.generation == generation)
    }

    /// Matches each waiting generation whose views and shortlist are all settled.
    fn match_settled(
        &mut self,
        inputs: &Inputs<'_>,
        out: &mut dyn FnMut(Rescored),
    ) -> Result<(), ScanError> {
        let mut still = Vec::with_capacity(self.waiting.len());
        for w in std::mem::take(&mut self.waiting) {
            if w.failed {
                continue;
            }
            let settled = w.views.is_some()
                && self.keys_with_duplicates(&w).all(|key| {
                    self.positions
                        .get(key)
                        .is_none_or(|&pos| self.candidates[pos].settled)
                });
            if !settled {
                still.push(w);
                continue;
            }
            if let Some(matched) = self.match_one(inputs, w)? {
                out(matched);
            }
        }
        self.waiting = still;
        Ok(())
    }

    /// Matches one settled generation over an exact index of its re-scored shortlist.
    fn match_one(&self, inputs: &Inputs<'_>, w: Waiting) -> Result<Option<Rescored>, ScanError> {
        let views = match w.views {
            Some(views) if !views.is_empty() => views,
            _ => match w.shortlisted.hash {
                Some(hash) => inputs.cache.views(inputs.score_key, &hash)?,
                None => Vec::new(),
            },
        };
        let vectors: Vec<(u64, Vec<f32>)> = w
            .shortlisted
            .keys
            .iter()
            .filter_map(|key| {
                let pos = self.positions.get(key)?;
                self.candidates[*pos].vector.clone().map(|v| (*key, v))
            })
            .collect();
        let dims = views
            .iter()
            .find(|(name, _)| name.is_empty())
            .map_or(0, |(_, v)| v.len());
        let index = inputs.options.store.exact(dims, vectors)?;
        let Some(searched) =
            search_views(&views, index.as_ref(), inputs.structure, inputs.settings)?
        else {
            return Ok(None);
        };
        let Some(matched) = inputs.training.assemble(
            &views,
            searched,
            inputs.cache,
            inputs.index_key,
            None,
            inputs.settings,
        )?
        else {
            return Ok(None);
        };
        let full_vector = |key: u64| {
            self.positions
                .get(&key)
                .and_then(|&pos| self.candidates[pos].vector.as_deref())
        };
        let duplicate_counts = matched
            .matches
            .iter()
            .filter_map(|m| m.index_key)
            .map(|key| (key, cascade_duplicate_count(key, &self.near, &full_vector)))
            .collect();
        Ok(Some(Rescored::Matched {
            generation: w.shortlisted.generation,
            matched,
            duplicate_counts,
        }))
    }
}

/// The training image behind index key `key`, as an entry the workers can read.
fn candidate(training: &Training, key: u64) -> Result<Option<Candidate>, ScanError> {
    match training {
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
