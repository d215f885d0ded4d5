//! An open project on the desk, in three parts with one job each: the review domain (results,
//! labels, the store: [`ReviewState`]), the background jobs (scan, images, alignment, export:
//! [`Jobs`]) and what the reviewer is looking at ([`ViewState`]). Panels read them; only
//! [`crate::app::DeskApp`]'s one match over commands changes them, through the methods here.

mod jobs;
mod review;
mod view;

use jobs::ScanNews;
pub use jobs::{
    ExportStatus, MAX_UPLOADED, PairImages, ReportStatus, ScanStatus, Uploaded, texture_id,
};
pub use review::{PairAt, ReviewState};
pub use view::{LabelFilter, ListFilter, Mode, Question, SortKey, ViewState};

use crate::app::commands::{CompareCommand, GridCommand, ListCommand};
use crate::catalog::ImageLocation;
use crate::jobs::Waker;
use crate::project::export::{ExportSpec, spawn_export};
use crate::project::open::OpenedProject;
use crate::project::open::read_project;
use crate::ranking::matches::{GenerationMatches, Match};
use crate::review::{Label, ReviewError};
use crate::scan::ScanOptions;
use crate::scan::start_scan;

/// The background jobs of an open project.
pub struct Jobs {
    scan: ScanStatus,
    images: PairImages,
    export: ExportStatus,
    report: ReportStatus,
}

/// An open project on the desk.
pub struct Desk {
    review: ReviewState,
    jobs: Jobs,
    view: ViewState,
}

/// What applying a command needs from the settings.
#[derive(Debug, Clone, Copy)]
pub struct Reviewing<'a> {
    /// Who labels.
    pub reviewer: &'a str,
    /// The threshold.
    pub threshold: f32,
    /// Move to the next generation after a label in the pair view.
    pub auto_advance: bool,
}

impl Desk {
    /// Opens `project`: reads its label store and last results, blocking (the desk app opens
    /// projects with [`crate::project::open::spawn_open`] and [`Desk::from_opened`] instead).
    pub fn open(
        project: crate::project::Project,
        waker: Option<Waker>,
    ) -> Result<(Self, Vec<String>), ReviewError> {
        let reviewer = crate::review::default_reviewer();
        Ok(Self::from_opened(read_project(project)?, &reviewer, waker))
    }

    /// A desk on a project already read from disk, and what the reviewer must be told.
    pub fn from_opened(
        opened: OpenedProject,
        reviewer: &str,
        waker: Option<Waker>,
    ) -> (Self, Vec<String>) {
        let OpenedProject {
            project,
            review,
            labels,
            last,
            plan,
            reviewer_labels,
            adjudications,
            mut messages,
        } = opened;
        let mut review = ReviewState::new(project, review, labels, last.results, last.model_key);
        review.set_plan(plan);
        review.set_disputes(&reviewer_labels, &adjudications);
        review.go_blind(reviewer_labels, reviewer);
        if review.is_blind() {
            messages.push(format!(
                "Blind review: others have labelled this project, so only your labels ({reviewer}) are shown; a pair shows theirs once you label it"
            ));
        }
        let desk = Self {
            review,
            jobs: Jobs {
                scan: ScanStatus {
                    skipped: last.skipped,
                    settings: last.settings,
                    ..ScanStatus::default()
                },
                images: PairImages::new(waker),
                export: ExportStatus::default(),
                report: ReportStatus::default(),
            },
            view: ViewState::new(),
        };
        (desk, messages)
    }

    /// The review domain.
    pub fn review(&self) -> &ReviewState {
        &self.review
    }

    /// What the reviewer is looking at.
    pub fn view(&self) -> &ViewState {
        &self.view
    }

    /// The scan.
    pub fn scan(&self) -> &ScanStatus {
        &self.jobs.scan
    }

    /// The pair's images.
    pub fn images(&self) -> &PairImages {
        &self.jobs.images
    }

    /// The evidence report's status.
    pub fn report(&self) -> &ReportStatus {
        &self.jobs.report
    }

    /// The export.
    pub fn export(&self) -> &ExportStatus {
        &self.jobs.export
    }

    /// Whether a scan is running.
    pub fn scanning(&self) -> bool {
        self.jobs.scan.running()
    }

    /// The pair on screen, as indices.
    pub fn current_at(&self) -> Option<PairAt> {
        let i = self.view.selected()?;
        let result = self.review.result(i)?;
        let m = self.view.selected_match();
        (m < result.matches.len()).then_some((i, m))
    }

    /// The pair on screen.
    pub fn current(&self) -> Option<(&GenerationMatches, &Match)> {
        let (i, m) = self.current_at()?;
        let result = self.review.result(i)?;
        Some((result, result.matches.get(m)?))
    }

    /// The locations of the pair on screen, as the image and alignment caches key them.
    pub fn current_locations(&self) -> Option<(ImageLocation, ImageLocation)> {
        let (result, m) = self.current()?;
        Some((
            ImageLocation::File(result.generation_path.clone()),
            m.training_path.clone(),
        ))
    }

    /// The estimated alignment of the pair on screen, in texture pixels.
    pub fn current_alignment(&self) -> Option<&crate::align::Alignment> {
        self.jobs.images.alignment(&self.current_locations()?)
    }

    /// Starts a scan of the project's folders with `options` (replacing a running one).
    pub fn start_scan(&mut self, options: ScanOptions, waker: Option<Waker>) {
        self.jobs.scan.restart(start_scan(options, waker));
    }

    /// Asks the running scan to stop.
    pub fn cancel_scan(&mut self) {
        if let Some(handle) = &self.jobs.scan.handle {
            handle.cancel();
        }
    }

    /// Takes the background jobs' news (never blocks; at most `budget` scan events, so a
    /// burst of results cannot stall a frame) and keeps the pair on screen loading and
    /// aligning. Returns what the reviewer must be told.
    pub fn poll(&mut self, budget: usize, waker: Option<&Waker>) -> Vec<String> {
        let mut messages = self.poll_scan(budget);
        messages.extend(self.jobs.report.poll());
        messages.extend(self.jobs.export.poll_message());
        self.view.refresh(&self.review, self.scanning());
        if let Some((generation, training)) = self.current_locations() {
            self.jobs.images.want(generation.clone(), training.clone());
            let region = self.current().and_then(|(_, m)| m.region);
            self.jobs
                .images
                .poll_alignment(Some(((generation, training), region)), waker);
        } else {
            self.jobs.images.poll_alignment(None, waker);
        }
        messages
    }

    fn poll_scan(&mut self, budget: usize) -> Vec<String> {
        let mut messages = Vec::new();
        for news in self.jobs.scan.take_events(budget) {
            match news {
                ScanNews::Listed(listed) => {
                    self.review.list_pending(listed);
                    self.view.invalidate();
                }
                ScanNews::Generation(result) => {
                    self.review.upsert(*result);
                    self.view.invalidate();
                }
                ScanNews::Message(message) => messages.push(message),
                ScanNews::Ended { seen, model_key } => self.end_scan(seen.as_ref(), model_key),
            }
        }
        messages
    }

    fn end_scan(
        &mut self,
        seen: Option<&std::collections::HashSet<String>>,
        model_key: Option<crate::embed::ModelKey>,
    ) {
        let selected_name = self
            .view
            .selected()
            .and_then(|i| self.review.result(i))
            .map(|r| r.generation.clone());
        self.review.scan_ended(seen, model_key);
        self.view
            .reselect(selected_name.and_then(|name| self.review.index_of(&name)));
    }

    /// Loaded full-size images, for the app to upload.
    pub fn take_loaded_images(&mut self) -> Vec<crate::app::loader::LoadedImage> {
        self.jobs.images.take_loaded()
    }

    /// Records an uploaded image (see [`PairImages::uploaded`]).
    pub fn image_uploaded(
        &mut self,
        location: ImageLocation,
        image: crate::app::compare::CompareImage,
        original: (u32, u32),
        small: image::RgbImage,
    ) {
        self.jobs.images.uploaded(location, image, original, small);
    }

    /// Records an image that could not be loaded.
    pub fn image_failed(&mut self, location: ImageLocation, reason: String) {
        self.jobs.images.load_failed(location, reason);
    }

    /// Texture ids the GPU side must drop.
    pub fn take_evicted_textures(&mut self) -> Vec<u64> {
        self.jobs.images.take_evicted()
    }

    /// Shows the labels as reviewer `name` should see them (after the name is confirmed).
    pub fn use_reviewer(&mut self, name: &str) -> Result<(), String> {
        self.review.use_reviewer(name)?;
        self.view.invalidate();
        Ok(())
    }

    /// Starts or stops adjudicating: an adjudicator sees the labels of every disputed pair,
    /// even one they have not labelled.
    pub fn set_adjudicating(&mut self, on: bool) {
        self.review.set_adjudicating(on);
        self.view.invalidate();
    }

    /// Sets the final label of the disputed pair on screen (adjudication).
    pub fn adjudicate(&mut self, label: Label, reviewer: &str) -> Result<(), String> {
        let Some(at) = self.current_at() else {
            return Ok(());
        };
        self.review.adjudicate(at, label, reviewer)?;
        self.view.invalidate();
        Ok(())
    }

    /// Labels the pair on screen (pair view, then auto-advance) or the grid's selection
    /// (the cursor's generation when nothing is selected), in one transaction.
    pub fn label(&mut self, label: Option<Label>, how: Reviewing<'_>) -> Result<(), String> {
        match self.view.mode() {
            Mode::Pair => {
                let Some(at) = self.current_at() else {
                    return Ok(());
                };
                let next = self
                    .view
                    .selected_position()
                    .and_then(|p| self.view.order().get(p + 1).copied());
                self.review.label(&[at], label, how.reviewer)?;
                self.view.invalidate();
                if how.auto_advance
                    && let Some(next) = next
                {
                    self.view.select(next);
                }
                Ok(())
            }
            Mode::Grid => {
                let grid = self.view.grid();
                let mut targets: Vec<usize> = grid.selected.iter().copied().collect();
                if targets.is_empty() {
                    targets.extend(self.view.order().get(grid.cursor).copied());
                }
                let pairs: Vec<PairAt> = targets
                    .into_iter()
                    .filter(|&i| self.review.result(i).is_some_and(|r| !r.matches.is_empty()))
                    .map(|i| (i, 0))
                    .collect();
                self.review.label(&pairs, label, how.reviewer)?;
                self.view.invalidate();
                Ok(())
            }
        }
    }

    /// The unlabelled top pairs of the grid's page (what "label the rest distinct" labels).
    pub fn rest_of_page(&self) -> Vec<usize> {
        let grid = self.view.grid();
        self.view
            .order()
            .iter()
            .skip(grid.first)
            .take(grid.per_page())
            .copied()
            .filter(|&i| {
                self.review.result(i).is_some_and(|r| !r.matches.is_empty())
                    && self.review.pair_label((i, 0)).is_none()
            })
            .collect()
    }

    /// Asks whether to label the rest of the page distinct.
    pub fn ask_label_rest_of_page(&mut self) {
        let rest = self.rest_of_page();
        self.view
            .set_question((!rest.is_empty()).then_some(Question::LabelRestOfPage(rest)));
    }

    /// Answers yes to the open question.
    pub fn answer_question(&mut self, reviewer: &str) -> Result<(), String> {
        match self.view.question().cloned() {
            Some(Question::LabelRestOfPage(rest)) => {
                self.view.set_question(None);
                let pairs: Vec<PairAt> = rest.into_iter().map(|i| (i, 0)).collect();
                self.review.label(&pairs, Some(Label::Distinct), reviewer)?;
                self.view.invalidate();
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Closes the open question.
    pub fn dismiss_question(&mut self) {
        self.view.set_question(None);
    }

    /// Saves the note of the pair on screen.
    pub fn set_note(&mut self, text: &str, reviewer: &str) -> Result<(), String> {
        match self.current_at() {
            Some(at) => self.review.note(at, text, reviewer),
            None => Ok(()),
        }
    }

    /// Undoes (or redoes) `reviewer`'s own latest change and shows the pair it changed.
    pub fn undo(&mut self, redo: bool, reviewer: &str) -> Result<(), String> {
        let changes = self.review.step(redo, reviewer)?;
        if let Some(at) = changes.first().and_then(|c| self.review.find(&c.key))
            && self.view.mode() == Mode::Pair
        {
            self.view.select(at.0);
            let matches = self.review.result(at.0).map_or(0, |r| r.matches.len());
            self.view.select_match(at.1, matches);
        }
        self.view.invalidate();
        Ok(())
    }

    /// Selects generation `i`.
    pub fn select(&mut self, i: usize) {
        if i < self.review.results().len() {
            self.view.select(i);
        }
    }

    /// Selects match `m` of the generation on screen.
    pub fn select_match(&mut self, m: usize) {
        let matches = self
            .view
            .selected()
            .and_then(|i| self.review.result(i))
            .map_or(0, |r| r.matches.len());
        self.view.select_match(m, matches);
    }

    /// Moves the selection `step` generations along the list.
    pub fn move_generation(&mut self, step: isize) {
        let order = self.view.order();
        if order.is_empty() {
            return;
        }
        let next = match self.view.selected_position() {
            Some(p) => (p as isize + step).clamp(0, order.len() as isize - 1) as usize,
            None => 0,
        };
        let i = order[next];
        self.view.select(i);
    }

    /// Selects the next unlabelled generation at or above `threshold`; false when none.
    pub fn next_unlabelled(&mut self, threshold: f32) -> bool {
        let order = self.view.order();
        let n = order.len();
        let start = self.view.selected_position().map_or(0, |p| p + 1);
        let found = (0..n).map(|offset| order[(start + offset) % n]).find(|&i| {
            self.review
                .result(i)
                .and_then(GenerationMatches::top_similarity)
                .is_some_and(|s| s >= threshold)
                && self.review.generation_label(i).is_none()
        });
        match found {
            Some(i) => {
                self.view.select(i);
                true
            }
            None => false,
        }
    }

    /// Switches between the grid and the pair view.
    pub fn toggle_grid(&mut self) {
        match self.view.mode() {
            Mode::Pair => {
                let cursor = self.view.selected_position().unwrap_or(0);
                let grid = self.view.grid_mut();
                grid.cursor = cursor;
                grid.anchor = cursor;
                let per_page = grid.per_page();
                grid.first = cursor / per_page * per_page;
                self.view.set_mode(Mode::Grid);
            }
            Mode::Grid => self.open_grid_cursor(),
        }
    }

    fn open_grid_cursor(&mut self) {
        if let Some(&i) = self.view.order().get(self.view.grid().cursor) {
            self.view.select(i);
        }
        self.view.set_mode(Mode::Pair);
    }

    /// Applies a grid action.
    pub fn grid(&mut self, command: GridCommand) {
        if command == GridCommand::Open {
            self.open_grid_cursor();
            self.view.grid_mut().keep_cursor_page();
            return;
        }
        let order: Vec<usize> = self.view.order().to_vec();
        self.view.grid_mut().apply(command, &order);
    }

    /// Applies a change to the list.
    pub fn list(&mut self, command: ListCommand) {
        let filter = self.view.filter_mut();
        match command {
            ListCommand::Text(text) => filter.text = text,
            ListCommand::Sort(sort) => filter.sort = sort,
            ListCommand::Labels(labels) => filter.labels = labels,
            ListCommand::CollagesOnly(on) => filter.collages_only = on,
            ListCommand::PlanOnly(on) => filter.plan_only = on,
            ListCommand::DisputedOnly(on) => filter.disputed_only = on,
            ListCommand::Phrase(phrase) => filter.phrase = phrase,
            ListCommand::Similarity(min, max) => {
                filter.min_similarity = min.clamp(-1.0, 1.0);
                filter.max_similarity = max.clamp(-1.0, 1.0);
            }
        }
    }

    /// Applies a change to the compare view.
    pub fn compare(&mut self, command: CompareCommand) {
        let compare = self.view.compare_mut();
        match command {
            CompareCommand::NextMode => {
                let modes = crate::app::compare::CompareMode::ALL;
                let at = modes.iter().position(|m| *m == compare.mode).unwrap_or(0);
                compare.mode = modes[(at + 1) % modes.len()];
            }
            CompareCommand::Mode(mode) => compare.mode = mode,
            CompareCommand::ToggleAligned => compare.aligned = !compare.aligned,
            CompareCommand::ToggleCollageMap => compare.collage_map = !compare.collage_map,
            CompareCommand::ToggleStructureMap => {
                compare.structure_map = !compare.structure_map;
            }
            CompareCommand::Opacity(v) => compare.opacity = v.clamp(0.0, 1.0),
            CompareCommand::Gain(v) => compare.gain = v.clamp(0.5, 10.0),
            CompareCommand::Grayscale(on) => compare.grayscale = on,
            CompareCommand::Split(v) => compare.split = v.clamp(0.0, 1.0),
            CompareCommand::BlinkMs(ms) => compare.blink_ms = ms.clamp(150, 2000),
            CompareCommand::Fit => compare.fit(),
            CompareCommand::View { zoom, center } => {
                compare.zoom = zoom;
                compare.center = center;
            }
        }
    }

    /// Invalidates the list (a setting that orders or filters it changed).
    pub fn settings_changed(&mut self) {
        self.view.invalidate();
    }

    /// Starts exporting the review set off the UI thread (replacing a running export).
    pub fn start_export(
        &mut self,
        path: std::path::PathBuf,
        format: crate::export::ReviewFormat,
        overwrite: bool,
        waker: Option<Waker>,
    ) {
        let mut records: Vec<_> = self.review.records().cloned().collect();
        records.sort_by(|a, b| {
            (&a.generation, &a.training, &a.key).cmp(&(&b.generation, &b.training, &b.key))
        });
        let spec = ExportSpec {
            records,
            out: path,
            format,
            with_images: false,
            force: overwrite,
            names: self.review.current_names(),
            scope: self.review.project().scope(),
            review_path: self.review.project().review_path(),
        };
        self.jobs.export.progress = (0, 0);
        self.jobs.export.job = Some((spec.out.clone(), spawn_export(spec, waker)));
    }

    /// Draws a review plan of `per_band` generations per similarity band (seeded by the clock,
    /// the seed recorded), saves it in the project and lists only its generations.
    pub fn sample_plan(&mut self, per_band: usize) -> Result<(), String> {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs());
        let plan = crate::review::plan::sample(self.review.results(), per_band, seed);
        crate::review::plan::save(&self.review.project().dir, &plan)?;
        self.review.set_plan(Some(plan));
        self.view.filter_mut().plan_only = true;
        self.view.invalidate();
        Ok(())
    }

    /// Starts making the evidence report off the UI thread (for the statistics panel, and
    /// written to `out` when given), unless one is being made.
    pub fn start_report(
        &mut self,
        out: Option<std::path::PathBuf>,
        threshold: f32,
        waker: Option<Waker>,
    ) {
        if self.jobs.report.job.is_some() || self.scanning() {
            return;
        }
        // The scan's own threshold is the report's default; a slider moved elsewhere is a
        // threshold given to the report, and the report says which.
        let scans = self.jobs.scan.settings().map(|s| s.threshold);
        let options = crate::audit::AuditOptions {
            threshold: (scans != Some(threshold)).then_some(threshold),
            ..Default::default()
        };
        self.jobs.report.job = Some(crate::audit::job::spawn_report(
            self.review.project().dir.clone(),
            options,
            out,
            waker,
        ));
    }

    /// Cancels the report being made (its baseline's embedding stops after the batch in
    /// hand).
    pub fn cancel_report(&mut self) {
        if let Some(job) = &self.jobs.report.job {
            job.cancel();
        }
    }

    /// Cancels the running export.
    pub fn cancel_export(&mut self) {
        if let Some((_, job)) = &self.jobs.export.job {
            job.cancel();
        }
    }
}
