//! `replicant embed`: one worker of a sharded embedding run. A pure function of its shard:
//! the training sources are cut into work units (tar shards sorted by name, then slices of
//! plain files), worker `I` of `N` takes the units whose position is `I mod N`, embeds their
//! images and writes `part-I-of-N.{npy,jsonl,json}` (see [`crate::shards::parts`]). Any engine (Ray,
//! Slurm, Spark, Kubernetes) can run workers at once and retry one blindly: a finished part
//! whose units are unchanged is not redone, and a killed worker resumes from its own cache
//! (`DIR/.replicant-cache/worker-I-of-N.sqlite`, never shared between workers).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::catalog::ImageLocation;
use crate::embed::Embedder;
use crate::embed::request::ModelRequest;
use crate::index::prebuilt::FileCheck;
use crate::jobs::{Job, Waker};
use crate::project::cache::EmbeddingCache;
use crate::ranking::layout::LAYOUT_VIEW;
use crate::ranking::matches::{Side, SkippedFile, TruncatedShard};
use crate::scan::ScanEvent;
use crate::scan::ScanPhase;
use crate::scan::embedding::{self, EmbeddingRun, Needs, Outcome, RunSettings, Step};
use crate::scan::error::ScanError;
use crate::scan::events::EventSink;
use crate::scan::sources::{Catalogued, State, UnitId, catalogue};
use crate::scan::workers::Slot;
use crate::shards::parts::{self, FoundPart, PART_FORMAT, PartManifest, PartRow};

/// What one worker does.
#[derive(Debug, Clone)]
pub struct EmbedOptions {
    /// The training sources: folders, folders of tar shards, or `.tar` shards.
    pub training: Vec<PathBuf>,
    /// The output folder shared by all workers.
    pub out: PathBuf,
    /// This worker's index, `0..workers`.
    pub worker: usize,
    /// How many workers share the sources.
    pub workers: usize,
    /// The model and its runtime.
    pub model: ModelRequest,
    /// Images per inference batch.
    pub batch_size: usize,
    /// Decoding threads (0: one per core).
    pub decode_threads: usize,
    /// The models the worker may run (finding and loading `model`).
    pub models: crate::embed::registry::Models,
}

/// What a worker did: the one JSON line `replicant embed` prints.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EmbedSummary {
    /// `part-I-of-N`.
    pub part: String,
    /// The part's files (`.npy`, `.jsonl`, `.json`).
    #[serde(with = "crate::fsutil::serde_path::vec")]
    pub files: Vec<PathBuf>,
    /// Rows written (one per decodable image).
    pub rows: u64,
    /// Work units this worker covers, of all units.
    pub units: usize,
    /// Work units in all.
    pub units_total: usize,
    /// Images embedded by this run.
    pub embedded: usize,
    /// Images whose embedding came from the worker's cache.
    pub cached: usize,
    /// Images that could not be used, with reasons.
    pub skipped: Vec<SkippedFile>,
    /// Shards that ended early or could not be read, and what was lost.
    pub truncated_shards: Vec<TruncatedShard>,
    /// What was noted (repeated member names, names that are not text).
    pub notes: Vec<SkippedFile>,
    /// Why an existing part was not reused, when one was there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redone_because: Option<String>,
    /// Whether the part was already complete for these units and left as it was.
    pub reused: bool,
    /// The model key.
    pub model_key: crate::embed::ModelKey,
    /// Where inference ran.
    pub execution_provider: String,
    /// Wall time.
    pub seconds: f64,
}

/// A running worker: progress events (phases, progress, skipped images, info lines), then
/// the outcome (the summary, `None` when cancelled, or why it failed). Dropping it cancels
/// the work.
pub type EmbedHandle = Job<ScanEvent, Result<Option<EmbedSummary>, String>>;

/// Starts a worker on a named thread.
pub fn start_embed(options: EmbedOptions, waker: Option<Waker>) -> EmbedHandle {
    Job::spawn("replicant-embed", 1024, waker, move |sink| {
        run(&options, sink, sink.cancel_flag()).map_err(|e| e.to_string())
    })
    .unwrap_or_else(|why| Job::ended(Vec::new(), Some(Err(why))))
}

/// The cache of worker `I` of `N` under `out`.
pub fn worker_cache_path(out: &Path, worker: usize, workers: usize) -> PathBuf {
    out.join(".replicant-cache")
        .join(format!("worker-{worker}-of-{workers}.sqlite"))
}

/// Over 100 lines on purpose: one worker's steps in the order they run (check its slice, catalogue,
/// keep its units, plan against its cache, embed, write its part), each a few lines reading the
/// last one's values; the embedding itself is the scan's shared `EmbeddingRun`.
fn run(
    options: &EmbedOptions,
    events: &EventSink,
    cancel: &Arc<AtomicBool>,
) -> Result<Option<EmbedSummary>, ScanError> {
    let started = Instant::now();
    if options.workers == 0 || options.worker >= options.workers {
        return Err(ScanError::Runtime(format!(
            "--shard {}/{}: the worker index must be below the worker count",
            options.worker, options.workers
        )));
    }
    events.send(ScanEvent::Phase(ScanPhase::Cataloguing));
    let mut skipped = Vec::new();
    let mut notes = Vec::new();
    let mut catalogued = catalogue(&options.training, Side::Training, &mut skipped, &mut notes)?;
    let units = catalogued.work_units();
    let units_total = units.len();
    let mine: Vec<_> = units
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % options.workers == options.worker)
        .map(|(_, unit)| unit)
        .collect();
    let unit_ids: Vec<UnitId> = mine.iter().map(|u| u.id.clone()).collect();
    let my_records: Vec<usize> = mine.iter().flat_map(|u| u.records.clone()).collect();
    // Only the skips and cuts of this worker's units belong in its part.
    let my_names: std::collections::HashSet<String> = my_records
        .iter()
        .map(|&i| catalogued.records[i].display.clone())
        .collect();
    // From the units, not their images: an empty or unreadable shard has none, and must
    // still be accounted for by the worker that owns it.
    let my_shards: std::collections::HashSet<String> =
        mine.iter().filter_map(|u| u.shard.clone()).collect();
    let truncated: Vec<TruncatedShard> = catalogued
        .truncated
        .iter()
        .filter(|t| my_shards.contains(&t.shard))
        .cloned()
        .collect();
    // A file of this worker's units, a shard of them, or a member of one of those shards.
    let in_my_units = |path: &str| {
        my_names.contains(path)
            || my_shards.contains(path)
            || my_shards
                .iter()
                .any(|shard| path.starts_with(&format!("{shard}/")))
    };
    let mut skipped: Vec<SkippedFile> = skipped
        .into_iter()
        .filter(|s| in_my_units(&s.path))
        .collect();
    let notes: Vec<SkippedFile> = notes.into_iter().filter(|n| in_my_units(&n.path)).collect();
    for file in skipped.iter().chain(&notes) {
        events.send(ScanEvent::Skipped(file.clone()));
    }

    std::fs::create_dir_all(&options.out).map_err(|source| {
        ScanError::Runtime(format!(
            "cannot create the output folder {}: {source}; choose a writable --out",
            options.out.display()
        ))
    })?;
    events.send(ScanEvent::Phase(ScanPhase::LoadingModel));
    let (library, model_file) = (options.models)
        .resolve(&options.model, &mut |line| events.info(line))
        .map_err(ScanError::Runtime)?;
    let mut embedder = options.models.load(&options.model, &library, &model_file)?;
    let model_key = embedder.model_key().clone();
    let provider = embedder.execution_provider().to_string();
    let model_probe = crate::embed::probe::stored(
        &crate::embed::probe::probe_vector(embedder.as_mut())
            .map_err(|e| ScanError::Runtime(format!("cannot embed the probe image: {e}")))?,
    );
    let stem = parts::part_stem(options.worker, options.workers);
    let json = options.out.join(format!("{stem}.json"));
    let files = vec![
        json.with_extension("npy"),
        json.with_extension("jsonl"),
        json.clone(),
    ];
    let reuse = finished_part(&json, &unit_ids, &model_key, &model_probe);
    let redone_because = reuse.as_ref().err().cloned().flatten();
    if let Some(why) = &redone_because {
        events.info(format!("{stem} is embedded again: {why}"));
    }
    if let Ok(done) = reuse {
        events.info(format!(
            "{stem} is already complete for these {} units; left as it is",
            unit_ids.len()
        ));
        return Ok(Some(EmbedSummary {
            part: stem,
            files,
            rows: done.rows,
            units: unit_ids.len(),
            units_total,
            embedded: 0,
            cached: 0,
            skipped: done.skipped,
            truncated_shards: done.truncated_shards,
            notes: done.notes,
            redone_because: None,
            reused: true,
            model_key,
            execution_provider: provider,
            seconds: started.elapsed().as_secs_f64(),
        }));
    }
    let cache_path = worker_cache_path(&options.out, options.worker, options.workers);
    if let Some(dir) = cache_path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| {
            ScanError::Runtime(format!("cannot create {}: {source}", dir.display()))
        })?;
    }
    let mut cache = EmbeddingCache::open(&cache_path)?;
    let needs = Needs {
        regions: None,
        sizes: true,
    };
    let images: Vec<(Slot, &crate::catalog::ImageEntry)> = my_records
        .iter()
        .map(|&i| (Slot::Training(i), &catalogued.records[i].entry))
        .collect();
    let mut plan = embedding::plan(&cache, &model_key, images.iter().copied(), needs)?;
    let ready = std::mem::take(&mut plan.ready);
    let to_process = plan.work.len();
    let mut run = if to_process > 0 {
        let settings = RunSettings {
            batch_size: options.batch_size,
            decode_threads: options.decode_threads,
            already_skipped: skipped.len(),
        };
        let embedder: Box<dyn Embedder> = embedder;
        Some(EmbeddingRun::start(
            plan, images, embedder, &settings, cancel,
        )?)
    } else {
        None
    };
    let mut counts = (0usize, 0usize);
    take_outcomes(&mut catalogued, ready, &mut skipped, &mut counts, events);
    events.send(ScanEvent::Catalogued {
        generations: 0,
        training: my_records.len(),
        to_process,
    });
    if let Some(run) = &mut run {
        events.send(ScanEvent::Phase(ScanPhase::Embedding));
        loop {
            match run.next(&mut cache, &model_key, events)? {
                Step::Outcomes(outcomes) => {
                    take_outcomes(&mut catalogued, outcomes, &mut skipped, &mut counts, events)
                }
                Step::Done => break,
                Step::Cancelled => return Ok(None),
            }
        }
    }
    if let Some(run) = run {
        run.finish(&mut cache, &model_key)?;
    }
    if cancel.load(Ordering::Relaxed) {
        return Ok(None);
    }

    events.send(ScanEvent::Phase(ScanPhase::Indexing));
    let (rows, vectors, dims) = assemble(&catalogued, &my_records, &cache, &model_key)?;
    let manifest = PartManifest {
        format: PART_FORMAT,
        worker: options.worker,
        workers: options.workers,
        model_key: model_key.clone(),
        dims,
        sources: catalogued.roots.clone(),
        units: unit_ids.clone(),
        rows: 0,
        skipped: skipped.clone(),
        truncated_shards: truncated.clone(),
        notes: notes.clone(),
        model_probe,
        npy: FileCheck::default(),
        jsonl: FileCheck::default(),
        replicant_version: env!("CARGO_PKG_VERSION").into(),
        created_at: crate::fsutil::utc_now(),
    };
    parts::write_part(&options.out, manifest, &rows, &vectors)
        .map_err(|e| ScanError::Runtime(format!("cannot write the part: {e}")))?;
    Ok(Some(EmbedSummary {
        part: stem,
        files,
        rows: rows.len() as u64,
        units: unit_ids.len(),
        units_total,
        embedded: counts.0,
        cached: counts.1,
        skipped,
        truncated_shards: truncated,
        notes,
        redone_because,
        reused: false,
        model_key,
        execution_provider: provider,
        seconds: started.elapsed().as_secs_f64(),
    }))
}

/// The existing part's manifest, when it is complete for exactly these units and model and
/// its files still hash to what it recorded; otherwise why not (`None`: no part yet, or one
/// for other units or another model, which is simply redone).
fn finished_part(
    json: &Path,
    units: &[UnitId],
    model_key: &crate::embed::ModelKey,
    probe: &[f32],
) -> Result<PartManifest, Option<String>> {
    if !json.exists() {
        return Err(None);
    }
    let manifest = parts::read_manifest(json).map_err(|e| Some(e.to_string()))?;
    if manifest.units != units || manifest.model_key != *model_key {
        return Err(None);
    }
    if !crate::embed::probe::same_model(&manifest.model_probe, probe).0 {
        return Err(Some(
            "its vectors were made by another model file than this one".into(),
        ));
    }
    let found = FoundPart {
        json: json.to_path_buf(),
        manifest,
    };
    // Hashed whole, not by size: a row overwritten with another row's bytes keeps the size.
    found.verify_files().map_err(|e| Some(e.to_string()))?;
    Ok(found.manifest)
}

fn take_outcomes(
    catalogued: &mut Catalogued,
    outcomes: Vec<Outcome>,
    skipped: &mut Vec<SkippedFile>,
    counts: &mut (usize, usize),
    events: &EventSink,
) {
    for outcome in outcomes {
        let (slot, hash, png_prompt, fresh) = match outcome {
            Outcome::Cached {
                slot,
                hash,
                png_prompt,
                ..
            } => (slot, Some(hash), png_prompt, false),
            Outcome::Embedded {
                slot,
                hash,
                png_prompt,
                ..
            } => (slot, Some(hash), png_prompt, true),
            Outcome::Failed { slot, reason } => {
                if let Slot::Training(i) = slot
                    && let Some(record) = catalogued.records.get_mut(i)
                {
                    record.state = State::Failed;
                    let file = SkippedFile {
                        side: Side::Training,
                        path: record.display.clone(),
                        reason,
                    };
                    events.send(ScanEvent::Skipped(file.clone()));
                    skipped.push(file);
                }
                continue;
            }
        };
        if fresh {
            counts.0 += 1;
        } else {
            counts.1 += 1;
        }
        if let Slot::Training(i) = slot
            && let Some(record) = catalogued.records.get_mut(i)
        {
            record.hash = hash;
            record.png_prompt = png_prompt;
            record.state = State::Ready;
        }
    }
}

/// The part's rows and vectors, in unit order, from the cache.
fn assemble(
    catalogued: &Catalogued,
    records: &[usize],
    cache: &EmbeddingCache,
    model_key: &crate::embed::ModelKey,
) -> Result<(Vec<PartRow>, Vec<f32>, usize), ScanError> {
    let mut rows = Vec::new();
    let mut vectors = Vec::new();
    let mut dims = 0;
    for &i in records {
        let record = &catalogued.records[i];
        let (State::Ready, Some(hash)) = (record.state, record.hash) else {
            continue;
        };
        let missing = |what: &str| {
            ScanError::Runtime(format!(
                "the worker's cache lost the {what} of {}; delete {} and run again",
                record.display,
                cache_path_hint()
            ))
        };
        let vector = cache
            .vector(model_key, &hash, "")?
            .ok_or_else(|| missing("embedding"))?;
        let luma = cache
            .vector(model_key, &hash, LAYOUT_VIEW)?
            .ok_or_else(|| missing("layout"))?;
        let (width, height) = cache
            .dimensions(&hash)?
            .ok_or_else(|| missing("pixel size"))?;
        if dims == 0 {
            dims = vector.len();
        }
        if vector.len() != dims {
            return Err(missing("embedding (it has another length)"));
        }
        let root = catalogued
            .roots
            .get(record.source)
            .cloned()
            .unwrap_or_default();
        let (path, member, offset) = match &record.entry.location {
            ImageLocation::File(_) => (record.entry.rel_path.clone(), None, None),
            ImageLocation::Member(m) => {
                let shard = if root.is_file() {
                    String::new()
                } else {
                    record
                        .entry
                        .rel_path
                        .strip_suffix(&format!("/{}", m.member))
                        .unwrap_or(&record.entry.rel_path)
                        .to_string()
                };
                (shard, Some(m.member.clone()), Some(m.offset))
            }
        };
        let luma: Vec<u8> = luma.iter().map(|&v| v.clamp(0.0, 255.0) as u8).collect();
        rows.push(PartRow {
            training: record.display.clone(),
            source: root,
            path,
            member,
            offset,
            size: record.entry.size_bytes,
            blake3: blake3::Hash::from_bytes(hash).to_hex().to_string(),
            width,
            height,
            caption: record.text(),
            sample: record.entry.sample.clone(),
            layout: PartRow::encode_layout(&luma),
        });
        vectors.extend_from_slice(&vector);
    }
    Ok((rows, vectors, dims))
}

fn cache_path_hint() -> &'static str {
    "the output folder's .replicant-cache"
}
