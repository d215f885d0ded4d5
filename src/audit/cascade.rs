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

use crate::audit::baseline::{
    BaselineOutcome, Input, Sampled, TrainingBaseline, draw_sample, sample_baseline,
};
use crate::audit::options::{AuditError, AuditOptions};
use crate::audit::own::{TrainingSide, training_vectors};
use crate::catalog::ImageEntry;
use crate::embed::request::ModelRequest;
use crate::index::prebuilt::PrebuiltIndex;
use crate::index::{Hit, IndexStore, TrainingIndex};
use crate::project::Project;
use crate::project::cache::ContentHash;
use crate::project::cache::EmbeddingCache;
use crate::project::last_scan::LastScan;
use crate::ranking::cascade::{STUDENT_DUPLICATE_BOUND, near_duplicates_by_student};
use crate::ranking::matches::DUPLICATE_NEIGHBOURS;
use crate::scan::ScanEvent;
use crate::scan::embedding::{self, EmbeddingRun, Needs, Outcome, RunSettings, Step};
use crate::scan::events::EventSink;
use crate::scan::workers::Slot;

/// The training side as the student indexed it: the project's own training images (their
/// student embeddings in the cache) or a prebuilt index of student embeddings.
enum StudentSide {
    Own(Box<TrainingSide>),
    Prebuilt(Box<PrebuiltIndex>),
}

impl StudentSide {
    fn open(
        project: &Project,
        cache: &EmbeddingCache,
        student_key: &crate::embed::ModelKey,
        store: &dyn IndexStore,
    ) -> Result<Self, String> {
        let Some(dir) = &project.spec.training_index else {
            let side = training_vectors(project, cache, student_key, store)?;
            return Ok(Self::Own(Box::new(side)));
        };
        let prebuilt = PrebuiltIndex::open(dir, store).map_err(|e| e.to_string())?;
        if prebuilt.manifest.model_key != *student_key {
            return Err(format!(
                "the training index {} holds {} embeddings, not the scan's shortlist model {student_key}",
                dir.display(),
                prebuilt.manifest.model_key
            ));
        }
        Ok(Self::Prebuilt(Box::new(prebuilt)))
    }

    fn keys(&self) -> Vec<u64> {
        match self {
            Self::Own(side) => side.keys.clone(),
            Self::Prebuilt(prebuilt) => (0..prebuilt.manifest.rows).collect(),
        }
    }

    fn index(&self) -> &dyn TrainingIndex {
        match self {
            Self::Own(side) => side.index.as_ref(),
            Self::Prebuilt(prebuilt) => prebuilt.index.as_ref(),
        }
    }

    fn hash(&self, key: u64) -> Result<Option<ContentHash>, String> {
        match self {
            Self::Own(side) => Ok(side.hash(key)),
            Self::Prebuilt(prebuilt) => Ok(prebuilt
                .rows
                .row(key)
                .map_err(|e| e.to_string())?
                .map(|r| r.blake3)),
        }
    }

    fn entry(&self, key: u64) -> Result<Option<ImageEntry>, String> {
        match self {
            Self::Own(side) => Ok(side.entry(key).cloned()),
            Self::Prebuilt(prebuilt) => Ok(prebuilt
                .rows
                .row(key)
                .map_err(|e| e.to_string())?
                .map(crate::scan::training::row_entry)),
        }
    }

    fn len(&self) -> usize {
        self.index().len()
    }

    fn describe(&self, student_key: &crate::embed::ModelKey) -> String {
        match self {
            Self::Own(side) => {
                side.describe(&format!(" indexed with {student_key} (shortlist cascade)"))
            }
            Self::Prebuilt(prebuilt) => format!(
                "prebuilt {} ({} training images, {student_key}, shortlist cascade)",
                prebuilt.dir.display(),
                prebuilt.manifest.rows
            ),
        }
    }
}

/// The sample and what must be re-scored for it.
struct Plan {
    /// The training side as the student indexed it.
    student: StudentSide,
    /// Each sampled image's candidates (itself left out), best first by the student.
    candidates: BTreeMap<u64, Vec<u64>>,
    /// The scan's full-SSCD model key.
    full_key: crate::embed::ModelKey,
    /// The student's model key.
    student_key: crate::embed::ModelKey,
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

/// A training image the baseline needed that could not be read again for full SSCD.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct FailedImage {
    key: u64,
    training: String,
    reason: String,
}

/// What the last embedding for the baseline could not read (`baseline_failures.json` in the
/// project), for the report to leave out and list.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct FailedImages {
    model_key: crate::embed::ModelKey,
    failed: Vec<FailedImage>,
}

fn failures_path(project: &Project) -> std::path::PathBuf {
    project.dir.join("baseline_failures.json")
}

/// The images the last embedding for the baseline could not read, by key (none when it has
/// not run, or ran for another model).
fn known_failures(
    project: &Project,
    full_key: &crate::embed::ModelKey,
) -> HashMap<u64, FailedImage> {
    std::fs::read(failures_path(project))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<FailedImages>(&bytes).ok())
        .filter(|f| f.model_key == *full_key)
        .map(|f| f.failed.into_iter().map(|x| (x.key, x)).collect())
        .unwrap_or_default()
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
        let student = StudentSide::open(project, cache, &cascade.shortlist_model, &*options.store)?;
        let index = student.index();
        let mut candidates = BTreeMap::new();
        for key in draw_sample(&student.keys(), options) {
            let Some(vector) = index.vector(key).map_err(|e| e.to_string())? else {
                continue;
            };
            let hits = index
                .search(&vector, DUPLICATE_NEIGHBOURS + 1)
                .map_err(|e| e.to_string())?;
            // The shortlist leaves out byte-identical copies, as the baseline does; the near
            // duplicates keep them, as the duplicate count does.
            let own = student.hash(key)?;
            let mut shortlist = Vec::with_capacity(cascade.shortlist_size);
            for hit in hits.iter().filter(|h| h.key != key) {
                if shortlist.len() == cascade.shortlist_size {
                    break;
                }
                if own.is_none() || student.hash(hit.key)? != own {
                    shortlist.push(hit.key);
                }
            }
            let near = near_duplicates_by_student(key, &hits);
            let mut seen = HashSet::new();
            candidates.insert(
                key,
                shortlist
                    .into_iter()
                    .chain(near)
                    .filter(|k| seen.insert(*k))
                    .collect::<Vec<u64>>(),
            );
        }
        Ok(Plan {
            student,
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
///
/// Over 100 lines on purpose: the same phases as the scan's re-scoring (gather the candidates, plan
/// against the cache, read them again, embed) on the report's thread with its own progress and
/// cancel; kept in one place so the report's baseline cannot drift from what it measures.
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
    crate::project::review::fill_hashes(&project, &mut last);
    let mut cache = EmbeddingCache::open(&project.cache_path()).map_err(|e| e.to_string())?;
    let Some(planned) = plan(&project, &cache, &last, options) else {
        return Ok(0);
    };
    let plan = planned?;
    let known = cache
        .embedded_hashes(&plan.full_key, "")
        .map_err(|e| e.to_string())?;
    let mut missing: Vec<(u64, ImageEntry)> = Vec::new();
    for key in plan.needed() {
        if plan.student.hash(key)?.is_some_and(|h| known.contains(&h)) {
            continue;
        }
        if let Some(entry) = plan.student.entry(key)? {
            missing.push((key, entry));
        }
    }
    if missing.is_empty() {
        return Ok(0);
    }
    progress(0, missing.len());
    log(format!(
        "the baseline re-scores {} sampled training images' shortlists with full SSCD: {} images to embed",
        plan.candidates.len(),
        missing.len()
    ));
    let models = &options.models;
    let (library, model) = models.resolve(request, &mut |line| log(line.to_string()))?;
    let embedder = (models.load(request, &library, &model)).map_err(|e| e.to_string())?;
    if *embedder.model_key() != plan.full_key {
        return Err(format!(
            "the project was scanned with {}, but the model found is {}; give the scan's model (--model)",
            plan.full_key,
            embedder.model_key().0
        ));
    }
    let order: Vec<(Slot, &ImageEntry)> = missing
        .iter()
        .enumerate()
        .map(|(p, (_, entry))| (Slot::Training(p), entry))
        .collect();
    let needs = Needs {
        regions: None,
        sizes: false,
    };
    let mut work = embedding::plan(&cache, &plan.full_key, order.iter().copied(), needs)
        .map_err(|e| e.to_string())?;
    // Images that cannot be read again (gone, damaged) are left out of the baseline and
    // listed, so that the next report neither waits for them nor hides them.
    let mut failed = Vec::new();
    let settle = |outcomes: Vec<Outcome>, failed: &mut Vec<FailedImage>| {
        let mut embedded = 0;
        for outcome in outcomes {
            match outcome {
                Outcome::Failed {
                    slot: Slot::Training(p),
                    reason,
                } => {
                    let (key, entry) = &missing[p];
                    failed.push(FailedImage {
                        key: *key,
                        training: entry.rel_path.clone(),
                        reason,
                    });
                }
                _ => embedded += 1,
            }
        }
        embedded
    };
    let mut embedded = settle(std::mem::take(&mut work.ready), &mut failed);
    let settings = RunSettings {
        // 0: the workers choose by where inference runs.
        batch_size: 0,
        decode_threads: 0,
        already_skipped: 0,
    };
    let (tx, events) = crossbeam_channel::bounded(1024);
    let sink = EventSink::new(tx, None, cancel.clone());
    let mut run = EmbeddingRun::start(work, order.iter().copied(), embedder, &settings, cancel)
        .map_err(|e| e.to_string())?;
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
            Step::Outcomes(outcomes) => embedded += settle(outcomes, &mut failed),
            Step::Done => break,
            Step::Cancelled => return Err("cancelled".into()),
        }
    }
    run.finish(&mut cache, &plan.full_key)
        .map_err(|e| e.to_string())?;
    for f in &failed {
        log(format!(
            "left out of the baseline: {} could not be read again ({})",
            f.training, f.reason
        ));
    }
    let record = FailedImages {
        model_key: plan.full_key.clone(),
        failed,
    };
    let path = failures_path(&project);
    let json = serde_json::to_vec_pretty(&record).map_err(|e| e.to_string())?;
    crate::fsutil::write_atomically(&path, &json).map_err(|err| {
        format!(
            "{}: {err}; {}",
            path.display(),
            crate::fsutil::io_remedy(&err, "check that the project folder is writable")
        )
    })?;
    Ok(embedded)
}

/// The cascade's student index (own or prebuilt), each sampled image's shortlist re-scored
/// with full SSCD from the cache: for a project whose last scan ran the cascade.
pub(crate) struct StudentCascade;

impl TrainingBaseline for StudentCascade {
    fn figures(&self, input: &Input<'_>) -> Result<BaselineOutcome, AuditError> {
        if input.last.cascade.is_none() {
            return Ok(BaselineOutcome::NotMine(
                "the last scan did not run the cascade".into(),
            ));
        }
        Ok(
            match cascade_baseline(
                input.project,
                input.cache,
                input.last,
                input.generation_top1,
                input.options,
            ) {
                None => {
                    BaselineOutcome::NotMine("the cascade's training side cannot be planned".into())
                }
                Some(Err(why)) => BaselineOutcome::Unavailable(why),
                Some(Ok(sampled)) => {
                    BaselineOutcome::Figures(Box::new(sampled.into_figures(input)))
                }
            },
        )
    }
}

/// The baseline of a project whose last scan ran the cascade, from full-SSCD embeddings in
/// the cache; `None` for other projects; an error naming the remedy when the cache lacks
/// some of them.
fn cascade_baseline(
    project: &Project,
    cache: &EmbeddingCache,
    last: &LastScan,
    generation_top1: &[f32],
    options: &AuditOptions,
) -> Option<Result<Sampled, String>> {
    let planned = plan(project, cache, last, options)?;
    Some((|| {
        let plan = planned?;
        let needed = plan.needed();
        let mut full: HashMap<u64, Vec<f32>> = HashMap::with_capacity(needed.len());
        for key in &needed {
            let Some(hash) = plan.student.hash(*key)? else {
                continue;
            };
            if let Some(vector) = cache
                .vector(&plan.full_key, &hash, "")
                .map_err(|e| e.to_string())?
            {
                full.insert(*key, vector);
            }
        }
        let failures = known_failures(project, &plan.full_key);
        let absent: Vec<u64> = needed
            .iter()
            .filter(|k| !full.contains_key(k))
            .copied()
            .collect();
        let waiting = absent.iter().filter(|k| !failures.contains_key(k)).count();
        if waiting > 0 {
            return Err(format!(
                "the last scan ran the shortlist cascade, and {waiting} of the {} training images the baseline re-scores have no full-SSCD embedding yet; `replicant report --project {}`, or File > Evidence report… in the desk, embeds them (once; they are cached)",
                needed.len(),
                project.dir.display()
            ));
        }
        let left_out: Vec<&str> = absent
            .iter()
            .filter_map(|k| failures.get(k).map(|f| f.training.as_str()))
            .collect();
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
                        similarity: crate::embed::cosine(v, own),
                    })
                })
                .collect();
            crate::index::sort_best_first(&mut hits);
            Ok(hits)
        };
        let (mut baseline, counts) = sample_baseline(
            &keys,
            &neighbours,
            &|key| Ok(full.get(&key).cloned()),
            &|key| plan.student.hash(key),
            generation_top1,
            // The sample is drawn already: every key of it.
            &AuditOptions {
                baseline_sample: keys.len(),
                ..options.clone()
            },
        )?;
        let mut method = plan.method();
        if !left_out.is_empty() {
            method.push_str(&format!(
                "; {} training images could not be read again and were left out ({}; listed in baseline_failures.json)",
                left_out.len(),
                left_out
                    .iter()
                    .take(5)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        baseline.method = Some(method);
        Ok(Sampled {
            baseline,
            counts,
            training_images: plan.student.len(),
            index_text: plan.student.describe(&plan.student_key),
            training_blake3: match &plan.student {
                StudentSide::Own(side) => Some(side.content_hash()),
                StudentSide::Prebuilt(_) => None,
            },
        })
    })())
}
