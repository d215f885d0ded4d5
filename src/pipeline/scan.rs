//! The scan coordinator: catalogues both sides, resolves what the cache already knows, feeds
//! the rest to the workers, builds (or reloads) the training index as soon as the training
//! images are done, and matches each generation as its embedding arrives.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::cache::{CacheError, ContentHash, EmbeddingCache, FileRecord};
use super::events::EventSink;
use super::last_scan::LastScan;
use super::project::{Project, ProjectError, ProjectSpec, absolute, write_atomically};
use super::records::{ImageRecord, State, catalogue, folder_names};
use super::regions::{self, RegionMode};
use super::workers::{self, DecodeContext, Report, Slot, WorkItem};
use super::{
    DUPLICATE_SIMILARITY, Progress, ScanEvent, ScanOptions, ScanPhase, ScanSummary, load_embedder,
    resolve_runtime,
};
use crate::catalog::CatalogError;
use crate::decode::DecodeLimits;
use crate::embed::{EmbedError, Embedder};
use crate::index::{IndexError, MatchIndex, UsearchIndex};
use crate::layout::{LAYOUT_VIEW, RERANK_POOL, layout_agreement, rank_score};
use crate::matches::{GenerationMatches, Match, RegionHit, Side, SkippedFile};

/// Why a scan could not go on.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// A folder could not be walked.
    #[error("{side} folder: {source}")]
    Catalog {
        /// Which folder.
        side: Side,
        /// The error.
        source: CatalogError,
    },
    /// The project folder failed.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// The cache failed.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// The runtime or model could not be found.
    #[error("{0}")]
    Runtime(String),
    /// The model failed.
    #[error(transparent)]
    Embed(#[from] EmbedError),
    /// The index failed.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// A worker thread could not start.
    #[error("cannot start worker threads: {0}")]
    Threads(std::io::Error),
}

pub(super) fn run(options: &ScanOptions, events: &EventSink, cancel: &Arc<AtomicBool>) {
    let event = match scan(options, events, cancel) {
        Ok(Some(summary)) => ScanEvent::Finished(Box::new(summary)),
        Ok(None) => ScanEvent::Cancelled,
        Err(err) => {
            tracing::error!("scan failed: {err}");
            ScanEvent::Failed(err.to_string())
        }
    };
    events.send(event);
}

struct Coordinator<'a> {
    options: &'a ScanOptions,
    events: &'a EventSink,
    project: Project,
    cache: EmbeddingCache,
    model_key: String,
    training: Vec<ImageRecord>,
    generations: Vec<ImageRecord>,
    /// Training vectors embedded by this scan, kept until the index is built.
    training_vectors: HashMap<usize, Vec<f32>>,
    /// Generation views (whole image and regions) waiting for the index.
    generation_vectors: HashMap<usize, Vec<(String, Vec<f32>)>>,
    /// Whether generations are matched by region too.
    regions: bool,
    waiting_generations: Vec<usize>,
    index: Option<UsearchIndex>,
    results: Vec<GenerationMatches>,
    skipped: Vec<SkippedFile>,
    embedded: usize,
    cached: usize,
}

fn scan(
    options: &ScanOptions,
    events: &EventSink,
    cancel: &Arc<AtomicBool>,
) -> Result<Option<ScanSummary>, ScanError> {
    let started = Instant::now();
    events.send(ScanEvent::Phase(ScanPhase::Cataloguing));
    let mut skipped = Vec::new();
    let mut notes = Vec::new();
    let names = folder_names(&options.training);
    let several = options.training.len() > 1;
    let mut training = Vec::new();
    for (folder, name) in options.training.iter().zip(&names) {
        let prefix = several.then_some(name.as_str());
        training.extend(catalogue(
            folder,
            Side::Training,
            prefix,
            &mut skipped,
            &mut notes,
        )?);
    }
    let generations = catalogue(
        &options.generations,
        Side::Generation,
        None,
        &mut skipped,
        &mut notes,
    )?;
    for file in skipped.iter().chain(&notes) {
        events.send(ScanEvent::Skipped(file.clone()));
    }
    if cancel.load(Ordering::Relaxed) {
        return Ok(None);
    }

    let project_dir = options
        .project_dir
        .clone()
        .unwrap_or_else(|| Project::default_dir(&options.generations, &options.training));
    let spec = ProjectSpec {
        generations: absolute(&options.generations),
        training: options.training.iter().map(|t| absolute(t)).collect(),
        model: match &options.model.choice {
            crate::embed::ModelChoice::File(path) => absolute(path).to_string_lossy().into_owned(),
            other => other.name(),
        },
    };
    let project = Project::create_or_update(&project_dir, spec)?;

    events.send(ScanEvent::Phase(ScanPhase::LoadingModel));
    let (library, model_file) = resolve_runtime(&options.model, &mut |line| events.info(line))
        .map_err(ScanError::Runtime)?;
    let embedder = load_embedder(&options.model, &library, &model_file)?;
    let model_key = embedder.model_key().as_str().to_string();
    let provider = embedder.execution_provider().to_string();
    events.info(format!(
        "model {model_key} running on {provider} (ONNX Runtime {} from {})",
        library.path.display(),
        library.origin
    ));
    let cache = EmbeddingCache::open(&project.cache_path())?;

    let mut coordinator = Coordinator {
        options,
        events,
        project,
        cache,
        model_key,
        training,
        generations,
        training_vectors: HashMap::new(),
        generation_vectors: HashMap::new(),
        regions: false,
        waiting_generations: Vec::new(),
        index: None,
        results: Vec::new(),
        skipped,
        embedded: 0,
        cached: 0,
    };
    coordinator.regions = match options.regions {
        RegionMode::On => true,
        RegionMode::Off => false,
        RegionMode::Auto => {
            let cost =
                regions::region_cost(coordinator.generations.len(), coordinator.training.len());
            let on = cost <= regions::AUTO_MAX_COST;
            events.info(format!(
                "region matching {} (auto: {} views per generation would cost {cost:.1}x of whole-image matching; the limit is {:.0}x; --regions on|off decides)",
                if on { "on" } else { "off" },
                regions::VIEWS_PER_GENERATION,
                regions::AUTO_MAX_COST
            ));
            on
        }
    };
    let work = coordinator.resolve_from_cache()?;
    events.send(ScanEvent::Catalogued {
        generations: coordinator.generations.len(),
        training: coordinator.training.len(),
        to_process: work.len(),
    });
    coordinator.try_build_index()?;

    if !work.is_empty() {
        events.send(ScanEvent::Phase(ScanPhase::Embedding));
        if !coordinator.embed(work, Box::new(embedder), cancel)? {
            return Ok(None);
        }
    } else {
        drop(embedder);
    }
    coordinator.try_build_index()?;
    coordinator.match_waiting()?;
    Ok(Some(coordinator.finish(started, notes, provider)))
}

impl Coordinator<'_> {
    fn records(&mut self, slot: Slot) -> &mut ImageRecord {
        match slot {
            Slot::Training(i) => &mut self.training[i],
            Slot::Generation(i) => &mut self.generations[i],
        }
    }

    /// Marks images whose path, size and time are known and whose content is embedded as
    /// ready; returns the work items for the rest, training first.
    fn resolve_from_cache(&mut self) -> Result<Vec<WorkItem>, ScanError> {
        let embedded = self.known_whole()?;
        let with_regions = self.known_with_regions(&embedded)?;
        let failures = self.cache.failures()?;
        let mut work = Vec::new();
        let slots: Vec<Slot> = (0..self.training.len())
            .map(Slot::Training)
            .chain((0..self.generations.len()).map(Slot::Generation))
            .collect();
        for slot in slots {
            let entry = self.records(slot).entry.clone();
            let known = self
                .cache
                .known_file(&entry.abs_path, entry.size_bytes, entry.mtime_ns)?;
            match known {
                Some(known)
                    if embedded.contains(&known.hash)
                        && (!matches!(slot, Slot::Generation(_))
                            || with_regions
                                .as_ref()
                                .is_none_or(|set| set.contains(&known.hash))) =>
                {
                    let record = self.records(slot);
                    record.hash = Some(known.hash);
                    record.png_prompt = known.embedded_prompt;
                    record.state = State::Ready;
                    self.cached += 1;
                    if let Slot::Generation(i) = slot {
                        self.waiting_generations.push(i);
                    }
                }
                Some(known) if failures.contains_key(&known.hash) => {
                    let reason = failures.get(&known.hash).cloned().unwrap_or_default();
                    self.fail(slot, reason);
                }
                _ => work.push(WorkItem {
                    slot,
                    path: entry.abs_path,
                }),
            }
        }
        Ok(work)
    }

    /// The hashes whose whole-image embedding and layout signature are both cached.
    fn known_whole(&self) -> Result<std::collections::HashSet<ContentHash>, ScanError> {
        let mut known = self.cache.embedded_hashes(&self.model_key, "")?;
        let layouts = self.cache.embedded_hashes(&self.model_key, LAYOUT_VIEW)?;
        known.retain(|hash| layouts.contains(hash));
        Ok(known)
    }

    /// With regions on, the hashes among `whole` (see [`Self::known_whole`]) whose every
    /// region is embedded too; `None` with regions off.
    fn known_with_regions(
        &self,
        whole: &std::collections::HashSet<ContentHash>,
    ) -> Result<Option<std::collections::HashSet<ContentHash>>, ScanError> {
        if !self.regions {
            return Ok(None);
        }
        let cells = regions::VIEWS_PER_GENERATION - 1;
        let regional =
            self.cache
                .hashes_with_views(&self.model_key, &regions::view_prefix(), cells)?;
        Ok(Some(whole.intersection(&regional).copied().collect()))
    }

    fn fail(&mut self, slot: Slot, reason: String) {
        let side = match slot {
            Slot::Training(_) => Side::Training,
            Slot::Generation(_) => Side::Generation,
        };
        let record = self.records(slot);
        record.state = State::Failed;
        let file = SkippedFile {
            side,
            path: record.display.clone(),
            reason,
        };
        self.events.send(ScanEvent::Skipped(file.clone()));
        self.skipped.push(file);
    }

    /// Runs the workers over `work`; false when cancelled.
    fn embed(
        &mut self,
        work: Vec<WorkItem>,
        embedder: Box<dyn Embedder>,
        cancel: &Arc<AtomicBool>,
    ) -> Result<bool, ScanError> {
        let total = work.len();
        let known = self.known_whole()?;
        let context = DecodeContext {
            items: work,
            known_with_regions: self.known_with_regions(&known)?,
            known,
            failures: self.cache.failures()?,
            preprocess: embedder.preprocess().clone(),
            limits: DecodeLimits::default(),
        };
        let (reports_tx, reports_rx) = crossbeam_channel::bounded(256);
        let workers = workers::spawn(
            context,
            embedder,
            self.options.batch_size,
            self.options.decode_threads,
            cancel.clone(),
            reports_tx,
        )
        .map_err(ScanError::Threads)?;

        let started = Instant::now();
        let mut progress = Progress {
            total,
            ..Progress::default()
        };
        let mut last_sent = Instant::now() - Duration::from_secs(1);
        let mut pending_files: Vec<FileRecord> = Vec::new();
        let mut embedded_since_start = 0usize;
        let mut outcome = Ok(true);
        while progress.done < total {
            if cancel.load(Ordering::Relaxed) {
                outcome = Ok(false);
                break;
            }
            let report = match reports_rx.recv_timeout(Duration::from_millis(100)) {
                Ok(report) => report,
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => continue,
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                    outcome = Err(ScanError::Runtime(
                        "the scan's workers stopped unexpectedly".into(),
                    ));
                    break;
                }
            };
            match report {
                Report::Known {
                    slot,
                    hash,
                    png_prompt,
                } => {
                    progress.done += 1;
                    self.cached += 1;
                    pending_files.push(self.file_record(slot, hash, png_prompt.clone()));
                    let record = self.records(slot);
                    record.hash = Some(hash);
                    record.png_prompt = png_prompt;
                    record.state = State::Ready;
                    if let Slot::Generation(i) = slot {
                        self.waiting_generations.push(i);
                    }
                }
                Report::Failed {
                    slot,
                    hash,
                    reason,
                    remember,
                } => {
                    progress.done += 1;
                    if let (Some(hash), true) = (hash, remember) {
                        self.cache
                            .write(&self.model_key, &[], &[], &[(hash, reason.clone())])?;
                    }
                    self.fail(slot, reason);
                }
                Report::Embedded(items) => {
                    progress.done += items.len();
                    embedded_since_start += items.len();
                    self.embedded += items.len();
                    let mut vectors = Vec::with_capacity(items.len());
                    for item in &items {
                        pending_files.push(self.file_record(
                            item.slot,
                            item.hash,
                            item.png_prompt.clone(),
                        ));
                        for view in &item.views {
                            vectors.push((item.hash, view.name.clone(), view.vector.clone()));
                        }
                        vectors.push((item.hash, LAYOUT_VIEW.to_string(), item.layout.clone()));
                    }
                    self.cache.write(
                        &self.model_key,
                        &std::mem::take(&mut pending_files),
                        &vectors,
                        &[],
                    )?;
                    for item in items {
                        let mut views: Vec<(String, Vec<f32>)> =
                            item.views.into_iter().map(|v| (v.name, v.vector)).collect();
                        let record = self.records(item.slot);
                        record.hash = Some(item.hash);
                        record.png_prompt = item.png_prompt;
                        record.state = State::Ready;
                        match item.slot {
                            Slot::Training(i) => {
                                let global = views
                                    .iter()
                                    .position(|(name, _)| name.is_empty())
                                    .map(|p| views.swap_remove(p).1)
                                    .unwrap_or_default();
                                self.training_vectors.insert(i, global);
                            }
                            Slot::Generation(i) => {
                                views.push((LAYOUT_VIEW.to_string(), item.layout));
                                self.generation_vectors.insert(i, views);
                                self.waiting_generations.push(i);
                            }
                        }
                    }
                }
                Report::InferenceFailed(message) => {
                    outcome = Err(ScanError::Runtime(format!(
                        "{message}; the scan stopped (embeddings done so far are cached)"
                    )));
                    break;
                }
            }
            progress.skipped = self.skipped.len();
            let elapsed = started.elapsed().as_secs_f64();
            if elapsed > 0.0 && embedded_since_start > 0 {
                progress.images_per_sec = embedded_since_start as f64 / elapsed;
                let per_item = elapsed / progress.done.max(1) as f64;
                progress.eta_secs = Some(per_item * (total - progress.done) as f64);
            }
            if last_sent.elapsed() >= Duration::from_millis(100) || progress.done == total {
                self.events.send(ScanEvent::Progress(progress));
                last_sent = Instant::now();
            }
            if self.index.is_none() {
                self.try_build_index()?;
                if self.index.is_some() && progress.done < total {
                    // Back to embedding the generations after the index.
                    self.events.send(ScanEvent::Phase(ScanPhase::Embedding));
                }
            }
            self.match_waiting()?;
        }
        // Files known by content are recorded too, so the next scan need not read them.
        self.cache
            .write(&self.model_key, &pending_files, &[], &[])?;
        drop(reports_rx);
        drop(workers);
        outcome
    }

    fn file_record(
        &mut self,
        slot: Slot,
        hash: ContentHash,
        embedded_prompt: Option<String>,
    ) -> FileRecord {
        let entry = &self.records(slot).entry;
        FileRecord {
            path: entry.abs_path.clone(),
            size_bytes: entry.size_bytes,
            mtime_ns: entry.mtime_ns,
            hash,
            embedded_prompt,
        }
    }

    fn training_fingerprint(&self) -> String {
        let mut hasher = blake3::Hasher::new();
        hasher.update(self.model_key.as_bytes());
        hasher.update(format!("{:?}", self.options.precision).as_bytes());
        for (i, record) in self.training.iter().enumerate() {
            if let (State::Ready, Some(hash)) = (record.state, record.hash) {
                hasher.update(&(i as u64).to_le_bytes());
                hasher.update(&hash);
            }
        }
        hasher.finalize().to_hex()[..16].to_string()
    }

    /// Builds (or reloads) the training index once no training image is pending.
    fn try_build_index(&mut self) -> Result<(), ScanError> {
        if self.index.is_some() || self.training.iter().any(|r| r.state == State::Pending) {
            return Ok(());
        }
        self.events.send(ScanEvent::Phase(ScanPhase::Indexing));
        let fingerprint = self.training_fingerprint();
        let path = self
            .project
            .index_dir()
            .join(format!("training-{fingerprint}.usearch"));
        if path.is_file() {
            match UsearchIndex::open(&path) {
                Ok(index) => {
                    self.events
                        .info(format!("training index reloaded from {}", path.display()));
                    self.index = Some(index);
                    self.training_vectors.clear();
                    return Ok(());
                }
                Err(err) => self.events.info(err.to_string()),
            }
        }
        let mut vectors: Vec<(u64, Vec<f32>)> = Vec::new();
        for (i, record) in self.training.iter().enumerate() {
            if record.state != State::Ready {
                continue;
            }
            let vector = match self.training_vectors.remove(&i) {
                Some(v) => Some(v),
                None => match record.hash {
                    Some(hash) => self.cache.vector(&self.model_key, &hash, "")?,
                    None => None,
                },
            };
            if let Some(vector) = vector {
                vectors.push((i as u64, vector));
            }
        }
        let dims = vectors.first().map_or(1, |(_, v)| v.len());
        let refs: Vec<(u64, &[f32])> = vectors.iter().map(|(k, v)| (*k, v.as_slice())).collect();
        let index = UsearchIndex::build(dims, self.options.precision, &refs)?;
        if let Err(err) = index.save(&path) {
            self.events.info(format!(
                "could not save the training index ({err}); it will be rebuilt next time"
            ));
        } else {
            remove_other_indexes(&self.project.index_dir(), &path);
        }
        self.events.info(format!(
            "training index built: {} images, {} search",
            index.len(),
            if index.is_exact() {
                "exact"
            } else {
                "approximate (HNSW)"
            }
        ));
        if vectors.is_empty() {
            self.events
                .info("the training set has no usable images: generations get no matches");
        }
        self.index = Some(index);
        Ok(())
    }

    /// The views of generation `i` (the whole image, its layout signature, and its regions
    /// when they were embedded): from this scan's embeddings or from the cache.
    fn generation_views(&mut self, i: usize) -> Result<Vec<(String, Vec<f32>)>, ScanError> {
        if let Some(views) = self.generation_vectors.remove(&i) {
            return Ok(views);
        }
        let Some(hash) = self.generations[i].hash else {
            return Ok(Vec::new());
        };
        Ok(self.cache.views(&self.model_key, &hash)?)
    }

    /// How well the layout of training image `key` agrees with `generation_layout`.
    fn layout_agreement(
        &self,
        key: u64,
        generation_layout: &[f32],
    ) -> Result<Option<f32>, ScanError> {
        let hash = usize::try_from(key)
            .ok()
            .and_then(|i| self.training.get(i))
            .and_then(|record| record.hash);
        let Some(hash) = hash else { return Ok(None) };
        Ok(self
            .cache
            .vector(&self.model_key, &hash, LAYOUT_VIEW)?
            .and_then(|training_layout| layout_agreement(generation_layout, &training_layout)))
    }

    /// Matches every generation that has its embedding, once the index is ready: the whole
    /// image, and each region when regions are on (see [`super::regions`]); then ranks the
    /// pool of candidates by layout agreement too (see [`crate::layout`]) and keeps top-k.
    fn match_waiting(&mut self) -> Result<(), ScanError> {
        if self.index.is_none() {
            return Ok(());
        }
        for i in std::mem::take(&mut self.waiting_generations) {
            let views = self.generation_views(i)?;
            let Some(index) = &self.index else { break };
            let Some((_, global)) = views.iter().find(|(name, _)| name.is_empty()) else {
                continue;
            };
            let top_k = self.options.top_k;
            let pool = if self.options.layout_rerank {
                top_k.max(RERANK_POOL)
            } else {
                top_k
            };
            let global_hits = index.search(global, pool)?;
            let mut region_hits = Vec::new();
            if self.regions {
                for (name, vector) in &views {
                    if let Some(cell) = regions::cell_of_view(name) {
                        region_hits.push((cell, index.search(vector, 3.min(top_k).max(1))?));
                    }
                }
            }
            let merged = regions::merge(&global_hits, &region_hits, pool);
            let generation_layout = views
                .iter()
                .find(|(name, _)| name == LAYOUT_VIEW)
                .map(|(_, layout)| layout.as_slice())
                .unwrap_or_default();
            let mut ranked = Vec::with_capacity(merged.len());
            for candidate in merged {
                let layout = self.layout_agreement(candidate.key, generation_layout)?;
                ranked.push((candidate, layout));
            }
            if self.options.layout_rerank {
                // Stable: equal scores keep SSCD's order.
                ranked.sort_by(|(a, la), (b, lb)| {
                    rank_score(b.similarity, *lb).total_cmp(&rank_score(a.similarity, *la))
                });
            }
            ranked.truncate(top_k);
            let best_cells = regions::best_per_region(&region_hits);
            let collage = regions::is_collage(&best_cells, self.options.threshold);
            let training_of = |key: u64| self.training.get(usize::try_from(key).ok()?);
            let matches = ranked
                .iter()
                .filter_map(|(candidate, layout)| {
                    let training = training_of(candidate.key)?;
                    Some((training, candidate, *layout))
                })
                .enumerate()
                .map(|(rank, (training, candidate, layout))| Match {
                    rank: rank + 1,
                    training: training.display.clone(),
                    similarity: candidate.similarity,
                    region: candidate.region,
                    layout,
                    training_path: training.entry.abs_path.clone(),
                    training_caption: training.text(),
                })
                .collect();
            let region_hits = best_cells
                .iter()
                .filter_map(|best| {
                    let training = training_of(best.key)?;
                    Some(RegionHit {
                        region: best.cell,
                        training: training.display.clone(),
                        training_path: training.entry.abs_path.clone(),
                        similarity: best.similarity,
                    })
                })
                .collect();
            let record = &self.generations[i];
            let result = GenerationMatches {
                generation: record.display.clone(),
                generation_path: record.entry.abs_path.clone(),
                prompt: record.text(),
                matches,
                region_hits,
                collage,
            };
            self.events.send(ScanEvent::Generation(result.clone()));
            self.results.push(result);
        }
        Ok(())
    }

    fn finish(
        mut self,
        started: Instant,
        notes: Vec<SkippedFile>,
        provider: String,
    ) -> ScanSummary {
        crate::matches::sort_by_top_similarity(&mut self.results);
        let threshold = self.options.threshold;
        let at_or_above = self
            .results
            .iter()
            .filter(|r| r.top_similarity().is_some_and(|s| s >= threshold))
            .count();
        let duplicates = self
            .results
            .iter()
            .filter(|r| {
                r.top_similarity()
                    .is_some_and(|s| s >= DUPLICATE_SIMILARITY)
            })
            .count();
        let training_images = self.index.as_ref().map_or(0, MatchIndex::len);
        let exact_search = self.index.as_ref().is_none_or(MatchIndex::is_exact);
        let elapsed_secs = started.elapsed().as_secs_f64();
        let images = self.results.len() + training_images;
        let last = LastScan {
            model_key: self.model_key.clone(),
            top_k: self.options.top_k,
            results: self.results.clone(),
            skipped: self.skipped.clone(),
        };
        match serde_json::to_vec(&last) {
            Ok(json) => {
                if let Err(err) = write_atomically(&self.project.last_scan_path(), &json) {
                    self.events
                        .info(format!("could not save the results in the project: {err}"));
                }
            }
            Err(err) => self
                .events
                .info(format!("could not save the results in the project: {err}")),
        }
        ScanSummary {
            generations: self.results.len(),
            training_images,
            skipped: self.skipped,
            notes,
            embedded: self.embedded,
            cached: self.cached,
            threshold,
            at_or_above_threshold: at_or_above,
            duplicates,
            elapsed_secs,
            images_per_sec: if elapsed_secs > 0.0 {
                images as f64 / elapsed_secs
            } else {
                0.0
            },
            model_key: self.model_key,
            execution_provider: provider,
            exact_search,
            regions: self.regions,
            collages: self.results.iter().filter(|r| r.collage).count(),
            project_dir: self.project.dir,
        }
    }
}

fn remove_other_indexes(dir: &Path, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let keep_name = keep.file_name();
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        if Some(name.as_os_str()) != keep_name && name.to_string_lossy().starts_with("training-") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
