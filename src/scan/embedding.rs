//! The embedding phase shared by `scan` and `embed`: finding what the cache already knows (by
//! path, size and time, then by content), running the workers for the rest, and writing what
//! they produce to the cache as it comes, one transaction a batch.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use crate::catalog::ImageEntry;
use crate::decode::DecodeLimits;
use crate::embed::Embedder;
use crate::project::cache::{ContentHash, EmbeddingCache, FileRecord};
use crate::ranking::layout::LAYOUT_VIEW;
use crate::ranking::regions;
use crate::scan::Progress;
use crate::scan::ScanEvent;
use crate::scan::error::ScanError;
use crate::scan::events::EventSink;
use crate::scan::workers::{self, DecodeContext, Report, Slot, WorkItem, Workers};

/// What a run must have of each image before it counts as known.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Needs {
    /// Generations need their region views too, windowed as this plan says (`None`: regions
    /// off).
    pub regions: Option<regions::RegionPlan>,
    /// Images need their pixel size recorded (for embedding parts).
    pub sizes: bool,
}

/// What became of one image.
pub(crate) enum Outcome {
    /// Its embeddings are in the cache (from an earlier run, or a copy of it in this one).
    Cached {
        slot: Slot,
        hash: ContentHash,
        png_prompt: Option<String>,
        /// What was noted when it was embedded.
        notes: Vec<String>,
    },
    /// It was embedded now; its views are in the cache too.
    Embedded {
        slot: Slot,
        hash: ContentHash,
        png_prompt: Option<String>,
        /// The whole image (`""`) and its regions.
        views: Vec<(String, Vec<f32>)>,
        /// Its layout thumbnail, as stored under [`LAYOUT_VIEW`].
        luma: Vec<f32>,
        /// What a reviewer should know about how it was read.
        notes: Vec<String>,
    },
    /// It could not be used.
    Failed { slot: Slot, reason: String },
}

/// What the cache knows before the workers start.
pub(crate) struct Plan {
    /// Images already known, resolved without reading them.
    pub ready: Vec<Outcome>,
    /// Images to read.
    pub work: Vec<WorkItem>,
    known: HashSet<ContentHash>,
    known_with_regions: Option<HashSet<ContentHash>>,
    region_plan: regions::RegionPlan,
    failures: std::collections::HashMap<ContentHash, String>,
}

/// The hashes whose whole-image embedding and layout thumbnail are both cached (and, when
/// `needs.sizes`, their pixel size); with `needs.regions`, also the set whose every region is
/// embedded.
fn known_sets(
    cache: &EmbeddingCache,
    model_key: &crate::embed::ModelKey,
    needs: Needs,
) -> Result<(HashSet<ContentHash>, Option<HashSet<ContentHash>>), ScanError> {
    let mut known = cache.embedded_hashes(model_key, "")?;
    let layouts = cache.embedded_hashes(model_key, LAYOUT_VIEW)?;
    known.retain(|hash| layouts.contains(hash));
    if needs.sizes {
        let sized = cache.hashes_with_dimensions()?;
        known.retain(|hash| sized.contains(hash));
    }
    let with_regions = if let Some(plan) = needs.regions {
        let cells = plan.cell_count();
        let regional = cache.hashes_with_views(model_key, &plan.view_prefix(), cells)?;
        Some(known.intersection(&regional).copied().collect())
    } else {
        None
    };
    Ok((known, with_regions))
}

/// Sorts `images` into those the cache knows by path, size and time (and whose content is
/// embedded as `needs` asks), those it knows failed, and the work for the rest, in order.
pub(crate) fn plan<'a>(
    cache: &EmbeddingCache,
    model_key: &crate::embed::ModelKey,
    images: impl IntoIterator<Item = (Slot, &'a ImageEntry)>,
    needs: Needs,
) -> Result<Plan, ScanError> {
    let (known, known_with_regions) = known_sets(cache, model_key, needs)?;
    let failures = cache.failures()?;
    let mut ready = Vec::new();
    let mut work = Vec::new();
    for (slot, entry) in images {
        let found = cache.known_file(&entry.location, entry.size_bytes, entry.mtime_ns)?;
        let is_known = |hash: &ContentHash| match (&known_with_regions, slot) {
            (Some(with_regions), Slot::Generation(_)) => with_regions.contains(hash),
            _ => known.contains(hash),
        };
        match found {
            Some(file) if is_known(&file.hash) => ready.push(Outcome::Cached {
                slot,
                hash: file.hash,
                png_prompt: file.embedded_prompt,
                notes: cache.notes(&file.hash)?,
            }),
            Some(file) if failures.contains_key(&file.hash) => ready.push(Outcome::Failed {
                slot,
                reason: failures.get(&file.hash).cloned().unwrap_or_default(),
            }),
            _ => work.push(WorkItem {
                slot,
                location: entry.location.clone(),
            }),
        }
    }
    Ok(Plan {
        ready,
        work,
        known,
        known_with_regions,
        region_plan: needs.regions.unwrap_or_default(),
        failures,
    })
}

/// One step of a run.
pub(crate) enum Step {
    /// Images finished since the last step.
    Outcomes(Vec<Outcome>),
    /// Every image is finished.
    Done,
    /// The run was cancelled.
    Cancelled,
}

/// How the workers run.
pub(crate) struct RunSettings {
    pub batch_size: usize,
    pub decode_threads: usize,
    pub already_skipped: usize,
}

/// The workers embedding a plan's work, and the bookkeeping of their reports. Dropping it
/// stops the workers: the report channel closes first (fields drop in order), so no worker
/// stays blocked on it, then the workers are joined.
pub(crate) struct EmbeddingRun {
    reports: Receiver<Report>,
    workers: Option<Workers>,
    cancel: Arc<AtomicBool>,
    /// Work items by slot, for the file records written beside the embeddings.
    entries: std::collections::HashMap<Slot, (crate::catalog::ImageLocation, u64, i64)>,
    progress: Progress,
    started: Instant,
    last_sent: Instant,
    embedded_now: usize,
    pending_files: Vec<FileRecord>,
}

impl EmbeddingRun {
    /// Starts the workers on `plan`'s work. `sizes` maps each slot to its image entry, for
    /// the file records.
    pub(crate) fn start<'a>(
        plan: Plan,
        entries: impl IntoIterator<Item = (Slot, &'a ImageEntry)>,
        embedder: Box<dyn Embedder>,
        settings: &RunSettings,
        cancel: &Arc<AtomicBool>,
    ) -> Result<Self, ScanError> {
        let total = plan.work.len();
        let wanted: HashSet<Slot> = plan.work.iter().map(|w| w.slot).collect();
        let entries = entries
            .into_iter()
            .filter(|(slot, _)| wanted.contains(slot))
            .map(|(slot, e)| (slot, (e.location.clone(), e.size_bytes, e.mtime_ns)))
            .collect();
        let context = DecodeContext {
            items: plan.work,
            known: plan.known,
            known_with_regions: plan.known_with_regions,
            region_plan: plan.region_plan,
            failures: plan.failures,
            preprocess: embedder.preprocess().clone(),
            limits: DecodeLimits {
                alpha: embedder.preprocess().alpha,
                ..DecodeLimits::default()
            },
        };
        let (reports_tx, reports) = crossbeam_channel::bounded(256);
        let workers = workers::spawn(
            context,
            embedder,
            settings.batch_size,
            settings.decode_threads,
            cancel.clone(),
            reports_tx,
        )
        .map_err(ScanError::Threads)?;
        Ok(Self {
            reports,
            workers: Some(workers),
            cancel: cancel.clone(),
            entries,
            progress: Progress {
                total,
                skipped: settings.already_skipped,
                ..Progress::default()
            },
            started: Instant::now(),
            last_sent: Instant::now() - Duration::from_secs(1),
            embedded_now: 0,
            pending_files: Vec::new(),
        })
    }

    fn file_record(&self, slot: Slot, hash: ContentHash, prompt: Option<String>) -> FileRecord {
        let (location, size_bytes, mtime_ns) = self
            .entries
            .get(&slot)
            .cloned()
            .unwrap_or_else(|| (crate::catalog::ImageLocation::default(), 0, 0));
        FileRecord {
            location,
            size_bytes,
            mtime_ns,
            hash,
            embedded_prompt: prompt,
        }
    }

    /// Waits for the next report, writes what it brings to `cache` and returns the images it
    /// finished. Sends progress events at most ten times a second.
    pub(crate) fn next(
        &mut self,
        cache: &mut EmbeddingCache,
        model_key: &crate::embed::ModelKey,
        events: &EventSink,
    ) -> Result<Step, ScanError> {
        loop {
            if self.progress.done >= self.progress.total {
                return Ok(Step::Done);
            }
            if self.cancel.load(Ordering::Relaxed) {
                return Ok(Step::Cancelled);
            }
            match self.reports.recv_timeout(Duration::from_millis(100)) {
                Ok(report) => {
                    let outcomes = self.apply(report, cache, model_key)?;
                    self.send_progress(events);
                    return Ok(Step::Outcomes(outcomes));
                }
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => continue,
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                    return Err(ScanError::Runtime(
                        "the scan's workers stopped unexpectedly".into(),
                    ));
                }
            }
        }
    }

    fn apply(
        &mut self,
        report: Report,
        cache: &mut EmbeddingCache,
        model_key: &crate::embed::ModelKey,
    ) -> Result<Vec<Outcome>, ScanError> {
        match report {
            Report::Known {
                slot,
                hash,
                png_prompt,
            } => {
                self.progress.done += 1;
                self.pending_files
                    .push(self.file_record(slot, hash, png_prompt.clone()));
                Ok(vec![Outcome::Cached {
                    slot,
                    hash,
                    png_prompt,
                    notes: cache.notes(&hash)?,
                }])
            }
            Report::Failed {
                slot,
                hash,
                reason,
                remember,
            } => {
                self.progress.done += 1;
                self.progress.skipped += 1;
                if let Some(hash) = hash {
                    // The path is recorded too, so the next run knows it failed unread.
                    let file = self.file_record(slot, hash, None);
                    let failure = [(hash, reason.clone())];
                    let failures: &[(ContentHash, String)] = if remember { &failure } else { &[] };
                    cache.write(model_key, &[file], &[], failures)?;
                }
                Ok(vec![Outcome::Failed { slot, reason }])
            }
            Report::Embedded(items) => {
                self.progress.done += items.len();
                self.embedded_now += items.len();
                let mut vectors = Vec::new();
                let mut sizes = Vec::with_capacity(items.len());
                let mut outcomes = Vec::with_capacity(items.len());
                for item in items {
                    self.pending_files.push(self.file_record(
                        item.slot,
                        item.hash,
                        item.png_prompt.clone(),
                    ));
                    let luma: Vec<f32> = item.luma.iter().map(|&v| f32::from(v)).collect();
                    for view in &item.views {
                        vectors.push((item.hash, view.name.clone(), view.vector.clone()));
                    }
                    vectors.push((item.hash, LAYOUT_VIEW.to_string(), luma.clone()));
                    sizes.push((item.hash, item.size_px, item.notes.clone()));
                    outcomes.push(Outcome::Embedded {
                        slot: item.slot,
                        hash: item.hash,
                        png_prompt: item.png_prompt,
                        views: item.views.into_iter().map(|v| (v.name, v.vector)).collect(),
                        luma,
                        notes: item.notes,
                    });
                }
                let files = std::mem::take(&mut self.pending_files);
                cache.write_with_sizes(model_key, &files, &vectors, &sizes, &[])?;
                Ok(outcomes)
            }
            Report::InferenceFailed(message) => Err(ScanError::Runtime(format!(
                "{message}; the scan stopped (embeddings done so far are cached)"
            ))),
        }
    }

    fn send_progress(&mut self, events: &EventSink) {
        let elapsed = self.started.elapsed().as_secs_f64();
        if elapsed > 0.0 && self.embedded_now > 0 {
            self.progress.images_per_sec = self.embedded_now as f64 / elapsed;
            let per_item = elapsed / self.progress.done.max(1) as f64;
            self.progress.eta_secs =
                Some(per_item * (self.progress.total - self.progress.done) as f64);
        }
        if self.last_sent.elapsed() >= Duration::from_millis(100)
            || self.progress.done == self.progress.total
        {
            events.send(ScanEvent::Progress(self.progress));
            self.last_sent = Instant::now();
        }
    }

    /// Records the files found by content (so the next run need not read them) and stops the
    /// workers.
    pub(crate) fn finish(
        mut self,
        cache: &mut EmbeddingCache,
        model_key: &crate::embed::ModelKey,
    ) -> Result<(), ScanError> {
        let files = std::mem::take(&mut self.pending_files);
        cache.write(model_key, &files, &[], &[])?;
        drop(self.workers.take());
        Ok(())
    }
}

#[cfg(test)]
mod tests;
