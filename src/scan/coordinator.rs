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
mod sides;
mod start;
mod structure;

use emit::{Emitted, Tally};
use parallel::Views;
use sides::Sides;
use start::CascadeRun;

use crate::embed::provision::Found;
use crate::embed::{Embedder, ExecutionProvider};
use crate::project::Project;
use crate::project::cache::EmbeddingCache;
use crate::ranking::layout::LAYOUT_VIEW;
use crate::ranking::matching::{MatchSettings, structure_search};
use crate::ranking::regions;
use crate::scan::ScanEvent;
use crate::scan::ScanOptions;
use crate::scan::ScanPhase;
use crate::scan::ScanSummary;
use crate::scan::embedding::{self, EmbeddingRun, Needs, Outcome, RunSettings, Step};
use crate::scan::error::ScanError;
use crate::scan::events::EventSink;
use crate::scan::training::Training;
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
    models: ScanModels,
    sides: Sides,
    state: MatchState,
    emitted: Emitted,
    tally: Tally,
    /// The settings as asked and decided, saved with the results.
    settings: crate::ranking::matches::ScanSettings,
}

/// The models the scan runs, by the keys its embeddings and similarities carry.
struct ScanModels {
    /// The model whose embeddings fill the training index (the student with the cascade).
    model_key: crate::embed::ModelKey,
    /// The model whose cosine is reported as `similarity` (full SSCD with the cascade; the
    /// same as `model_key` without it).
    similarity_key: crate::embed::ModelKey,
    /// How matches are ranked, written on each (`sscd`, `sscd-distilled+sscd`).
    ranked_by: String,
    /// The shortlist cascade, when it runs.
    cascade: Option<CascadeRun>,
}

/// The match phase's state: which windows are searched, generations waiting for the index or
/// the fine windows, and what the scan learnt of the training side.
#[derive(Default)]
struct MatchState {
    /// Which region windows are searched: the coarse ones in every generation, the fine
    /// ones in generations still without a match at the threshold.
    regions: regions::RegionChoice,
    /// Generation views (whole image, layout thumbnail and regions) embedded by this scan,
    /// waiting for the index.
    generation_vectors: HashMap<usize, Views>,
    waiting_generations: Vec<usize>,
    /// Generations matched without reaching the threshold, held for the fine windows.
    /// With each, what its fine windows would cost in embeddings when they are kept for
    /// composites (0 otherwise).
    held_for_fine: Vec<(usize, usize)>,
    /// The training side's mean embedding and duplicate counts, as learnt.
    neighbours: neighbours::TrainingNeighbours,
    /// The training side's structure index, once the training index is ready (`Some(None)`
    /// when the ranking draws no structure candidates or none can be drawn).
    structure: Option<Option<Box<dyn crate::index::TrainingIndex>>>,
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
    let start::LoadedModels {
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
    let (regions, regions_reason) = start::decide_regions(
        options,
        events,
        generations.records.len(),
        training.records().len(),
        cascade.is_some(),
    );
    let settings = settings::settings(
        options,
        settings::Decided {
            similarity_key: &similarity_key,
            preprocessing,
            provider,
            regions: &regions,
            regions_reason,
            shortlist_size,
            shortlist_reason,
        },
    );
    let mut coordinator = Coordinator {
        options,
        events,
        project,
        cache,
        models: ScanModels {
            model_key,
            similarity_key,
            ranked_by,
            cascade,
        },
        sides: Sides {
            training,
            generations: generations.records,
        },
        state: MatchState {
            regions,
            ..MatchState::default()
        },
        emitted: Emitted::default(),
        tally: Tally {
            skipped,
            notes,
            truncated,
            ..Tally::default()
        },
        settings,
    };
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
        let mut plan = embedding::plan(
            &self.cache,
            &self.models.model_key,
            self.sides.images(),
            Needs {
                regions: self.state.regions.coarse,
                sizes: false,
            },
        )?;
        let ready = std::mem::take(&mut plan.ready);
        let to_process = plan.work.len();
        self.apply(ready);
        self.events.send(ScanEvent::Catalogued {
            generations: self.sides.generations.len(),
            training: self.sides.training.count(),
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
                            if let Training::Sources { pending, .. } = &mut self.sides.training {
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
                Outcome::Failed { slot, reason } => {
                    if let Some(file) = self.sides.mark_failed(slot, reason) {
                        self.tally.skip(self.events, file);
                    }
                }
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
        for file in self.sides.mark_ready(slot, hash, png_prompt, notes) {
            self.tally.note(self.events, file);
        }
        if let Slot::Generation(i) = slot {
            self.state.waiting_generations.push(i);
        }
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
        let mut run = EmbeddingRun::start(plan, self.sides.images(), embedder, &settings, cancel)?;
        loop {
            match run.next(&mut self.cache, &self.models.model_key, self.events)? {
                Step::Outcomes(outcomes) => self.apply(outcomes),
                Step::Done => break,
                Step::Cancelled => return Ok(false),
            }
            if self.sides.training.index().is_none() {
                self.try_build_index()?;
                if self.sides.training.index().is_some() {
                    // Back to embedding the generations after the index.
                    self.events.send(ScanEvent::Phase(ScanPhase::Embedding));
                }
            }
            self.match_waiting()?;
        }
        run.finish(&mut self.cache, &self.models.model_key)?;
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
        let Some(fine) = self.state.regions.fine else {
            return Ok(true);
        };
        let mut held = std::mem::take(&mut self.state.held_for_fine);
        // In generation order, not the order their embeddings arrived in (which the decoding
        // threads decide), so the same folders give the fine windows to the same generations
        // when the room runs out.
        held.sort_unstable_by_key(|(i, _)| *i);
        let budget = self.state.regions.fine_budget;
        let (held, rest) = fine::split_by_budget(held, budget, self.events);
        // Past the cost limit's room: matched as they are.
        self.match_in_parallel(&rest, false)?;
        if held.is_empty() {
            return Ok(true);
        }
        fine::announce(
            self.events,
            fine,
            held.len(),
            self.options.matching.threshold,
        );
        let entries: Vec<(Slot, crate::catalog::ImageEntry)> = held
            .iter()
            .map(|&i| (Slot::Generation(i), self.sides.generations[i].entry.clone()))
            .collect();
        let inputs = fine::FineInputs {
            options: self.options,
            events: self.events,
            cache: &mut self.cache,
            model_key: &self.models.model_key,
            already_skipped: self.tally.skipped.len(),
            library,
            model_file,
        };
        if !fine::embed_fine_windows(fine, &entries, inputs, cancel)? {
            return Ok(false);
        }
        // All their views now come from the cache, fine windows included; each is emitted
        // whatever it finds.
        self.match_in_parallel(&held, false)?;
        Ok(true)
    }

    /// Builds (or reloads) the project's index once no training image is pending.
    fn try_build_index(&mut self) -> Result<(), ScanError> {
        index::build_or_reload(
            &mut self.sides.training,
            &index::Inputs {
                options: self.options,
                events: self.events,
                project: &self.project,
                cache: &self.cache,
                model_key: &self.models.model_key,
            },
        )
    }

    /// The views of generation `i` (the whole image, its layout thumbnail, and its regions
    /// when they were embedded): from this scan's embeddings or from the cache.
    fn generation_views(&mut self, i: usize) -> Result<Views, ScanError> {
        if let Some(views) = self.state.generation_vectors.remove(&i) {
            return Ok(views);
        }
        let Some(hash) = self.sides.generations[i].hash else {
            return Ok(Vec::new());
        };
        Ok(self.cache.views(&self.models.model_key, &hash)?)
    }

    fn match_settings(&self) -> MatchSettings {
        MatchSettings {
            top_k: self.options.matching.top_k,
            threshold: self.options.matching.threshold,
            layout_rerank: self.options.matching.layout_rerank,
            centring: self.options.matching.centring && self.models.cascade.is_none(),
            ranking: self.options.matching.ranking,
            regions: self.state.regions,
        }
    }

    /// Matches every generation that has its embedding, once the index is ready; with the
    /// cascade, takes its shortlist instead (matched when re-scored, see [`rescore`]).
    fn match_waiting(&mut self) -> Result<(), ScanError> {
        if self.sides.training.index().is_none() {
            return Ok(());
        }
        self.state.neighbours.ensure_mean(
            self.options.matching.centring && self.models.cascade.is_none(),
            &self.sides.training,
            &self.cache,
            &self.models.model_key,
        )?;
        if self.state.structure.is_none() {
            self.state.structure = Some(structure::build(
                &self.sides.training,
                &self.cache,
                &self.models.model_key,
                self.options,
                self.events,
            )?);
        }
        let waiting = std::mem::take(&mut self.state.waiting_generations);
        if self.models.cascade.is_none() {
            return self.match_in_parallel(&waiting, true);
        }
        let settings = self.match_settings();
        for i in waiting {
            let views = self.generation_views(i)?;
            let Some(index) = self.sides.training.index() else {
                break;
            };
            let luma = views
                .iter()
                .find(|(name, _)| name == LAYOUT_VIEW)
                .map(|(_, luma)| luma.as_slice());
            let by_structure = match self.state.structure.as_ref().and_then(Option::as_deref) {
                Some(structure) => structure_search(structure, luma, settings)?,
                None => Vec::new(),
            };
            if let Some(cascade) = &mut self.models.cascade {
                cascade.take_shortlist(
                    i,
                    &views,
                    self.state.regions.coarse,
                    index,
                    &by_structure,
                )?;
            }
        }
        Ok(())
    }

    /// Matches `waiting` generations (whose embeddings are ready) over the training index,
    /// a batch at a time with the searches on all cores (see [`parallel`]); with `hold`, one
    /// left without a match at the threshold is held for the fine windows (when they are on)
    /// instead of emitted.
    fn match_in_parallel(&mut self, waiting: &[usize], hold: bool) -> Result<(), ScanError> {
        let settings = self.match_settings();
        for batch in waiting.chunks(parallel::BATCH) {
            let mut views = Vec::with_capacity(batch.len());
            for &i in batch {
                views.push((i, self.generation_views(i)?));
            }
            let Some(index) = self.sides.training.index() else {
                break;
            };
            let structure = self.state.structure.as_ref().and_then(Option::as_deref);
            let searched = parallel::search_batch(&views, index, structure, settings);
            let mut assembled = Vec::with_capacity(views.len());
            for ((i, views), searched) in views.into_iter().zip(searched) {
                let Some(searched) = searched? else {
                    continue;
                };
                // Kept for composites only: what this one's fine windows would cost, when it
                // looks like one.
                let composite = match (
                    hold,
                    self.state.regions.fine_budget,
                    self.state.regions.fine,
                ) {
                    (true, Some(_), Some(fine)) => fine::composite_cost(&views, fine),
                    _ => None,
                };
                let matched = self.sides.training.assemble(
                    &views,
                    searched,
                    &self.cache,
                    &self.models.model_key,
                    self.state.neighbours.mean.as_deref(),
                    settings,
                )?;
                if let Some(matched) = matched {
                    assembled.push((i, matched, composite));
                }
            }
            // Each matched training image's duplicate count is a search too.
            self.state.neighbours.count_duplicates(
                &self.sides.training,
                self.models.cascade.is_some(),
                assembled
                    .iter()
                    .flat_map(|(_, m, _)| m.matches.iter().filter_map(|m| m.index_key)),
            );
            for (i, matched, composite) in assembled {
                let reached = matched
                    .matches
                    .iter()
                    .any(|m| m.similarity >= self.options.matching.threshold);
                // Held for the fine windows unless they were among the views just searched
                // (cached by an earlier scan), or they go to composites only and this is not
                // one.
                let wanted = self.state.regions.fine_budget.is_none() || composite.is_some();
                if hold
                    && self.state.regions.fine.is_some()
                    && !reached
                    && !matched.fine_windows
                    && wanted
                {
                    self.state.held_for_fine.push((i, composite.unwrap_or(0)));
                } else {
                    self.emit(i, matched);
                }
            }
        }
        Ok(())
    }

    /// Runs the re-scoring phase when the cascade is on (see [`rescore`]): false when
    /// cancelled.
    fn rescore(&mut self, cancel: &Arc<AtomicBool>) -> Result<bool, ScanError> {
        let settings = self.match_settings();
        let Some(cascade) = &mut self.models.cascade else {
            return Ok(true);
        };
        let Some(scorer) = cascade.scorer.take() else {
            return Ok(true);
        };
        self.events.send(ScanEvent::Phase(ScanPhase::Rescoring));
        let Sides {
            training,
            generations,
        } = &mut self.sides;
        let shortlists = std::mem::take(&mut cascade.shortlists)
            .into_iter()
            .map(|(generation, keys)| rescore::Shortlisted {
                generation,
                entry: generations[generation].entry.clone(),
                hash: generations[generation].hash,
                keys,
            })
            .collect();
        let inputs = rescore::Inputs {
            options: self.options,
            events: self.events,
            cache: &mut self.cache,
            training,
            index_key: &self.models.model_key,
            score_key: &self.models.similarity_key,
            regions: self.state.regions,
            settings,
            structure: self.state.structure.as_ref().and_then(Option::as_deref),
            already_skipped: self.tally.skipped.len(),
        };
        let (events, emitted, tally) = (self.events, &mut self.emitted, &mut self.tally);
        let neighbours = &mut self.state.neighbours;
        let ranked_by = &self.models.ranked_by;
        let mut out = |rescored: rescore::Rescored| match rescored {
            rescore::Rescored::Matched {
                generation,
                matched,
                duplicate_counts,
            } => {
                for (key, count) in duplicate_counts {
                    neighbours.counts.entry(key).or_insert(count);
                }
                let mut duplicates = |key| neighbours.duplicate_count(training, true, key);
                let record = &generations[generation];
                emitted.emit(events, record, ranked_by, matched, &mut duplicates);
            }
            rescore::Rescored::Failed { generation, reason } => {
                if let Some(file) = sides::fail_generation(generations, generation, reason) {
                    tally.skip(events, file);
                }
            }
            rescore::Rescored::Note(file) => tally.note(events, file),
        };
        let Some(counts) = rescore::rescore(inputs, scorer, shortlists, &mut out, cancel)? else {
            return Ok(false);
        };
        let training_ready = self.sides.training.ready_count();
        if let Some(cascade) = &mut self.models.cascade {
            cascade.summary.rescored = counts.rescored;
            cascade.summary.rescored_embedded = counts.embedded;
            cascade.summary.full_embeddings_saved = training_ready.saturating_sub(counts.rescored);
            cascade.summary.duplicate_neighbours = counts.duplicate_neighbours;
        }
        Ok(true)
    }

    /// Sends and keeps generation `i`'s matches.
    fn emit(&mut self, i: usize, matched: crate::ranking::matching::Matched) {
        let cascade = self.models.cascade.is_some();
        let training = &self.sides.training;
        let neighbours = &mut self.state.neighbours;
        let mut duplicates = |key| neighbours.duplicate_count(training, cascade, key);
        self.emitted.emit(
            self.events,
            &self.sides.generations[i],
            &self.models.ranked_by,
            matched,
            &mut duplicates,
        );
    }

    fn finish(self, started: Instant, provider: ExecutionProvider) -> ScanSummary {
        let closing = emit::Closing {
            options: self.options,
            project: self.project,
            training: &self.sides.training,
            similarity_key: self.models.similarity_key,
            cascade: self.models.cascade.map(|c| c.summary),
            tally: self.tally,
            regions: self.state.regions.coarse.is_some(),
            settings: self.settings,
            provider,
            started,
        };
        self.emitted.finish(closing)
    }
}
