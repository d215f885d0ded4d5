//! The desk's background work: the scan, the full-size images of the pair on screen (one
//! owner of what is uploaded to the GPU, evicted by last use), the alignment of that pair
//! (latest wins), and an export.

use std::collections::{HashMap, HashSet};

use crate::align::Alignment;
use crate::align::job::AlignJob;
use crate::align::job::spawn_alignment;
use crate::app::compare::CompareImage;
use crate::app::loader::ImageLoader;
use crate::app::loader::ImageRequest;
use crate::app::loader::LoadedImage;
use crate::catalog::ImageLocation;
use crate::jobs::Waker;
use crate::project::export::{ExportEvent, ExportJob};
use crate::ranking::matches::SkippedFile;
use crate::scan::Progress;
use crate::scan::ScanEvent;
use crate::scan::ScanHandle;
use crate::scan::ScanPhase;
use crate::scan::ScanSummary;

/// A pair's two images (generation, training), as the caches key them.
pub type PairLocations = (ImageLocation, ImageLocation);

/// Full-size images kept uploaded at most; beyond this the least recently drawn go.
pub const MAX_UPLOADED: usize = 12;

/// The scan as the desk sees it.
#[derive(Default)]
pub struct ScanStatus {
    pub(super) handle: Option<ScanHandle>,
    pub(super) phase: Option<ScanPhase>,
    pub(super) progress: Progress,
    pub(super) skipped: Vec<SkippedFile>,
    pub(super) log: Vec<String>,
    pub(super) summary: Option<ScanSummary>,
    pub(super) failed: Option<String>,
    /// Generations matched by the running scan (the others are dropped when it finishes).
    pub(super) seen: HashSet<String>,
    /// How the results on the desk were made (the project's last scan, or the one just
    /// finished); `None` for results saved before settings were recorded.
    pub(super) settings: Option<crate::ranking::matches::ScanSettings>,
}

/// What the scan's events mean for the rest of the desk.
pub(super) enum ScanNews {
    /// The generations it will match, listed before any is matched.
    Listed(Vec<crate::scan::PendingGeneration>),
    /// A generation's matches.
    Generation(Box<crate::ranking::matches::GenerationMatches>),
    /// Something the reviewer must be told.
    Message(String),
    /// It ended: finished (with the generations it matched, and its model's key), failed or
    /// cancelled (neither).
    Ended {
        seen: Option<HashSet<String>>,
        model_key: Option<crate::embed::ModelKey>,
    },
}

impl ScanStatus {
    /// Follows a new scan (replacing a running one).
    pub(super) fn restart(&mut self, handle: ScanHandle) {
        self.handle = Some(handle);
        self.phase = None;
        self.progress = Progress::default();
        self.failed = None;
        self.seen.clear();
        self.log.clear();
        self.skipped.clear();
    }

    /// Takes at most `budget` of the scan's events (never blocks), keeping its phase,
    /// progress, log and skipped files; returns what the rest of the desk must hear.
    pub(super) fn take_events(&mut self, budget: usize) -> Vec<ScanNews> {
        let Some(handle) = &self.handle else {
            return Vec::new();
        };
        let events: Vec<ScanEvent> = handle.events.try_iter().take(budget).collect();
        let mut news = Vec::new();
        for event in events {
            match event {
                ScanEvent::Phase(phase) => self.phase = Some(phase),
                ScanEvent::Catalogued {
                    generations,
                    training,
                    to_process,
                } => {
                    self.log.push(format!(
                        "{generations} generations, {training} training images; {to_process} to read"
                    ));
                    self.progress.total = to_process;
                }
                ScanEvent::Listed(listed) => news.push(ScanNews::Listed(listed)),
                ScanEvent::Info(line) => self.log.push(line),
                ScanEvent::Progress(progress) => self.progress = progress,
                ScanEvent::Skipped(file) => self.skipped.push(file),
                ScanEvent::Generation(result) => {
                    self.seen.insert(result.generation.clone());
                    news.push(ScanNews::Generation(result));
                }
                ScanEvent::Finished(summary) => {
                    if let Some(error) = &summary.save_error {
                        news.push(ScanNews::Message(format!(
                            "The results could not be saved in the project: {error}"
                        )));
                    }
                    let seen = std::mem::take(&mut self.seen);
                    let model_key = summary.model_key.clone();
                    self.settings = Some(summary.settings.clone());
                    self.summary = Some(*summary);
                    self.handle = None;
                    news.push(ScanNews::Ended {
                        seen: Some(seen),
                        model_key: Some(model_key),
                    });
                }
                ScanEvent::Failed(message) => {
                    self.failed = Some(message);
                    self.handle = None;
                    news.push(ScanNews::Ended {
                        seen: None,
                        model_key: None,
                    });
                }
                ScanEvent::Cancelled => {
                    self.log.push("scan cancelled".into());
                    self.handle = None;
                    news.push(ScanNews::Ended {
                        seen: None,
                        model_key: None,
                    });
                }
            }
        }
        news
    }

    /// Whether a scan is running.
    pub fn running(&self) -> bool {
        self.handle.is_some()
    }
    /// Its phase.
    pub fn phase(&self) -> Option<ScanPhase> {
        self.phase
    }
    /// Its latest progress.
    pub fn progress(&self) -> Progress {
        self.progress
    }
    /// Files skipped (and notes), with reasons.
    pub fn skipped(&self) -> &[SkippedFile] {
        &self.skipped
    }
    /// The summary of the last finished scan.
    pub fn summary(&self) -> Option<&ScanSummary> {
        self.summary.as_ref()
    }
    /// Why the last scan failed.
    pub fn failed(&self) -> Option<&str> {
        self.failed.as_deref()
    }
    /// How the results on the desk were made.
    pub fn settings(&self) -> Option<&crate::ranking::matches::ScanSettings> {
        self.settings.as_ref()
    }
}

/// An uploaded image.
#[derive(Debug, Clone, Copy)]
pub struct Uploaded {
    /// The texture and its size.
    pub image: CompareImage,
    /// The decoded image's size before any scaling.
    pub original: (u32, u32),
    last_used: u64,
}

/// Full-resolution images of the pair on screen, and its alignment.
pub struct PairImages {
    loader: ImageLoader,
    uploaded: HashMap<ImageLocation, Uploaded>,
    failed: HashMap<ImageLocation, String>,
    wanted: Vec<ImageLocation>,
    /// Small copies (longest side at most 768 px) for estimating alignments.
    small: HashMap<ImageLocation, image::RgbImage>,
    alignments: HashMap<(ImageLocation, ImageLocation), Alignment>,
    align_job: Option<((ImageLocation, ImageLocation), AlignJob)>,
    clock: u64,
    evicted: Vec<u64>,
}

/// A stable texture id for an image's location (blake3, the same in every run).
pub fn texture_id(location: &ImageLocation) -> u64 {
    let hash = blake3::hash(&location.cache_key());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&hash.as_bytes()[..8]);
    u64::from_le_bytes(bytes).max(1)
}

impl PairImages {
    pub(super) fn new(waker: Option<Waker>) -> Self {
        Self {
            loader: ImageLoader::full_size(waker),
            uploaded: HashMap::new(),
            failed: HashMap::new(),
            wanted: Vec::new(),
            small: HashMap::new(),
            alignments: HashMap::new(),
            align_job: None,
            clock: 0,
            evicted: Vec::new(),
        }
    }

    /// The uploaded image at `location`, marking it used now.
    pub fn get(&self, location: &ImageLocation) -> Option<Uploaded> {
        self.uploaded.get(location).copied()
    }

    /// Why the image at `location` could not be loaded.
    pub fn failure(&self, location: &ImageLocation) -> Option<&str> {
        self.failed.get(location).map(String::as_str)
    }

    /// The estimated alignment of a pair, in texture pixels.
    pub fn alignment(&self, pair: &(ImageLocation, ImageLocation)) -> Option<&Alignment> {
        self.alignments.get(pair)
    }

    /// Asks for the images of the pair on screen (the newest request wins) and marks them
    /// used, so they are the last to be evicted.
    pub(super) fn want(&mut self, generation: ImageLocation, training: ImageLocation) {
        self.clock += 1;
        let wanted = vec![generation, training];
        for location in &wanted {
            if let Some(uploaded) = self.uploaded.get_mut(location) {
                uploaded.last_used = self.clock;
            }
        }
        if wanted == self.wanted {
            return;
        }
        let _ = self.loader.clear();
        for location in wanted.iter().rev() {
            if !self.uploaded.contains_key(location) && !self.failed.contains_key(location) {
                // The full-size loader keeps two requests: the pair's own never fall out.
                let _ = self.loader.request(ImageRequest {
                    location: location.clone(),
                    max_side: None,
                });
            }
        }
        self.wanted = wanted;
    }

    /// Loaded images, to upload.
    pub(super) fn take_loaded(&mut self) -> Vec<LoadedImage> {
        self.loader.ready()
    }

    /// Records an image as uploaded, with a small copy for alignment; evicts the least
    /// recently used beyond [`MAX_UPLOADED`] (never the pair on screen).
    pub(super) fn uploaded(
        &mut self,
        location: ImageLocation,
        image: CompareImage,
        original: (u32, u32),
        small: image::RgbImage,
    ) {
        self.clock += 1;
        self.uploaded.insert(
            location.clone(),
            Uploaded {
                image,
                original,
                last_used: self.clock,
            },
        );
        self.small.insert(location, small);
        while self.uploaded.len() > MAX_UPLOADED {
            let oldest = self
                .uploaded
                .iter()
                .filter(|(l, _)| !self.wanted.contains(l))
                .min_by_key(|(_, u)| u.last_used)
                .map(|(l, _)| l.clone());
            let Some(oldest) = oldest else { break };
            if let Some(gone) = self.uploaded.remove(&oldest) {
                self.evicted.push(gone.image.id);
            }
            self.small.remove(&oldest);
            self.alignments
                .retain(|(g, t), _| *g != oldest && *t != oldest);
        }
    }

    /// Records an image that could not be loaded.
    pub(super) fn load_failed(&mut self, location: ImageLocation, reason: String) {
        self.failed.insert(location, reason);
    }

    /// Texture ids evicted since the last call, for the GPU side to drop.
    pub(super) fn take_evicted(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.evicted)
    }

    /// Collects a finished alignment and starts one for `pair` (with `region` in generation
    /// pixels) once both its images are loaded. A job for another pair is dropped, which
    /// cancels it: only the pair on screen is estimated.
    pub(super) fn poll_alignment(
        &mut self,
        pair: Option<(PairLocations, Option<[u32; 4]>)>,
        waker: Option<&Waker>,
    ) {
        if let Some((key, job)) = &self.align_job
            && let Ok(Some(found)) = job.result.try_recv()
        {
            let key = key.clone();
            self.align_job = None;
            if let Some(in_textures) = self.in_textures(&key, found) {
                self.alignments.insert(key, in_textures);
            }
        }
        let Some((key, region)) = pair else {
            self.align_job = None;
            return;
        };
        if self.align_job.as_ref().is_some_and(|(k, _)| *k != key) {
            // Latest wins: the reviewer left that pair.
            self.align_job = None;
        }
        if self.alignments.contains_key(&key) || self.align_job.is_some() {
            return;
        }
        if let (Some(g), Some(t)) = (self.small.get(&key.0), self.small.get(&key.1)) {
            // The region is in generation pixels; the alignment runs on the small copy.
            let original_width = self
                .uploaded
                .get(&key.0)
                .map_or(g.width(), |u| u.original.0);
            let factor = g.width() as f32 / original_width.max(1) as f32;
            let region = region.map(|r| r.map(|v| (v as f32 * factor).round() as u32));
            let job = spawn_alignment(g.clone(), t.clone(), region, waker.cloned());
            self.align_job = Some((key, job));
        }
    }

    /// Whether an alignment is being estimated for `pair`.
    pub fn aligning(&self, pair: &(ImageLocation, ImageLocation)) -> bool {
        self.align_job.as_ref().is_some_and(|(k, _)| k == pair)
    }

    /// An alignment found on the small copies, in the uploaded textures' pixels.
    fn in_textures(
        &self,
        key: &(ImageLocation, ImageLocation),
        found: Alignment,
    ) -> Option<Alignment> {
        let (g, t) = (self.small.get(&key.0)?, self.small.get(&key.1)?);
        let (gi, ti) = (self.uploaded.get(&key.0)?, self.uploaded.get(&key.1)?);
        let (fgx, fgy) = (
            g.width() as f32 / gi.image.size[0],
            g.height() as f32 / gi.image.size[1],
        );
        let (ftx, fty) = (
            t.width() as f32 / ti.image.size[0],
            t.height() as f32 / ti.image.size[1],
        );
        let m = found.gen_to_train;
        let gen_to_train = [
            [m[0][0] * fgx / ftx, 0.0, m[0][2] / ftx],
            [0.0, m[1][1] * fgy / fty, m[1][2] / fty],
        ];
        Some(Alignment {
            gen_to_train,
            scale: gen_to_train[1][1],
            ..found
        })
    }
}

/// The evidence report: the one being made, and the last one made.
#[derive(Default)]
pub struct ReportStatus {
    pub(super) job: Option<crate::audit::job::ReportJob>,
    pub(super) last: Option<crate::export::report::AuditReport>,
    pub(super) error: Option<String>,
}

impl ReportStatus {
    /// Takes the report job's result once it has one; returns what the reviewer must be told.
    pub(super) fn poll(&mut self) -> Option<String> {
        let result = self.job.as_ref().and_then(|job| job.poll())?;
        let out = self.job.take().and_then(|job| job.out.clone());
        match result {
            Ok(report) => {
                self.last = Some(report);
                self.error = None;
                out.map(|path| format!("Evidence report written to {}", path.display()))
            }
            Err(why) => {
                let message = format!("The evidence report could not be made: {why}");
                self.error = Some(why);
                Some(message)
            }
        }
    }

    /// The last report made, for the statistics panel.
    pub fn last(&self) -> Option<&crate::export::report::AuditReport> {
        self.last.as_ref()
    }

    /// Why the last report could not be made.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Whether one is being made.
    pub fn running(&self) -> bool {
        self.job.is_some()
    }

    /// While a report embeds its baseline's training images: how many are done, of how many.
    pub fn embedding(&self) -> Option<(usize, usize)> {
        self.job.as_ref().and_then(|job| job.embedding())
    }
}

/// An export running off the UI thread, and how the last one ended.
#[derive(Default)]
pub struct ExportStatus {
    /// The file being written, and its job.
    pub(super) job: Option<(std::path::PathBuf, ExportJob)>,
    pub(super) progress: (usize, usize),
}

impl ExportStatus {
    /// The file being exported, while an export runs.
    pub fn running(&self) -> Option<&std::path::Path> {
        self.job.as_ref().map(|(out, _)| out.as_path())
    }

    /// Pairs done of pairs in all.
    pub fn progress(&self) -> (usize, usize) {
        self.progress
    }

    /// Takes the export's events; once it has ended, returns what the reviewer must be told.
    pub(super) fn poll_message(&mut self) -> Option<String> {
        let report = match self.poll()? {
            Ok(report) => report,
            Err(message) => return Some(message),
        };
        let images = report.images_dir.as_ref().map_or_else(String::new, |d| {
            format!(
                " ({} images copied into {})",
                report.images_copied,
                d.display()
            )
        });
        let problems = if report.problems.is_empty() {
            String::new()
        } else {
            format!(
                "; {} problems: {}",
                report.problems.len(),
                report.problems.join("; ")
            )
        };
        Some(format!(
            "Exported {} labelled pairs{images}{problems}",
            report.pairs
        ))
    }

    /// Takes the export's events; returns how it ended once it has.
    pub(super) fn poll(&mut self) -> Option<Result<crate::export::ExportReport, String>> {
        let (_, job) = self.job.as_ref()?;
        let mut ended = None;
        for event in job.events.try_iter() {
            match event {
                ExportEvent::Progress { done, total } => self.progress = (done, total),
                ExportEvent::Finished(outcome) => ended = Some(outcome),
            }
        }
        if ended.is_some() {
            self.job = None;
        }
        ended
    }
}
