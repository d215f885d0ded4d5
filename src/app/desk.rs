//! The open project: its results, the list's order, the selection, the labels, the running
//! scan and the images of the pair on screen. Commands change it in [`Desk::apply`] only.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use super::commands::Command;
use super::compare::{CompareImage, CompareState};
use crate::align::Alignment;
use crate::catalog::ImageLocation;
use crate::matches::{GenerationMatches, Match, SkippedFile, sort_by_top_similarity};
use crate::pipeline::{AlignJob, spawn_alignment};
use crate::pipeline::{
    ImageLoader, ImageRequest, LoadedImage, OpenedProject, Progress, Project, ScanEvent,
    ScanHandle, ScanOptions, ScanPhase, ScanSummary, Waker, read_project, start_scan,
};
use crate::review::{Label, LabelRecord, PairContext, PairKey, ReviewError, ReviewStore};

/// How the list is sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum SortKey {
    /// Top-1 similarity, highest first.
    #[default]
    Similarity,
    /// File name.
    Name,
    /// Label (full copies first, unlabelled last).
    Label,
}

/// Which generations the list shows, by label state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum LabelFilter {
    /// All.
    #[default]
    All,
    /// With no label on any pair.
    Unlabelled,
    /// With at least one label.
    Labelled,
    /// With a full-copy label.
    FullCopy,
    /// With a near-copy label (and no full copy).
    NearCopy,
    /// Labelled distinct only.
    Distinct,
}

impl LabelFilter {
    /// Every filter, in menu order.
    pub const ALL: [LabelFilter; 6] = [
        Self::All,
        Self::Unlabelled,
        Self::Labelled,
        Self::FullCopy,
        Self::NearCopy,
        Self::Distinct,
    ];

    /// The name shown in the menu.
    pub fn title(self) -> &'static str {
        match self {
            Self::All => "All labels",
            Self::Unlabelled => "Unlabelled",
            Self::Labelled => "Labelled",
            Self::FullCopy => "Full copy",
            Self::NearCopy => "Near copy",
            Self::Distinct => "Distinct",
        }
    }
}

/// The list's sort and filters, and the order they give.
#[derive(Debug, Clone)]
pub struct ListState {
    /// The sort.
    pub sort: SortKey,
    /// Filter on the prompt and file name (case-insensitive).
    pub text: String,
    /// Lowest top-1 similarity shown.
    pub min_similarity: f32,
    /// Highest top-1 similarity shown.
    pub max_similarity: f32,
    /// Filter on labels.
    pub labels: LabelFilter,
    /// Show only generations marked as collages.
    pub collages_only: bool,
    /// Indices into the results, in list order.
    pub order: Vec<usize>,
    dirty: bool,
    rebuilt_at: Option<Instant>,
}

impl Default for ListState {
    fn default() -> Self {
        Self {
            sort: SortKey::Similarity,
            text: String::new(),
            min_similarity: -1.0,
            max_similarity: 1.0,
            labels: LabelFilter::All,
            collages_only: false,
            order: Vec::new(),
            dirty: true,
            rebuilt_at: None,
        }
    }
}

impl ListState {
    /// Asks for the order to be rebuilt.
    pub fn invalidate(&mut self) {
        self.dirty = true;
    }
}

/// The scan as the desk sees it.
#[derive(Default)]
pub struct ScanStatus {
    /// The running scan.
    pub handle: Option<ScanHandle>,
    /// Its phase.
    pub phase: Option<ScanPhase>,
    /// Its latest progress.
    pub progress: Progress,
    /// Files skipped (and notes), with reasons.
    pub skipped: Vec<SkippedFile>,
    /// Lines of its log.
    pub log: Vec<String>,
    /// The summary of the last finished scan.
    pub summary: Option<ScanSummary>,
    /// Why the last scan failed.
    pub failed: Option<String>,
    /// Generations seen by the running scan (those not seen are dropped when it finishes).
    seen: HashSet<String>,
}

/// Full-resolution images of the pair on screen, uploaded as GPU textures.
pub struct PairImages {
    loader: ImageLoader,
    /// Uploaded images by location.
    pub uploaded: HashMap<ImageLocation, (CompareImage, (u32, u32))>,
    /// Images that failed to load, with reasons.
    pub failed: HashMap<ImageLocation, String>,
    wanted: Vec<ImageLocation>,
    /// Small copies (longest side at most 768 px) for estimating alignments.
    small: HashMap<ImageLocation, image::RgbImage>,
    /// Estimated alignments by (generation, training), in texture pixels.
    pub alignments: HashMap<(ImageLocation, ImageLocation), Alignment>,
    align_job: Option<((ImageLocation, ImageLocation), AlignJob)>,
}

/// A stable texture id for an image's location (blake3, the same in every run).
pub fn texture_id(location: &ImageLocation) -> u64 {
    let hash = blake3::hash(&location.cache_key());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&hash.as_bytes()[..8]);
    u64::from_le_bytes(bytes).max(1)
}

/// An open project on the desk.
pub struct Desk {
    /// The project.
    pub project: Project,
    /// One entry per generation.
    pub results: Vec<GenerationMatches>,
    by_generation: HashMap<String, usize>,
    /// The label store.
    pub review: ReviewStore,
    /// Every pair's label record, mirrored from the store.
    pub labels: HashMap<PairKey, LabelRecord>,
    /// The list.
    pub list: ListState,
    /// The selected generation (index into `results`).
    pub selected: Option<usize>,
    /// The selected match of that generation.
    pub selected_match: usize,
    /// The scan.
    pub scan: ScanStatus,
    /// The model key of the results.
    pub model_key: String,
    /// The compare view's state.
    pub compare: CompareState,
    /// The note being edited, for the pair it belongs to.
    pub note: (Option<PairKey>, String),
    /// Images of the pair on screen.
    pub images: PairImages,
    /// Messages for the reviewer (errors from the store, say).
    pub messages: Vec<String>,
    /// How long the last label write took, for the status bar.
    pub last_write: Option<Duration>,
}

impl Desk {
    /// Opens `project`: reads its label store and last results, blocking (the desk app opens
    /// projects with [`crate::pipeline::spawn_open`] and [`Desk::from_opened`] instead).
    pub fn open(project: Project, waker: Option<Waker>) -> Result<Self, ReviewError> {
        Ok(Self::from_opened(read_project(project)?, waker))
    }

    /// A desk on a project already read from disk.
    pub fn from_opened(opened: OpenedProject, waker: Option<Waker>) -> Self {
        let OpenedProject {
            project,
            review,
            labels,
            last,
        } = opened;
        let labels = labels.into_iter().map(|r| (r.key.clone(), r)).collect();
        let mut desk = Self {
            project,
            results: Vec::new(),
            by_generation: HashMap::new(),
            review,
            labels,
            list: ListState::default(),
            selected: None,
            selected_match: 0,
            scan: ScanStatus {
                skipped: last.skipped,
                ..ScanStatus::default()
            },
            model_key: last.model_key,
            compare: CompareState::default(),
            note: (None, String::new()),
            images: PairImages {
                loader: ImageLoader::full_size(waker),
                uploaded: HashMap::new(),
                failed: HashMap::new(),
                wanted: Vec::new(),
                small: HashMap::new(),
                alignments: HashMap::new(),
                align_job: None,
            },
            messages: Vec::new(),
            last_write: None,
        };
        for result in last.results {
            desk.upsert(result);
        }
        desk
    }

    fn upsert(&mut self, result: GenerationMatches) {
        match self.by_generation.get(&result.generation) {
            Some(&i) => self.results[i] = result,
            None => {
                self.by_generation
                    .insert(result.generation.clone(), self.results.len());
                self.results.push(result);
            }
        }
        self.list.invalidate();
    }

    /// Starts a scan of the project's folders with `options` (replacing a running one).
    pub fn start_scan(&mut self, options: ScanOptions, waker: Option<Waker>) {
        self.scan.handle = Some(start_scan(options, waker));
        self.scan.phase = None;
        self.scan.progress = Progress::default();
        self.scan.failed = None;
        self.scan.seen.clear();
        self.scan.log.clear();
        self.scan.skipped.clear();
    }

    /// Whether a scan is running.
    pub fn scanning(&self) -> bool {
        self.scan.handle.is_some()
    }

    /// Takes the scan's events (never blocks; at most `budget` per frame, so a burst of
    /// results cannot stall a frame).
    pub fn poll_scan(&mut self, budget: usize) {
        let Some(handle) = &self.scan.handle else {
            return;
        };
        let events: Vec<ScanEvent> = handle.events.try_iter().take(budget).collect();
        for event in events {
            match event {
                ScanEvent::Phase(phase) => self.scan.phase = Some(phase),
                ScanEvent::Catalogued {
                    generations,
                    training,
                    to_process,
                } => {
                    self.scan.log.push(format!("{generations} generations, {training} training images; {to_process} to read"));
                    self.scan.progress.total = to_process;
                }
                ScanEvent::Info(line) => self.scan.log.push(line),
                ScanEvent::Progress(progress) => self.scan.progress = progress,
                ScanEvent::Skipped(file) => self.scan.skipped.push(file),
                ScanEvent::Generation(result) => {
                    self.scan.seen.insert(result.generation.clone());
                    if self.model_key.is_empty() || self.results.is_empty() {
                        self.model_key.clear();
                    }
                    self.upsert(result);
                }
                ScanEvent::Finished(summary) => {
                    self.model_key = summary.model_key.clone();
                    let seen = std::mem::take(&mut self.scan.seen);
                    let selected_name = self
                        .selected
                        .and_then(|i| self.results.get(i))
                        .map(|r| r.generation.clone());
                    self.results.retain(|r| seen.contains(&r.generation));
                    sort_by_top_similarity(&mut self.results);
                    self.by_generation = self
                        .results
                        .iter()
                        .enumerate()
                        .map(|(i, r)| (r.generation.clone(), i))
                        .collect();
                    self.selected =
                        selected_name.and_then(|name| self.by_generation.get(&name).copied());
                    self.scan.summary = Some(*summary);
                    self.scan.handle = None;
                    self.list.invalidate();
                }
                ScanEvent::Failed(message) => {
                    self.scan.failed = Some(message);
                    self.scan.handle = None;
                }
                ScanEvent::Cancelled => {
                    self.scan.log.push("scan cancelled".into());
                    self.scan.handle = None;
                }
            }
        }
        if self.model_key.is_empty() {
            if let Some(summary) = &self.scan.summary {
                self.model_key = summary.model_key.clone();
            }
        }
    }

    /// The most severe label on any pair of generation `i`.
    pub fn generation_label(&self, i: usize) -> Option<Label> {
        let result = self.results.get(i)?;
        let mut best: Option<Label> = None;
        for m in &result.matches {
            let key = PairKey {
                generation: result.generation.clone(),
                training: m.training.clone(),
            };
            if let Some(label) = self.labels.get(&key).and_then(|r| r.label) {
                let rank = |l: Label| Label::ALL.iter().position(|x| *x == l).unwrap_or(9);
                if best.is_none_or(|b| rank(label) < rank(b)) {
                    best = Some(label);
                }
            }
        }
        best
    }

    /// The label of one pair.
    pub fn pair_label(&self, generation: &str, training: &str) -> Option<&LabelRecord> {
        self.labels.get(&PairKey {
            generation: generation.into(),
            training: training.into(),
        })
    }

    /// Rebuilds the list order if it changed (at most every 200 ms while results stream in).
    pub fn refresh_list(&mut self) {
        if !self.list.dirty {
            return;
        }
        if self.scanning()
            && self
                .list
                .rebuilt_at
                .is_some_and(|t| t.elapsed() < Duration::from_millis(200))
        {
            return;
        }
        let needle = self.list.text.to_lowercase();
        let mut order: Vec<usize> = (0..self.results.len())
            .filter(|&i| {
                let r = &self.results[i];
                let top = r.top_similarity().unwrap_or(-1.0);
                if top < self.list.min_similarity || top > self.list.max_similarity {
                    return false;
                }
                if !needle.is_empty()
                    && !r.generation.to_lowercase().contains(&needle)
                    && !r
                        .prompt
                        .as_deref()
                        .is_some_and(|p| p.to_lowercase().contains(&needle))
                {
                    return false;
                }
                if self.list.collages_only && !r.collage {
                    return false;
                }
                let label = self.generation_label(i);
                match self.list.labels {
                    LabelFilter::All => true,
                    LabelFilter::Unlabelled => label.is_none(),
                    LabelFilter::Labelled => label.is_some(),
                    LabelFilter::FullCopy => label == Some(Label::FullCopy),
                    LabelFilter::NearCopy => label == Some(Label::NearCopy),
                    LabelFilter::Distinct => label == Some(Label::Distinct),
                }
            })
            .collect();
        let top = |i: usize| self.results[i].top_similarity().unwrap_or(-1.0);
        match self.list.sort {
            SortKey::Similarity => order.sort_by(|&a, &b| {
                top(b)
                    .total_cmp(&top(a))
                    .then_with(|| self.results[a].generation.cmp(&self.results[b].generation))
            }),
            SortKey::Name => {
                order.sort_by(|&a, &b| self.results[a].generation.cmp(&self.results[b].generation))
            }
            SortKey::Label => {
                let rank = |i: usize| {
                    self.generation_label(i)
                        .map_or(9, |l| Label::ALL.iter().position(|x| *x == l).unwrap_or(9))
                };
                order.sort_by(|&a, &b| rank(a).cmp(&rank(b)).then(top(b).total_cmp(&top(a))));
            }
        }
        self.list.order = order;
        self.list.dirty = false;
        self.list.rebuilt_at = Some(Instant::now());
        if self.selected.is_none() {
            if let Some(&first) = self.list.order.first() {
                self.select(first);
            }
        }
    }

    /// The generation and match on screen.
    pub fn current(&self) -> Option<(&GenerationMatches, &Match)> {
        let result = self.results.get(self.selected?)?;
        let m = result.matches.get(self.selected_match)?;
        Some((result, m))
    }

    fn current_key(&self) -> Option<(PairKey, PairContext)> {
        let (result, m) = self.current()?;
        Some((
            PairKey {
                generation: result.generation.clone(),
                training: m.training.clone(),
            },
            PairContext {
                rank: m.rank,
                similarity: m.similarity,
                model_key: self.model_key.clone(),
                prompt: result.prompt.clone(),
                training_caption: m.training_caption.clone(),
                generation_path: Some(result.generation_path.clone()),
                training_path: Some(m.training_path.clone()),
            },
        ))
    }

    fn select(&mut self, i: usize) {
        if self.selected != Some(i) {
            self.selected = Some(i);
            self.selected_match = 0;
            self.compare.fit();
        }
        self.sync_note();
        self.request_images();
    }

    fn select_match(&mut self, m: usize) {
        let count = self
            .selected
            .and_then(|i| self.results.get(i))
            .map_or(0, |r| r.matches.len());
        if count > 0 {
            self.selected_match = m.min(count - 1);
        }
        self.sync_note();
        self.request_images();
    }

    fn sync_note(&mut self) {
        let key = self.current_key().map(|(k, _)| k);
        if self.note.0 != key {
            let text = key
                .as_ref()
                .and_then(|k| self.labels.get(k))
                .map(|r| r.note.clone())
                .unwrap_or_default();
            self.note = (key, text);
        }
    }

    /// Asks for the full-resolution images of the pair on screen.
    pub fn request_images(&mut self) {
        let Some((result, m)) = self.current() else {
            return;
        };
        let wanted = vec![
            ImageLocation::File(result.generation_path.clone()),
            m.training_path.clone(),
        ];
        if wanted == self.images.wanted {
            return;
        }
        self.images.loader.clear();
        for path in wanted.iter().rev() {
            if !self.images.uploaded.contains_key(path) && !self.images.failed.contains_key(path) {
                self.images.loader.request(ImageRequest {
                    location: path.clone(),
                    max_side: None,
                });
            }
        }
        self.images.wanted = wanted;
    }

    /// Loaded full-resolution images, to upload.
    pub fn take_loaded_images(&mut self) -> Vec<LoadedImage> {
        self.images.loader.ready()
    }

    /// Records an uploaded image, with a small copy of it for alignment.
    pub fn image_uploaded(
        &mut self,
        path: ImageLocation,
        image: CompareImage,
        original: (u32, u32),
        small: image::RgbImage,
    ) {
        self.images.uploaded.insert(path.clone(), (image, original));
        self.images.small.insert(path, small);
        // Keep the record small: the GPU side keeps only a few textures anyway.
        if self.images.uploaded.len() > 8 {
            let wanted = self.images.wanted.clone();
            self.images.uploaded.retain(|p, _| wanted.contains(p));
            self.images.small.retain(|p, _| wanted.contains(p));
        }
    }

    /// Starts estimating the alignment of the pair on screen once both images are loaded,
    /// and collects a finished estimate (in texture pixels).
    pub fn poll_alignment(&mut self, waker: Option<&Waker>) {
        if let Some((key, job)) = &self.images.align_job {
            if let Ok(found) = job.result.try_recv() {
                let key = key.clone();
                self.images.align_job = None;
                if let (Some(g), Some(t), Some((gi, _)), Some((ti, _))) = (
                    self.images.small.get(&key.0),
                    self.images.small.get(&key.1),
                    self.images.uploaded.get(&key.0),
                    self.images.uploaded.get(&key.1),
                ) {
                    let (fgx, fgy) = (
                        g.width() as f32 / gi.size[0],
                        g.height() as f32 / gi.size[1],
                    );
                    let (ftx, fty) = (
                        t.width() as f32 / ti.size[0],
                        t.height() as f32 / ti.size[1],
                    );
                    let m = found.gen_to_train;
                    let gen_to_train = [
                        [m[0][0] * fgx / ftx, 0.0, m[0][2] / ftx],
                        [0.0, m[1][1] * fgy / fty, m[1][2] / fty],
                    ];
                    let in_textures = Alignment {
                        gen_to_train,
                        scale: gen_to_train[1][1],
                        ..found
                    };
                    self.images.alignments.insert(key, in_textures);
                }
            }
        }
        let Some((result, m)) = self.current() else {
            return;
        };
        let key = (
            ImageLocation::File(result.generation_path.clone()),
            m.training_path.clone(),
        );
        if self.images.alignments.contains_key(&key)
            || self
                .images
                .align_job
                .as_ref()
                .is_some_and(|(k, _)| *k == key)
        {
            return;
        }
        if let (Some(g), Some(t)) = (self.images.small.get(&key.0), self.images.small.get(&key.1)) {
            // The region is in generation pixels; the alignment runs on the small copy.
            let original_width = self
                .images
                .uploaded
                .get(&key.0)
                .map_or(g.width(), |(_, original)| original.0);
            let factor = g.width() as f32 / original_width.max(1) as f32;
            let region = m
                .region
                .map(|r| r.map(|v| (v as f32 * factor).round() as u32));
            let job = spawn_alignment(g.clone(), t.clone(), region, waker.cloned());
            self.images.align_job = Some((key, job));
        }
    }

    /// The alignment of the pair on screen, if estimated.
    pub fn current_alignment(&self) -> Option<&Alignment> {
        let (result, m) = self.current()?;
        self.images.alignments.get(&(
            ImageLocation::File(result.generation_path.clone()),
            m.training_path.clone(),
        ))
    }

    fn move_generation(&mut self, step: isize) {
        if self.list.order.is_empty() {
            return;
        }
        let pos = self
            .selected
            .and_then(|s| self.list.order.iter().position(|&i| i == s));
        let next = match pos {
            Some(p) => (p as isize + step).clamp(0, self.list.order.len() as isize - 1) as usize,
            None => 0,
        };
        self.select(self.list.order[next]);
    }

    fn next_unlabelled(&mut self, threshold: f32) -> bool {
        let n = self.list.order.len();
        let start = self
            .selected
            .and_then(|s| self.list.order.iter().position(|&i| i == s))
            .map_or(0, |p| p + 1);
        for offset in 0..n {
            let i = self.list.order[(start + offset) % n];
            if self.results[i]
                .top_similarity()
                .is_some_and(|s| s >= threshold)
                && self.generation_label(i).is_none()
            {
                self.select(i);
                return true;
            }
        }
        false
    }

    /// Applies one command. Label changes are committed to disk before this returns.
    pub fn apply(&mut self, command: &Command, reviewer: &str, threshold: f32) {
        match command {
            Command::SetLabel(label) => {
                let Some((key, context)) = self.current_key() else {
                    return;
                };
                let started = Instant::now();
                match self.review.set_label(&key, *label, reviewer, &context) {
                    Ok(record) => {
                        self.labels.insert(key, record);
                        self.list.invalidate();
                    }
                    Err(err) => self.messages.push(err.to_string()),
                }
                self.last_write = Some(started.elapsed());
            }
            Command::SetNote(text) => {
                let Some((key, context)) = self.current_key() else {
                    return;
                };
                let unchanged = self
                    .labels
                    .get(&key)
                    .map_or(text.is_empty(), |r| &r.note == text);
                if unchanged {
                    return;
                }
                match self.review.set_note(&key, text, reviewer, &context) {
                    Ok(record) => {
                        self.labels.insert(key, record);
                    }
                    Err(err) => self.messages.push(err.to_string()),
                }
            }
            Command::Undo | Command::Redo => {
                let change = if *command == Command::Undo {
                    self.review.undo()
                } else {
                    self.review.redo()
                };
                match change {
                    Ok(Some(change)) => {
                        match change.now {
                            Some(record) => self.labels.insert(change.key.clone(), record),
                            None => self.labels.remove(&change.key),
                        };
                        // Show the pair that changed.
                        if let Some(&i) = self.by_generation.get(&change.key.generation) {
                            self.select(i);
                            if let Some(m) = self.results[i]
                                .matches
                                .iter()
                                .position(|m| m.training == change.key.training)
                            {
                                self.select_match(m);
                            }
                        }
                        self.note.0 = None;
                        self.sync_note();
                        self.list.invalidate();
                    }
                    Ok(None) => {}
                    Err(err) => self.messages.push(err.to_string()),
                }
            }
            Command::NextGeneration => self.move_generation(1),
            Command::PreviousGeneration => self.move_generation(-1),
            Command::NextMatch => self.select_match(self.selected_match + 1),
            Command::PreviousMatch => self.select_match(self.selected_match.saturating_sub(1)),
            Command::NextUnlabelled if !self.next_unlabelled(threshold) => {
                self.messages.push(format!(
                    "No unlabelled generation at or above {threshold:.2} in the list."
                ));
            }
            Command::SelectGeneration(i) if *i < self.results.len() => self.select(*i),
            Command::SelectMatch(m) => self.select_match(*m),
            Command::NextCompareMode => {
                let modes = super::compare::CompareMode::ALL;
                let at = modes
                    .iter()
                    .position(|m| *m == self.compare.mode)
                    .unwrap_or(0);
                self.compare.mode = modes[(at + 1) % modes.len()];
            }
            Command::ToggleAlignment => self.compare.aligned = !self.compare.aligned,
            Command::ToggleCollageMap => self.compare.collage_map = !self.compare.collage_map,
            Command::CancelScan => {
                if let Some(handle) = &self.scan.handle {
                    handle.cancel();
                }
            }
            _ => {}
        }
    }
}
