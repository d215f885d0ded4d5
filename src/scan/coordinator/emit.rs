//! What the scan gives out: each generation's matches as they are found, what it counted and
//! could not use, and at the end the summary and the results saved in the project.

use std::time::Instant;

use crate::embed::{ExecutionProvider, ModelKey};
use crate::project::last_scan::LastScan;
use crate::project::{Project, write_atomically};
use crate::ranking::cascade::CascadeSummary;
use crate::ranking::matches::{DUPLICATE_SIMILARITY, ScanSettings};
use crate::ranking::matches::{GenerationMatches, SkippedFile, TruncatedShard};
use crate::ranking::matching::Matched;
use crate::scan::ScanEvent;
use crate::scan::events::EventSink;
use crate::scan::sources::ImageRecord;
use crate::scan::training::Training;
use crate::scan::{ScanOptions, ScanSummary};

/// What the scan counted and could not use, for its summary.
#[derive(Default)]
pub(super) struct Tally {
    pub(super) skipped: Vec<SkippedFile>,
    /// Notes about files that were scanned (odd names, partial decodes, cut prompts).
    pub(super) notes: Vec<SkippedFile>,
    pub(super) truncated: Vec<TruncatedShard>,
    pub(super) embedded: usize,
    pub(super) cached: usize,
}

impl Tally {
    /// Lists a file the scan could not use.
    pub(super) fn skip(&mut self, events: &EventSink, file: SkippedFile) {
        events.send(ScanEvent::Skipped(file.clone()));
        self.skipped.push(file);
    }

    /// Lists a note about a file the scan used.
    pub(super) fn note(&mut self, events: &EventSink, file: SkippedFile) {
        events.send(ScanEvent::Skipped(file.clone()));
        self.notes.push(file);
    }
}

/// What the summary needs besides the matches.
pub(super) struct Closing<'a> {
    pub(super) options: &'a ScanOptions,
    pub(super) project: Project,
    pub(super) training: &'a Training,
    /// The model whose cosine is each match's similarity.
    pub(super) similarity_key: ModelKey,
    pub(super) cascade: Option<CascadeSummary>,
    pub(super) tally: Tally,
    /// Whether coarse region windows were searched.
    pub(super) regions: bool,
    pub(super) settings: ScanSettings,
    pub(super) provider: ExecutionProvider,
    pub(super) started: Instant,
}

/// The generations' matches given out so far.
#[derive(Default)]
pub(super) struct Emitted {
    pub(super) results: Vec<GenerationMatches>,
    /// Blank region windows left unsearched in the generations' final matching.
    pub(super) blank_windows: usize,
    /// Generations searched with fine windows.
    pub(super) fine_searched: usize,
}

impl Emitted {
    /// Sends and keeps the matches of generation `record`, each marked with how it was
    /// ranked (`ranked_by`) and its training image's duplicate count (`duplicates`).
    pub(super) fn emit(
        &mut self,
        events: &EventSink,
        record: &ImageRecord,
        ranked_by: &str,
        mut matched: Matched,
        duplicates: &mut dyn FnMut(u64) -> Option<usize>,
    ) {
        self.blank_windows += matched.blank_windows;
        self.fine_searched += usize::from(matched.fine_windows);
        for m in &mut matched.matches {
            m.ranked_by = Some(ranked_by.to_string());
            m.duplicates = m.index_key.and_then(&mut *duplicates);
        }
        let result = GenerationMatches {
            generation: record.display.clone(),
            generation_path: record.entry.location.file().to_path_buf(),
            generation_hash: record
                .hash
                .map(|h| blake3::Hash::from_bytes(h).to_hex().to_string()),
            prompt: record.text(),
            prompt_source: record.prompt_source.clone(),
            key: record.entry.sample.as_ref().map(|s| s.key.clone()),
            url: record.entry.sample.as_ref().and_then(|s| s.url.clone()),
            matches: matched.matches,
            region_hits: matched.region_hits,
            collage: matched.collage,
            notes: record.notes.clone(),
        };
        events.send(ScanEvent::Generation(Box::new(result.clone())));
        self.results.push(result);
    }

    /// Sorts the matches, saves them in the project and sums up the scan.
    pub(super) fn finish(mut self, closing: Closing<'_>) -> ScanSummary {
        let Closing {
            options,
            project,
            training,
            similarity_key,
            cascade,
            tally,
            regions,
            mut settings,
            provider,
            started,
        } = closing;
        crate::ranking::matches::sort_by_top_similarity(&mut self.results);
        let threshold = options.matching.threshold;
        let reached = at_or_above(&self.results, threshold);
        let duplicates = at_or_above(&self.results, DUPLICATE_SIMILARITY);
        let training_images = training.index().map_or(0, |index| index.len());
        let exact_search = training.index().is_none_or(|index| index.is_exact());
        let elapsed_secs = started.elapsed().as_secs_f64();
        let images = self.results.len() + training.records().len();
        settings.exact_search = exact_search;
        let last = LastScan {
            settings: Some(settings.clone()),
            model_key: similarity_key.clone(),
            cascade: cascade.clone(),
            top_k: options.matching.top_k,
            results: self.results.clone(),
            skipped: tally.skipped.clone(),
        };
        let save_error = save_last_scan(&project, &last);
        if let Some(error) = &save_error {
            tracing::debug!("could not save the results in the project: {error}");
        }
        ScanSummary {
            generations: self.results.len(),
            training_images,
            skipped: tally.skipped,
            notes: tally.notes,
            truncated_shards: tally.truncated,
            embedded: tally.embedded,
            cached: tally.cached,
            threshold,
            at_or_above_threshold: reached,
            duplicates,
            elapsed_secs,
            images_per_sec: if elapsed_secs > 0.0 {
                images as f64 / elapsed_secs
            } else {
                0.0
            },
            model_key: similarity_key,
            cascade,
            execution_provider: provider.to_string(),
            exact_search,
            regions,
            fine_windows: self.fine_searched,
            blank_windows: self.blank_windows,
            collages: self.results.iter().filter(|r| r.collage).count(),
            prompt_sources: options
                .prompt_set
                .as_ref()
                .map(|_| prompt_sources(&self.results, threshold)),
            training_index: options.training_index.clone(),
            save_error,
            project_dir: project.dir,
            settings,
        }
    }
}

/// The generations linked to a prompt, by what their matches at or above `threshold` copy.
pub(crate) fn prompt_sources(
    results: &[GenerationMatches],
    threshold: f32,
) -> crate::prompts::analysis::SourceSplit {
    use crate::prompts::analysis::{SourceOutcome, SourceSplit};
    let outcomes: Vec<SourceOutcome> = results
        .iter()
        .filter_map(|r| {
            let source = r.prompt_source.as_ref()?;
            let replicated = r
                .matches
                .iter()
                .filter(|m| m.similarity >= threshold)
                .filter_map(|m| m.training_hash.as_deref());
            Some(SourceOutcome::of(replicated, &source.training_hash))
        })
        .collect();
    SourceSplit::of(&outcomes, "threshold")
}

/// How many generations' best match is at or above `similarity`.
fn at_or_above(results: &[GenerationMatches], similarity: f32) -> usize {
    results
        .iter()
        .filter(|r| r.top_similarity().is_some_and(|s| s >= similarity))
        .count()
}

/// Saves the project's folders, then `last` (one rename after the other: the scan's lock
/// keeps other writers out); why not, when they could not be saved.
fn save_last_scan(project: &Project, last: &LastScan) -> Option<String> {
    let last_path = project.last_scan_path();
    project
        .save_spec()
        .map_err(|err| err.to_string())
        .and_then(|()| {
            serde_json::to_vec(last).map_err(|err| format!("{}: {err}", last_path.display()))
        })
        .and_then(|json| {
            write_atomically(&last_path, &json).map_err(|err| {
                format!(
                    "{}: {err}; {}",
                    last_path.display(),
                    crate::fsutil::io_remedy(&err, "check that the project folder is writable")
                )
            })
        })
        .err()
}
