//! The scan coordinator: catalogues both sides (or opens a prebuilt training index), resolves
//! what the cache already knows, runs the embedding phase for the rest, builds (or reloads)
//! the project's training index as soon as the training images are done, and matches each
//! generation as its embedding arrives.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

mod emit;
mod fine;
mod index;
mod neighbours;
mod parallel;
mod rescore;
mod settings;
mod start;

use start::CascadeRun;

use crate::embed::provision::Found;
use crate::embed::{Embedder, ExecutionProvider};
use crate::project::Project;
use crate::project::cache::EmbeddingCache;
use crate::project::last_scan::LastScan;
use crate::ranking::cascade::{self};
use crate::ranking::layout::LAYOUT_VIEW;
use crate::ranking::matches::DUPLICATE_SIMILARITY;
use crate::ranking::matches::{GenerationMatches, Side, SkippedFile, TruncatedShard};
use crate::ranking::matching::{MatchSettings, Searched, assemble, search_views};
use crate::ranking::regions;
use crate::scan::ScanEvent;
use crate::scan::ScanOptions;
use crate::scan::ScanPhase;
use crate::scan::ScanSummary;
use crate::scan::embedding::{self, EmbeddingRun, Needs, Outcome, RunSettings, Step};
use crate::scan::error::ScanError;
use crate::scan::events::EventSink;
use crate::scan::sources::{ImageRecord, State};
use crate::scan::training::{PrebuiltLookup, SourcesLookup, Training};
use crate::scan::workers::Slot;

pub(crate) fn run(options: &ScanOptions, events: &EventSink, cancel: &Arc<AtomicBool>) {
    let event = match scan(options, events, cancel) {
        Ok(Some(summary)) => ScanEvent::Finished(Box::new(summary)),
        Ok(None) => ScanEvent::Cancelled,
        Err(err) => {
            // The event carries the message to whoever shows it (the command line, the desk);
            // logging it too printed every failure twice.
            tracing::debug!("scan failed: {err}");
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
    keys: Keys,
    /// The shortlist cascade, when it runs.
    cascade: Option<CascadeRun>,
    training: Training,
    generations: Vec<ImageRecord>,
    /// Which region windows are searched: the coarse ones in every generation, the fine
    /// ones in generations still without a match at the threshold.
    regions: regions::RegionChoice,
    state: MatchState,
    tally: Tally,
    /// The settings as asked and decided, saved with the results.
    settings: crate::ranking::matches::ScanSettings,
}

/// Which model's keys the scan's embeddings and similarities carry.
struct Keys {
    /// The model whose embeddings fill the training index (the student with the cascade).
    model_key: crate::embed::ModelKey,
    /// The model whose cosine is reported as `similarity` (full SSCD with the cascade; the
    /// same as `model_key` without it).
    similarity_key: crate::embed::ModelKey,
    /// How matches are ranked, written on each (`sscd`, `sscd-distilled+sscd`).
    ranked_by: String,
}

/// The match phase's state: generations waiting for the index or the fine windows, and what
/// the matching found.
#[derive(Default)]
struct MatchState {
    /// Generation views (whole image, layout thumbnail and regions) embedded by this scan,
    /// waiting for the index.
    generation_vectors: HashMap<usize, Vec<(String, Vec<f32>)>>,
    waiting_generations: Vec<usize>,
    /// Generations matched without reaching the threshold, held for the fine windows.
    held_for_fine: Vec<usize>,
    /// The training side's mean embedding and duplicate counts, as learnt.
    neighbours: neighbours::TrainingNeighbours,
    results: Vec<GenerationMatches>,
}

/// What the scan counted and could not use, for its summary.
#[derive(Default)]
struct Tally {
    skipped: Vec<SkippedFile>,
    /// Notes about files that were scanned (odd names, partial decodes, cut prompts).
    notes: Vec<SkippedFile>,
    truncated: Vec<TruncatedShard>,
    embedded: usize,
    cached: usize,
    /// Blank region windows left unsearched in the generations' final matching.
    blank_windows: usize,
    /// Generations searched with fine windows.
    fine_searched: usize,
}

fn scan(
    options: &ScanOptions,
    events: &EventSink,
    cancel: &Arc<AtomicBool>,
) -> Result<Option<ScanSummary>, ScanError> {
    let started = Instant::now();
    let Some(listed) = start::catalogue_both(options, events, cancel)? else {
        return Ok(None);
    };
    let start::Listed {
        training,
        generations,
        skipped,
        notes,
        truncated,
    } = listed;
    // Held until the scan returns: one writer per project, so the folders, settings and
    // results a reader finds all belong to one scan.
    let (_lock, project) = start::open_project(options)?;
    let start::Models {
        first_embedder,
        cascade,
        model_key,
        similarity_key,
        ranked_by,
        provider,
        preprocessing,
        shortlist_size,
        shortlist_reason,
        library,
        model_file,
    } = start::load_models(options, events, &training, generations.records.len())?;
    let cache = EmbeddingCache::open(&project.cache_path())?;

    let mut coordinator = Coordinator {
        options,
        events,
        project,
        cache,
        keys: Keys {
            model_key,
            similarity_key,
            ranked_by,
        },
        cascade,
        training,
        generations: generations.records,
        regions: regions::RegionChoice::default(),
        state: MatchState::default(),
        tally: Tally {
            skipped,
            notes,
            truncated,
            ..Tally::default()
        },
        settings: Default::default(),
    };
    let (choice, regions_reason) = start::decide_regions(
        options,
        events,
        coordinator.generations.len(),
        coordinator.training.records().len(),
        coordinator.cascade.is_some(),
    );
    coordinator.settings = settings::settings(
        options,
        settings::Decided {
            similarity_key: &coordinator.keys.similarity_key,
            preprocessing,
            provider,
            regions: &choice,
            regions_reason,
            shortlist_size,
            shortlist_reason,
        },
    );
    coordinator.regions = choice;
    if !coordinator.run_phases(first_embedder, cancel, &library, &model_file)? {
        return Ok(None);
    }
    Ok(Some(coordinator.finish(started, provider)))
}

impl Coordinator<'_> {
    /// The phases after the models are loaded: what the cache knows, then embed the rest,
    /// index the training side, match, re-score (the cascade) and refine (the fine windows).
    /// `false` when cancelled.
    fn run_phases(
        &mut self,
        first_embedder: Box<dyn Embedder>,
        cancel: &Arc<AtomicBool>,
        library: &Found,
        model_file: &Found,
    ) -> Result<bool, ScanError> {
        let plan = embedding::plan(
            &self.cache,
            &self.keys.model_key,
            self.images(),
            Needs {
                regions: self.regions.coarse,
                sizes: false,
            },
        )?;
        let mut plan = plan;
        let ready = std::mem::take(&mut plan.ready);
        let to_process = plan.work.len();
        self.apply(ready);
        self.events.send(ScanEvent::Catalogued {
            generations: self.generations.len(),
            training: self.training.count(),
            to_process,
        });
        self.try_build_index()?;

        if to_process > 0 {
            self.events.send(ScanEvent::Phase(ScanPhase::Embedding));
            if !self.embed(plan, first_embedder, cancel)? {
                return Ok(false);
            }
        } else {
            drop(first_embedder);
        }
        self.try_build_index()?;
        self.match_waiting()?;
        if !self.rescore(cancel)? {
            return Ok(false);
        }
        if !self.refine(cancel, library, model_file)? {
            return Ok(false);
        }
        Ok(true)
    }

    /// Every image the scan embeds, training first (so the index can be built early).
    fn images(&self) -> Vec<(Slot, &crate::catalog::ImageEntry)> {
        self.training
            .records()
            .iter()
            .enumerate()
            .map(|(i, r)| (Slot::Training(i), &r.entry))
            .chain(
                self.generations
                    .iter()
                    .enumerate()
                    .map(|(i, r)| (Slot::Generation(i), &r.entry)),
            )
            .collect()
    }

    fn record(&mut self, slot: Slot) -> Option<&mut ImageRecord> {
        match slot {
            Slot::Training(i) => match &mut self.training {
                Training::Sources { catalogued, .. } => catalogued.records.get_mut(i),
                Training::Prebuilt(_) => None,
            },
            Slot::Generation(i) => self.generations.get_mut(i),
        }
    }

    /// Takes in what became of some images.
    fn apply(&mut self, outcomes: Vec<Outcome>) {
        for outcome in outcomes {
            match outcome {
                Outcome::Cached {
                    slot,
                    hash,
                    png_prompt,
                    notes,
                } => {
                    self.tally.cached += 1;
                    self.ready(slot, hash, png_prompt, notes);
                }
                Outcome::Embedded {
                    slot,
                    hash,
                    png_prompt,
                    mut views,
                    luma,
                    notes,
                } => {
                    self.tally.embedded += 1;
                    self.ready(slot, hash, png_prompt, notes);
                    match slot {
                        Slot::Training(i) => {
                            if let Training::Sources { pending, .. } = &mut self.training {
                                let whole = views
                                    .iter()
                                    .position(|(name, _)| name.is_empty())
                                    .map(|p| views.swap_remove(p).1)
                                    .unwrap_or_default();
                                pending.insert(i, whole);
                            }
                        }
                        Slot::Generation(i) => {
                            views.push((LAYOUT_VIEW.to_string(), luma));
                            self.state.generation_vectors.insert(i, views);
                        }
                    }
                }
                Outcome::Failed { slot, reason } => self.fail(slot, reason),
            }
        }
    }

    fn ready(
        &mut self,
        slot: Slot,
        hash: crate::project::cache::ContentHash,
        png_prompt: Option<String>,
        notes: Vec<String>,
    ) {
        let side = match slot {
            Slot::Training(_) => Side::Training,
            Slot::Generation(_) => Side::Generation,
        };
        if let Some(record) = self.record(slot) {
            record.hash = Some(hash);
            record.png_prompt = png_prompt;
            record.state = State::Ready;
            record.notes = notes.clone();
            let path = record.display.clone();
            for note in notes {
                let file = SkippedFile {
                    side,
                    path: path.clone(),
                    reason: note,
                };
                self.events.send(ScanEvent::Skipped(file.clone()));
                self.tally.notes.push(file);
            }
        }
        if let Slot::Generation(i) = slot {
            self.state.waiting_generations.push(i);
        }
    }

    fn fail(&mut self, slot: Slot, reason: String) {
        let side = match slot {
            Slot::Training(_) => Side::Training,
            Slot::Generation(_) => Side::Generation,
        };
        let Some(record) = self.record(slot) else {
            return;
        };
        record.state = State::Failed;
        let file = SkippedFile {
            side,
            path: record.display.clone(),
            reason,
        };
        self.events.send(ScanEvent::Skipped(file.clone()));
        self.tally.skipped.push(file);
    }

    /// Runs the embedding phase over `plan`'s work; false when cancelled.
    fn embed(
        &mut self,
        plan: embedding::Plan,
        embedder: Box<dyn Embedder>,
        cancel: &Arc<AtomicBool>,
    ) -> Result<bool, ScanError> {
        let settings = RunSettings {
            batch_size: self.options.batch_size,
            decode_threads: self.options.decode_threads,
            already_skipped: self.tally.skipped.len(),
        };
        let mut run = EmbeddingRun::start(plan, self.images(), embedder, &settings, cancel)?;
        loop {
            match run.next(&mut self.cache, &self.keys.model_key, self.events)? {
                Step::Outcomes(outcomes) => self.apply(outcomes),
                Step::Done => break,
                Step::Cancelled => return Ok(false),
            }
            if self.training.index().is_none() {
                self.try_build_index()?;
                if self.training.index().is_some() {
                    // Back to embedding the generations after the index.
                    self.events.send(ScanEvent::Phase(ScanPhase::Embedding));
                }
            }
            self.match_waiting()?;
        }
        run.finish(&mut self.cache, &self.keys.model_key)?;
        Ok(true)
    }

    /// The fine pass, coarse to fine: embeds the fine windows of every generation held for
    /// them (unless cached; see [`fine`]), then matches each over all its views: false when
    /// cancelled.
    fn refine(
        &mut self,
        cancel: &Arc<AtomicBool>,
        library: &Found,
        model_file: &Found,
    ) -> Result<bool, ScanError> {
        let Some(fine) = self.regions.fine else {
            return Ok(true);
        };
        let held = std::mem::take(&mut self.state.held_for_fine);
        if held.is_empty() {
            return Ok(true);
        }
        self.events.send(ScanEvent::Phase(ScanPhase::FineWindows));
        self.events.info(format!(
            "fine windows ({g}x{g} of {:.0}%) for {} generations without a match at {}",
            fine.window_share * 100.0,
            held.len(),
            self.options.matching.threshold,
            g = fine.grid,
        ));
        let entries: Vec<(Slot, crate::catalog::ImageEntry)> = held
            .iter()
            .map(|&i| (Slot::Generation(i), self.generations[i].entry.clone()))
            .collect();
        let inputs = fine::FineInputs {
            options: self.options,
            events: self.events,
            cache: &mut self.cache,
            model_key: &self.keys.model_key,
            already_skipped: self.tally.skipped.len(),
            library,
            model_file,
        };
        if !fine::embed_fine_windows(fine, &entries, inputs, cancel)? {
            return Ok(false);
        }
        // All their views now come from the cache, fine windows included; each is emitted
        // whatever it finds.
        let settings = self.match_settings();
        self.match_in_parallel(&held, settings, false)?;
        Ok(true)
    }

    /// Builds (or reloads) the project's index once no training image is pending.
    fn try_build_index(&mut self) -> Result<(), ScanError> {
        index::build_or_reload(
            &mut self.training,
            &index::Inputs {
                options: self.options,
                events: self.events,
                project: &self.project,
                cache: &self.cache,
                model_key: &self.keys.model_key,
            },
        )
    }

    /// The views of generation `i` (the whole image, its layout thumbnail, and its regions
    /// when they were embedded): from this scan's embeddings or from the cache.
    fn generation_views(&mut self, i: usize) -> Result<Vec<(String, Vec<f32>)>, ScanError> {
        if let Some(views) = self.state.generation_vectors.remove(&i) {
            return Ok(views);
        }
        let Some(hash) = self.generations[i].hash else {
            return Ok(Vec::new());
        };
        Ok(self.cache.views(&self.keys.model_key, &hash)?)
    }

    fn match_settings(&self) -> MatchSettings {
        MatchSettings {
            top_k: self.options.matching.top_k,
            threshold: self.options.matching.threshold,
            layout_rerank: self.options.matching.layout_rerank,
            centring: self.options.matching.centring && self.cascade.is_none(),
            ranking: self.options.matching.ranking,
            regions: self.regions,
        }
    }

    /// Matches every generation that has its embedding, once the index is ready; with the
    /// cascade, takes its shortlist instead (matched when re-scored, see [`Self::rescore`]).
    fn match_waiting(&mut self) -> Result<(), ScanError> {
        if self.training.index().is_none() {
            return Ok(());
        }
        self.state.neighbours.ensure_mean(
            self.options.matching.centring && self.cascade.is_none(),
            &self.training,
            &self.cache,
            &self.keys.model_key,
        )?;
        let settings = self.match_settings();
        let waiting = std::mem::take(&mut self.state.waiting_generations);
        if self.cascade.is_none() {
            return self.match_in_parallel(&waiting, settings, true);
        }
        for i in waiting {
            let views = self.generation_views(i)?;
            let Some(index) = self.training.index() else {
                break;
            };
            if let Some(cascade) = &mut self.cascade
                && views.iter().any(|(name, _)| name.is_empty())
            {
                let searched = views
                    .iter()
                    .filter(|(name, vector)| {
                        let searched_view = name.is_empty()
                            || self
                                .regions
                                .coarse
                                .is_some_and(|plan| plan.cell_of_view(name).is_some());
                        // Blank windows have no vector (see `src/ranking/blank.rs`).
                        searched_view && !vector.is_empty()
                    })
                    .map(|(_, v)| v.as_slice());
                let hits = cascade::shortlist(searched, index, cascade.size)?;
                cascade
                    .shortlists
                    .push((i, hits.into_iter().map(|h| h.key).collect()));
            }
        }
        Ok(())
    }

    /// Takes generation `i`'s matches: holds it for the fine windows when nothing reached
    /// the threshold and they are on (unless its fine windows, cached by an earlier scan, were
    /// among the views just searched), emits it otherwise.
    fn matched(&mut self, i: usize, matched: crate::ranking::matching::Matched) {
        let reached = matched
            .matches
            .iter()
            .any(|m| m.similarity >= self.options.matching.threshold);
        if self.regions.fine.is_some() && !reached && !matched.fine_windows {
            self.state.held_for_fine.push(i);
        } else {
            self.emit(i, matched);
        }
    }

    /// Matches one generation's views over `index`, naming training images (and reading
    /// their layout thumbnails) from this scan's training side.
    fn match_views(
        &self,
        views: &[(String, Vec<f32>)],
        index: &dyn crate::index::TrainingIndex,
        settings: MatchSettings,
    ) -> Result<Option<crate::ranking::matching::Matched>, ScanError> {
        match search_views(views, index, settings)? {
            Some(searched) => self.assemble_views(views, searched, settings),
            None => Ok(None),
        }
    }

    /// A generation's matches from its searched views, naming training images (and reading
    /// their layout thumbnails) from this scan's training side.
    fn assemble_views(
        &self,
        views: &[(String, Vec<f32>)],
        searched: Searched,
        settings: MatchSettings,
    ) -> Result<Option<crate::ranking::matching::Matched>, ScanError> {
        match &self.training {
            Training::Sources { catalogued, .. } => {
                let lookup = SourcesLookup {
                    records: &catalogued.records,
                    cache: &self.cache,
                    model_key: &self.keys.model_key,
                    mean: self.state.neighbours.mean.as_deref(),
                };
                assemble(views, searched, &lookup, settings)
            }
            Training::Prebuilt(prebuilt) => {
                assemble(views, searched, &PrebuiltLookup(&prebuilt.rows), settings)
            }
        }
    }

    /// Sends and keeps generation `i`'s matches.
    fn emit(&mut self, i: usize, mut matched: crate::ranking::matching::Matched) {
        self.tally.blank_windows += matched.blank_windows;
        self.tally.fine_searched += usize::from(matched.fine_windows);
        for m in &mut matched.matches {
            m.ranked_by = Some(self.keys.ranked_by.clone());
            m.duplicates = m.training_key.and_then(|key| {
                self.state
                    .neighbours
                    .duplicate_count(&self.training, self.cascade.is_some(), key)
            });
        }
        let record = &self.generations[i];
        let result = GenerationMatches {
            generation: record.display.clone(),
            generation_path: record.entry.location.file().to_path_buf(),
            generation_hash: record
                .hash
                .map(|h| blake3::Hash::from_bytes(h).to_hex().to_string()),
            prompt: record.text(),
            matches: matched.matches,
            region_hits: matched.region_hits,
            collage: matched.collage,
            notes: record.notes.clone(),
        };
        self.events.send(ScanEvent::Generation(result.clone()));
        self.state.results.push(result);
    }

    fn finish(mut self, started: Instant, provider: ExecutionProvider) -> ScanSummary {
        crate::ranking::matches::sort_by_top_similarity(&mut self.state.results);
        let threshold = self.options.matching.threshold;
        let at_or_above = emit::at_or_above(&self.state.results, threshold);
        let duplicates = emit::at_or_above(&self.state.results, DUPLICATE_SIMILARITY);
        let training_images = self.training.index().map_or(0, |index| index.len());
        let exact_search = self.training.index().is_none_or(|index| index.is_exact());
        let elapsed_secs = started.elapsed().as_secs_f64();
        let images = self.state.results.len() + self.training.records().len();
        let cascade = self.cascade.take().map(|c| c.summary);
        self.settings.exact_search = exact_search;
        let last = LastScan {
            settings: Some(self.settings.clone()),
            model_key: self.keys.similarity_key.clone(),
            cascade: cascade.clone(),
            top_k: self.options.matching.top_k,
            results: self.state.results.clone(),
            skipped: self.tally.skipped.clone(),
        };
        let save_error = emit::save_last_scan(&self.project, &last);
        if let Some(error) = &save_error {
            tracing::debug!("could not save the results in the project: {error}");
        }
        ScanSummary {
            generations: self.state.results.len(),
            training_images,
            skipped: self.tally.skipped,
            notes: self.tally.notes,
            truncated_shards: self.tally.truncated,
            embedded: self.tally.embedded,
            cached: self.tally.cached,
            threshold,
            at_or_above_threshold: at_or_above,
            duplicates,
            elapsed_secs,
            images_per_sec: if elapsed_secs > 0.0 {
                images as f64 / elapsed_secs
            } else {
                0.0
            },
            model_key: self.keys.similarity_key,
            cascade,
            execution_provider: provider.to_string(),
            exact_search,
            regions: self.regions.coarse.is_some(),
            fine_windows: self.tally.fine_searched,
            blank_windows: self.tally.blank_windows,
            collages: self.state.results.iter().filter(|r| r.collage).count(),
            training_index: self.options.training_index.clone(),
            save_error,
            project_dir: self.project.dir,
            settings: self.settings,
        }
    }
}
