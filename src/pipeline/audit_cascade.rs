//! The training-against-training baseline of a project scanned with the shortlist cascade.
//! Its training images have only the student's embeddings, so the baseline does what the
//! cascade does: each sampled image's shortlist by the student (the scan's shortlist size,
//! and every near duplicate at or above [`STUDENT_DUPLICATE_BOUND`] among its nearest
//! [`DUPLICATE_NEIGHBOURS`]) is re-scored with full SSCD, and the similarities reported are
//! full SSCD's. [`embed_baseline`] embeds what the cache lacks (`replicant report` runs it);
//! [`cascade_baseline`] only reads.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::audit::{
    AuditOptions, DUPLICATE_NEIGHBOURS, TrainingSide, draw_sample, sample_baseline,
    training_vectors,
};
use super::cache::EmbeddingCache;
use super::cascade::STUDENT_DUPLICATE_BOUND;
use super::embedding::{self, EmbeddingRun, Needs, RunSettings, Step};
use super::events::EventSink;
use super::workers::Slot;
use super::{LastScan, ModelRequest, Project, ScanEvent, load_embedder, resolve_runtime};
use crate::embed::Embedder;
use crate::export::report::Baseline;
use crate::index::{Hit, TrainingIndex};

/// The sample and what must be re-scored for it.
struct Plan {
    /// The student's side: every training image with a student embedding.
    student: TrainingSide,
    /// Catalogue position -> place in `student`'s lists.
    place: HashMap<u64, usize>,
    /// Each sampled image's candidates (itself left out), best first by the student.
    candidates: BTreeMap<u64, Vec<u64>>,
    /// The scan's full-SSCD model key.
    full_key: String,
    /// The student's model key.
    student_key: String,
    /// The scan's shortlist size.
    shortlist: usize,
}

impl Plan {
    /// Every image the baseline needs a full-SSCD embedding of.
    fn needed(&self) -> Vec<u64> {
        let mut keys: Vec<u64> = self
            .candidates
            .iter()
            .flat_map(|(key, candidates)| std::iter::once(key).chain(candidates))
            .copied()
            .collect::<HashSet<u64>>()
            .into_iter()
            .collect();
        keys.sort_unstable();
        keys
    }

    fn method(&self) -> String {
        format!(
            "shortlist cascade: each sampled image's top {} by {}, and its near duplicates by it (similarity {STUDENT_DUPLICATE_BOUND} or more among its nearest {DUPLICATE_NEIGHBOURS}), re-scored with {}",
            self.shortlist, self.student_key, self.full_key
        )
    }
}

/// The plan of the project's baseline, or why there is none. `None` when the last scan did
/// not run the cascade.
fn plan(
    project: &Project,
    cache: &EmbeddingCache,
    last: &LastScan,
    options: &AuditOptions,
) -> Option<Result<Plan, String>> {
    let cascade = last.cascade.as_ref()?;
    Some((|| {
        let student = training_vectors(project, cache, &cascade.shortlist_model)?;
        let place: HashMap<u64, usize> = student
            .vectors
            .iter()
            .enumerate()
            .map(|(p, (k, _))| (*k, p))
            .collect();
        let keys: Vec<u64> = student.vectors.iter().map(|(k, _)| *k).collect();
        let mut candidates = BTreeMap::new();
        for key in draw_sample(&keys, options) {
            let vector = &student.vectors[place[&key]].1;
            let hits = student
                .index
                .search(vector, DUPLICATE_NEIGHBOURS + 1)
                .map_err(|e| e.to_string())?;
            // The shortlist leaves out byte-identical copies, as the baseline does; the near
            // duplicates keep them, as the duplicate count does.
            let own = student.hashes[place[&key]];
            let shortlist = hits.iter().filter(|h| {
                h.key != key && place.get(&h.key).is_none_or(|&p| student.hashes[p] != own)
            });
            let near = hits
                .iter()
                .filter(|h| h.key != key && h.similarity >= STUDENT_DUPLICATE_BOUND);
            let chosen: Vec<u64> = shortlist
                .take(cascade.shortlist_size)
                .chain(near)
                .map(|h| h.key)
                .collect::<Vec<_>>();
            let mut seen = HashSet::new();
            candidates.insert(
                key,
                chosen.into_iter().filter(|k| seen.insert(*k)).collect(),
            );
        }
        Ok(Plan {
            student,
            place,
            candidates,
            full_key: last.model_key.clone(),
            student_key: cascade.shortlist_model.clone(),
            shortlist: cascade.shortlist_size,
        })
    })())
}

/// For a project whose last scan ran the cascade, embeds with full SSCD the sampled training
/// images and their candidates the cache lacks (read again from their sources), so that
/// [`cascade_baseline`] can re-score them; returns how many it embedded. `log` hears what it
/// does, `progress` each (done, total) as images are embedded. Nothing to do (0) for other
/// projects.
pub fn embed_baseline(
    project_dir: &std::path::Path,
    options: &AuditOptions,
    request: &ModelRequest,
    log: &mut dyn FnMut(String),
    progress: &mut dyn FnMut(usize, usize),
    cancel: &Arc<AtomicBool>,
) -> Result<usize, String> {
    let project = Project::open(project_dir).map_err(|e| e.to_string())?;
    let Some(mut last) = LastScan::load(&project).map_err(|e| e.to_string())? else {
        return Ok(0);
    };
    super::fill_hashes(&project, &mut last);
    let mut cache = EmbeddingCache::open(&project.cache_path()).map_err(|e| e.to_string())?;
    let Some(planned) = plan(&project, &cache, &last, options) else {
        return Ok(0);
    };
    let plan = planned?;
    let known = cache
        .embedded_hashes(&plan.full_key, "")
        .map_err(|e| e.to_string())?;
    let missing: Vec<usize> = plan
        .needed()
        .iter()
        .map(|key| plan.place[key])
        .filter(|&p| !known.contains(&plan.student.hashes[p]))
        .collect();
    if missing.is_empty() {
        return Ok(0);
    }
    progress(0, missing.len());
    log(format!(
        "the baseline re-scores {} sampled training images' shortlists with full SSCD: {} images to embed",
        plan.candidates.len(),
        missing.len()
    ));
    let (library, model) = resolve_runtime(request, &mut |line| log(line.to_string()))?;
    let embedder = load_embedder(request, &library, &model).map_err(|e| e.to_string())?;
    if embedder.model_key().0 != plan.full_key {
        return Err(format!(
            "the project was scanned with {}, but the model found is {}; give the scan's model (--model)",
            plan.full_key,
            embedder.model_key().0
        ));
    }
    let order: Vec<(Slot, &crate::catalog::ImageEntry)> = missing
        .iter()
        .map(|&p| (Slot::Training(p), &plan.student.entries[p]))
        .collect();
    let needs = Needs {
        regions: None,
        sizes: false,
    };
    let work = embedding::plan(&cache, &plan.full_key, order.iter().copied(), needs)
        .map_err(|e| e.to_string())?;
    let settings = RunSettings {
        // 0: the workers choose by where inference runs.
        batch_size: 0,
        decode_threads: 0,
        already_skipped: 0,
    };
    let (tx, events) = crossbeam_channel::bounded(1024);
    let sink = EventSink::new(tx, None, cancel.clone());
    let mut run = EmbeddingRun::start(
        work,
        order.iter().copied(),
        Box::new(embedder),
        &settings,
        cancel,
    )
    .map_err(|e| e.to_string())?;
    let mut embedded = 0;
    loop {
        let step = run
            .next(&mut cache, &plan.full_key, &sink)
            .map_err(|e| e.to_string())?;
        for event in events.try_iter() {
            if let ScanEvent::Progress(p) = event {
                progress(p.done, p.total);
                if p.done == p.total {
                    log(format!(
                        "embedded {}/{} at {:.1} images/s",
                        p.done, p.total, p.images_per_sec
                    ));
                }
            }
        }
        match step {
            Step::Outcomes(outcomes) => embedded += outcomes.len(),
            Step::Done => break,
            Step::Cancelled => return Err("cancelled".into()),
        }
    }
    run.finish(&mut cache, &plan.full_key)
        .map_err(|e| e.to_string())?;
    Ok(embedded)
}

/// The baseline of a cascade project and what comes with it.
pub(super) struct CascadeBaseline {
    pub(super) baseline: Baseline,
    /// Each sampled image's duplicate count.
    pub(super) counts: Vec<f64>,
    pub(super) training_images: usize,
    /// The index, in words, for the provenance.
    pub(super) index_text: String,
    /// The training side's content hash.
    pub(super) training_blake3: String,
}

/// The baseline of a project whose last scan ran the cascade, from full-SSCD embeddings in
/// the cache; `None` for other projects; an error naming the remedy when the cache lacks
/// some of them.
pub(super) fn cascade_baseline(
    project: &Project,
    cache: &EmbeddingCache,
    last: &LastScan,
    generation_top1: &[f32],
    options: &AuditOptions,
) -> Option<Result<CascadeBaseline, String>> {
    let planned = plan(project, cache, last, options)?;
    Some((|| {
        let plan = planned?;
        let needed = plan.needed();
        let mut full: HashMap<u64, Vec<f32>> = HashMap::with_capacity(needed.len());
        for key in &needed {
            let hash = plan.student.hashes[plan.place[key]];
            if let Some(vector) = cache
                .vector(&plan.full_key, &hash, "")
                .map_err(|e| e.to_string())?
            {
                full.insert(*key, vector);
            }
        }
        if full.len() < needed.len() {
            return Err(format!(
                "the last scan ran the shortlist cascade, and {} of the {} training images the baseline re-scores have no full-SSCD embedding yet; `replicant report --project {}` embeds them (once; they are cached)",
                needed.len() - full.len(),
                needed.len(),
                project.dir.display()
            ));
        }
        let keys: Vec<u64> = plan.candidates.keys().copied().collect();
        let neighbours = |key: u64, own: &[f32]| -> Result<Vec<Hit>, String> {
            let mut hits: Vec<Hit> = plan
                .candidates
                .get(&key)
                .into_iter()
                .flatten()
                .filter_map(|k| {
                    full.get(k).map(|v| Hit {
                        key: *k,
                        similarity: v.iter().zip(own).map(|(a, b)| a * b).sum(),
                    })
                })
                .collect();
            hits.sort_by(|a, b| {
                b.similarity
                    .total_cmp(&a.similarity)
                    .then(a.key.cmp(&b.key))
            });
            Ok(hits)
        };
        let (mut baseline, counts) = sample_baseline(
            &keys,
            &neighbours,
            &|key| Ok(full.get(&key).cloned()),
            &|key| Ok(plan.place.get(&key).map(|&p| plan.student.hashes[p])),
            generation_top1,
            // The sample is drawn already: every key of it.
            &AuditOptions {
                baseline_sample: keys.len(),
                ..options.clone()
            },
        )?;
        baseline.method = Some(plan.method());
        Ok(CascadeBaseline {
            baseline,
            counts,
            training_images: plan.student.vectors.len(),
            index_text: format!(
                "the project's own, {} training images indexed with {} (shortlist cascade), {} dimensions",
                plan.student.vectors.len(),
                plan.student_key,
                plan.student.dims
            ),
            training_blake3: plan.student.content_hash(),
        })
    })())
}
