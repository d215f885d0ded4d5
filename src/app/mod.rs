//! The review desk: an eframe app on the wgpu renderer. Panels draw and push [`Command`]s;
//! [`DeskApp::logic`] applies them in one place each frame, polls the background jobs and
//! uploads images; [`DeskApp::ui`] only draws.

pub mod commands;
pub mod compare;
mod desk;
mod dialogs;
mod frame_stats;
mod help;
mod list;
mod pair;
pub mod settings;
mod stats;
mod status;
mod thumbs;
mod welcome;
mod window;

pub use window::run;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

pub use commands::Command;
pub use desk::{Desk, LabelFilter, SortKey};
pub use settings::Settings;

use crate::export::{ReviewFormat, export_review_set};
use crate::pipeline::{
    ModelRequest, OpenJob, Project, ProjectSource, ProjectSpec, ScanOptions, Waker, spawn_open,
};
use dialogs::{DialogPurpose, Dialogs};
use frame_stats::FrameStats;
use settings::{RecentProject, ThemeChoice};
use thumbs::ThumbnailCache;
use welcome::WelcomeState;

/// How the desk starts.
#[derive(Debug, Clone, PartialEq)]
pub enum StartMode {
    /// The last project, or the welcome screen.
    Resume,
    /// These folders (a scan starts at once).
    Folders {
        /// The generations folder.
        generations: PathBuf,
        /// The training sources (folders or tar shards).
        training: Vec<PathBuf>,
        /// A training index to match against instead of training sources.
        training_index: Option<PathBuf>,
        /// The project folder, when not the default.
        project: Option<PathBuf>,
    },
    /// An existing project folder.
    Project(PathBuf),
}

/// An export waiting for the reviewer's answer to "replace the existing file?".
struct PendingOverwrite {
    path: PathBuf,
    format: ReviewFormat,
}

/// The desk application.
pub struct DeskApp {
    settings: Settings,
    desk: Option<Desk>,
    /// A project being read off the UI thread, and whether to scan it once open.
    opening: Option<(OpenJob, bool)>,
    welcome: WelcomeState,
    commands: Vec<Command>,
    thumbs: ThumbnailCache,
    dialogs: Dialogs,
    frames: FrameStats,
    waker: Option<Waker>,
    render_state: Option<eframe::egui_wgpu::RenderState>,
    help_open: bool,
    skipped_open: bool,
    overwrite: Option<PendingOverwrite>,
    notices: Vec<String>,
    frame_started: Option<Instant>,
    frames_logged: Instant,
    regions: crate::pipeline::regions::RegionMode,
    model_override: Option<ModelRequest>,
}

impl DeskApp {
    /// Builds the app from eframe's creation context.
    pub fn new(cc: &eframe::CreationContext<'_>, start: StartMode) -> Self {
        let settings: Settings = cc
            .storage
            .and_then(|s| eframe::get_value(s, Settings::STORAGE_KEY))
            .unwrap_or_default();
        let ctx = cc.egui_ctx.clone();
        let waker: Waker = Arc::new(move || ctx.request_repaint());
        if let Some(render_state) = &cc.wgpu_render_state {
            compare::CompareResources::install(render_state);
        }
        let mut app = Self {
            settings,
            desk: None,
            opening: None,
            welcome: WelcomeState::default(),
            commands: Vec::new(),
            thumbs: ThumbnailCache::new(800, Some(waker.clone())),
            dialogs: Dialogs::new(Some(waker.clone())),
            frames: FrameStats::default(),
            waker: Some(waker),
            render_state: cc.wgpu_render_state.clone(),
            help_open: false,
            skipped_open: false,
            overwrite: None,
            notices: Vec::new(),
            frame_started: None,
            frames_logged: Instant::now(),
            regions: crate::pipeline::regions::RegionMode::Auto,
            model_override: None,
        };
        app.apply_theme(&cc.egui_ctx);
        match start {
            StartMode::Resume => {
                if let Some(dir) = app
                    .settings
                    .last_project
                    .clone()
                    .filter(|d| d.join("project.json").is_file())
                {
                    app.commands.push(Command::OpenProject(dir));
                }
            }
            StartMode::Folders {
                generations,
                training,
                training_index,
                project,
            } => app.commands.push(Command::OpenFolders {
                generations,
                training,
                training_index,
                project,
            }),
            StartMode::Project(dir) => app.commands.push(Command::OpenProject(dir)),
        }
        app
    }

    /// Uses this model request for scans instead of the settings' model (the command line's
    /// `--ort-lib`, `--device` and friends).
    pub fn with_model(mut self, request: ModelRequest) -> Self {
        self.model_override = Some(request);
        self
    }

    /// Matches regions of generations as `mode` says (the command line's `--regions`).
    pub fn with_regions(mut self, mode: crate::pipeline::regions::RegionMode) -> Self {
        self.regions = mode;
        self
    }

    /// The open project's desk, if any (for tests).
    pub fn desk(&self) -> Option<&Desk> {
        self.desk.as_ref()
    }

    /// Queues a command as a panel would (for tests and scripted use).
    pub fn push(&mut self, command: Command) {
        self.commands.push(command);
    }

    /// The settings (for tests).
    pub fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }

    /// Notices shown to the reviewer (for tests).
    pub fn notices(&self) -> &[String] {
        &self.notices
    }

    fn apply_theme(&self, ctx: &egui::Context) {
        ctx.set_theme(match self.settings.theme {
            ThemeChoice::System => egui::ThemePreference::System,
            ThemeChoice::Dark => egui::ThemePreference::Dark,
            ThemeChoice::Light => egui::ThemePreference::Light,
        });
    }

    fn model_request(&self) -> ModelRequest {
        self.model_override.clone().unwrap_or_else(|| ModelRequest {
            choice: crate::embed::ModelChoice::parse(&self.settings.model),
            ..ModelRequest::default()
        })
    }

    fn scan_options(&self, project: &Project) -> ScanOptions {
        let mut options = ScanOptions::new(
            project.spec.generations.clone(),
            project.spec.training.clone(),
        );
        options.training_index = project.spec.training_index.clone();
        options.project_dir = Some(project.dir.clone());
        options.model = self.model_request();
        options.top_k = self.settings.top_k.clamp(1, 100);
        options.threshold = self.settings.threshold;
        options.regions = self.regions;
        options
    }

    /// Starts reading a project off the UI thread (replacing one being read); the desk opens
    /// on it when [`Self::poll_opening`] sees it ready.
    fn open_project(&mut self, source: ProjectSource, scan: bool) {
        self.opening = Some((spawn_open(source, self.waker.clone()), scan));
    }

    /// Opens the desk on the project being read, once it is ready.
    fn poll_opening(&mut self) {
        let Some((job, scan)) = &self.opening else {
            return;
        };
        let scan = *scan;
        let opened = match job.result.try_recv() {
            Ok(opened) => opened,
            Err(crossbeam_channel::TryRecvError::Empty) => return,
            Err(crossbeam_channel::TryRecvError::Disconnected) => {
                Err("the project could not be read (its reader stopped)".into())
            }
        };
        self.opening = None;
        match opened {
            Ok(opened) => {
                let mut desk = Desk::from_opened(opened, self.waker.clone());
                self.settings.remember(RecentProject {
                    dir: desk.project.dir.clone(),
                    generations: desk.project.spec.generations.clone(),
                    training: desk.project.spec.training.clone(),
                    training_index: desk.project.spec.training_index.clone(),
                });
                if scan {
                    let options = self.scan_options(&desk.project);
                    desk.start_scan(options, self.waker.clone());
                }
                self.desk = Some(desk);
            }
            Err(err) => self.notices.push(err),
        }
    }

    fn apply(&mut self, ctx: &egui::Context, command: Command) {
        match command {
            Command::OpenFolders {
                generations,
                training,
                training_index,
                project,
            } => {
                if training.is_empty() && training_index.is_none() {
                    self.notices.push(
                        "Choose at least one training folder or shard, or a training index.".into(),
                    );
                    return;
                }
                let dir = project.unwrap_or_else(|| {
                    Project::default_dir(&generations, &training, training_index.as_deref())
                });
                let absolute = crate::pipeline::project::absolute;
                let spec = ProjectSpec {
                    generations: absolute(&generations),
                    training: training.iter().map(|t| absolute(t)).collect(),
                    training_index: training_index.as_deref().map(absolute),
                    model: self.settings.model.clone(),
                };
                self.open_project(ProjectSource::Folders { dir, spec }, true);
            }
            Command::OpenProject(dir) => self.open_project(ProjectSource::Existing(dir), true),
            Command::CloseProject => {
                self.desk = None;
                self.settings.last_project = None;
            }
            Command::PickGenerations => self.dialogs.open(DialogPurpose::Generations, None),
            Command::PickTraining => self.dialogs.open(DialogPurpose::Training, None),
            Command::PickTrainingShard => self.dialogs.open(DialogPurpose::TrainingShard, None),
            Command::PickTrainingIndex => self.dialogs.open(DialogPurpose::TrainingIndex, None),
            Command::PickExport => self.dialogs.open(
                DialogPurpose::Export,
                self.desk.as_ref().map(|d| d.project.dir.clone()),
            ),
            Command::ToggleHelp => self.help_open = !self.help_open,
            Command::ToggleStats => self.settings.show_stats = !self.settings.show_stats,
            Command::StartScan => {
                if let Some(desk) = &self.desk {
                    let options = self.scan_options(&desk.project);
                    if let Some(desk) = &mut self.desk {
                        desk.start_scan(options, self.waker.clone());
                    }
                }
            }
            Command::Export {
                path,
                format,
                overwrite,
            } => self.export(path, format, overwrite),
            other => {
                if let Some(desk) = &mut self.desk {
                    desk.apply(&other, &self.settings.reviewer, self.settings.threshold);
                    self.notices.append(&mut desk.messages);
                }
            }
        }
        ctx.request_repaint();
    }

    fn export(&mut self, path: PathBuf, format: ReviewFormat, overwrite: bool) {
        let Some(desk) = &self.desk else { return };
        if path.exists() && !overwrite {
            self.overwrite = Some(PendingOverwrite { path, format });
            return;
        }
        let records: Vec<_> = desk.labels.values().cloned().collect();
        let mut records = records;
        records.sort_by(|a, b| {
            a.key
                .generation
                .cmp(&b.key.generation)
                .then(a.key.training.cmp(&b.key.training))
        });
        match export_review_set(&records, &path, format, false, overwrite) {
            Ok(report) => self.notices.push(format!(
                "Exported {} labelled pairs to {}",
                report.pairs,
                path.display()
            )),
            Err(err) => self.notices.push(err.to_string()),
        }
    }

    fn handle_dialog_answers(&mut self) {
        for (purpose, answer) in self.dialogs.answers() {
            let Some(path) = answer else { continue };
            match purpose {
                DialogPurpose::Generations => self.welcome.generations = Some(path),
                DialogPurpose::Training | DialogPurpose::TrainingShard => {
                    if !self.welcome.training.contains(&path) {
                        self.welcome.training.push(path);
                    }
                }
                DialogPurpose::TrainingIndex => self.welcome.training_index = Some(path),
                DialogPurpose::Project => self.commands.push(Command::OpenProject(path)),
                DialogPurpose::Export => {
                    let format = ReviewFormat::for_path(&path);
                    // The save dialog already asked about replacing the file.
                    self.commands.push(Command::Export {
                        path,
                        format,
                        overwrite: true,
                    });
                }
            }
        }
    }

    fn handle_dropped_files(&mut self, ctx: &egui::Context) {
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        });
        for path in dropped {
            if path.join("project.json").is_file() {
                self.commands.push(Command::OpenProject(path));
            } else if path.join(crate::index::prebuilt::MANIFEST_FILE).is_file() {
                self.welcome.training_index = Some(path);
            } else if path.is_file() && crate::catalog::is_shard_name(&path) {
                if !self.welcome.training.contains(&path) {
                    self.welcome.training.push(path);
                }
            } else if path.is_dir() {
                if self.welcome.generations.is_none() {
                    self.welcome.generations = Some(path);
                } else if !self.welcome.training.contains(&path) {
                    self.welcome.training.push(path);
                }
            } else {
                self.notices.push(format!(
                    "{} is not a folder; drop a folder of images, a .tar shard, a training index or a project folder.",
                    path.display()
                ));
            }
        }
    }

    fn upload_images(&mut self) {
        let Some(desk) = &mut self.desk else { return };
        for loaded in desk.take_loaded_images() {
            let path = loaded.request.location.clone();
            match &loaded.result {
                Ok(levels) => {
                    let Some(base) = levels.first() else { continue };
                    let id = desk::texture_id(&path);
                    if let Some(render_state) = &self.render_state {
                        compare::CompareResources::upload(render_state, id, levels);
                    }
                    let image = compare::CompareImage {
                        id,
                        size: [base.width() as f32, base.height() as f32],
                    };
                    // The first level no larger than 768 px, for estimating alignments.
                    let small = levels
                        .iter()
                        .find(|l| l.width().max(l.height()) <= 768)
                        .unwrap_or(base);
                    let small = image::DynamicImage::ImageRgba8(small.clone()).into_rgb8();
                    desk.image_uploaded(path, image, loaded.original_size, small);
                }
                Err(reason) => {
                    desk.images.failed.insert(path, reason.clone());
                }
            }
        }
    }
}

impl eframe::App for DeskApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.frame_started = Some(Instant::now());
        self.commands.extend(commands::from_keys(ctx));
        self.handle_dialog_answers();
        self.handle_dropped_files(ctx);
        self.poll_opening();
        if let Some(desk) = &mut self.desk {
            // A cached re-scan delivers thousands of results at once; 500 a frame keeps each
            // frame short (measured: 2,000 a frame made the p95 frame 15 ms on 10,000 results).
            desk.poll_scan(500);
            desk.refresh_list();
        }
        self.thumbs.poll(ctx);
        self.upload_images();
        if let Some(desk) = &mut self.desk {
            desk.poll_alignment(self.waker.as_ref());
        }
        for command in std::mem::take(&mut self.commands) {
            self.apply(ctx, command);
        }
        if let Some(desk) = &mut self.desk {
            desk.refresh_list();
            if desk.scanning() {
                ctx.request_repaint_after(std::time::Duration::from_millis(250));
            }
        }
        let title = self.desk.as_ref().map_or_else(
            || "Replicant".to_string(),
            |d| {
                format!(
                    "Replicant — {}",
                    d.project
                        .spec
                        .generations
                        .file_name()
                        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
                )
            },
        );
        ctx.send_viewport_cmd(egui::ViewportCommand::Title(title));
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        self.apply_theme(&ctx);
        let mut out = Vec::new();
        egui::Panel::top("menu").show(ui, |ui| self.menu_ui(ui, &mut out));
        match &mut self.desk {
            Some(desk) => {
                egui::Panel::bottom("status").show(ui, |ui| {
                    status::status_ui(
                        ui,
                        desk,
                        &self.frames,
                        &self.settings,
                        &mut self.skipped_open,
                        &mut out,
                    )
                });
                egui::Panel::left("generations")
                    .resizable(true)
                    .default_size(self.settings.list_width)
                    .size_range(260.0..=720.0)
                    .show(ui, |ui| {
                        list::list_ui(ui, desk, &mut self.thumbs, &self.settings, &mut out);
                        self.settings.list_width = ui.min_rect().width();
                    });
                if self.settings.show_stats {
                    egui::Panel::right("stats")
                        .resizable(true)
                        .default_size(300.0)
                        .show(ui, |ui| stats::stats_ui(ui, desk, &self.settings));
                }
                egui::CentralPanel::default_margins().show(ui, |ui| {
                    pair::pair_ui(ui, desk, &mut self.thumbs, &self.settings, &mut out)
                });
            }
            None => {
                let opening = self.opening.is_some();
                egui::CentralPanel::default_margins().show(ui, |ui| {
                    if opening {
                        ui.horizontal(|ui| {
                            ui.spinner();
                            ui.label("Opening the project (reading its labels and last results)…");
                        });
                    }
                    welcome::welcome_ui(ui, &mut self.welcome, &self.settings, &mut out)
                });
            }
        }
        if self.help_open {
            help::help_window(&ctx, &mut self.help_open);
        }
        if self.skipped_open {
            if let Some(desk) = &self.desk {
                status::skipped_window(&ctx, desk, &mut self.skipped_open);
            }
        }
        self.overwrite_window(&ctx, &mut out);
        self.notices_ui(&ctx);
        self.commands.extend(out);
        if let Some(started) = self.frame_started.take() {
            self.frames.record(started.elapsed());
        }
        if self.frames_logged.elapsed() >= std::time::Duration::from_secs(5) {
            self.frames_logged = Instant::now();
            if let Some(p95) = self.frames.p95_ms() {
                tracing::info!(
                    p95_ms = format!("{p95:.2}"),
                    frames = self.frames.frames(),
                    scanning = self.desk.as_ref().is_some_and(Desk::scanning),
                    "UI frame time"
                );
            }
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, Settings::STORAGE_KEY, &self.settings);
    }
}

impl DeskApp {
    fn menu_ui(&mut self, ui: &mut egui::Ui, out: &mut Vec<Command>) {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui.button("Open generations…").clicked() {
                    out.push(Command::CloseProject);
                    out.push(Command::PickGenerations);
                }
                if ui.button("Open project…").clicked() {
                    self.dialogs.open(DialogPurpose::Project, None);
                }
                ui.separator();
                let open = self.desk.is_some();
                if ui
                    .add_enabled(open, egui::Button::new("Export review set…"))
                    .clicked()
                {
                    out.push(Command::PickExport);
                }
                if ui.add_enabled(open, egui::Button::new("Rescan")).clicked() {
                    out.push(Command::StartScan);
                }
                if ui
                    .add_enabled(open, egui::Button::new("Close project"))
                    .clicked()
                {
                    out.push(Command::CloseProject);
                }
            });
            ui.menu_button("View", |ui| {
                if ui
                    .checkbox(&mut self.settings.show_stats, "Statistics")
                    .clicked()
                {
                    ui.close();
                }
                ui.checkbox(&mut self.settings.show_frame_time, "Frame time");
                ui.separator();
                ui.label("Theme");
                ui.radio_value(&mut self.settings.theme, ThemeChoice::System, "System");
                ui.radio_value(&mut self.settings.theme, ThemeChoice::Dark, "Dark");
                ui.radio_value(&mut self.settings.theme, ThemeChoice::Light, "Light");
            });
            ui.menu_button("Settings", |ui| {
                ui.horizontal(|ui| {
                    ui.label("Reviewer");
                    ui.text_edit_singleline(&mut self.settings.reviewer);
                });
                ui.horizontal(|ui| {
                    ui.label("Threshold");
                    if ui
                        .add(
                            egui::Slider::new(&mut self.settings.threshold, 0.0..=1.0)
                                .step_by(0.01),
                        )
                        .changed()
                    {
                        if let Some(desk) = &mut self.desk {
                            desk.list.invalidate();
                        }
                    }
                });
                ui.horizontal(|ui| {
                    ui.label("Matches per generation");
                    ui.add(egui::DragValue::new(&mut self.settings.top_k).range(1..=50));
                });
                ui.horizontal(|ui| {
                    ui.label("Model");
                    egui::ComboBox::from_id_salt("model")
                        .selected_text(self.settings.model.clone())
                        .show_ui(ui, |ui| {
                            ui.selectable_value(
                                &mut self.settings.model,
                                "sscd".to_string(),
                                "sscd",
                            );
                            ui.selectable_value(
                                &mut self.settings.model,
                                "sscd-distilled".to_string(),
                                "sscd-distilled",
                            );
                        });
                });
                ui.small("Matches per generation and model apply from the next scan.");
            });
            ui.menu_button("Help", |ui| {
                if ui.button("Keys and labels   ?").clicked() {
                    out.push(Command::ToggleHelp);
                    ui.close();
                }
            });
        });
    }

    fn overwrite_window(&mut self, ctx: &egui::Context, out: &mut Vec<Command>) {
        let Some(pending) = &self.overwrite else {
            return;
        };
        let mut answer = None;
        egui::Window::new("Replace file?")
            .collapsible(false)
            .resizable(false)
            .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
            .show(ctx, |ui| {
                ui.label(format!("{} already exists.", pending.path.display()));
                ui.horizontal(|ui| {
                    if ui.button("Replace").clicked() {
                        answer = Some(true);
                    }
                    if ui.button("Cancel").clicked() {
                        answer = Some(false);
                    }
                });
            });
        if let Some(replace) = answer {
            if let Some(pending) = self.overwrite.take() {
                if replace {
                    out.push(Command::Export {
                        path: pending.path,
                        format: pending.format,
                        overwrite: true,
                    });
                }
            }
        }
    }

    fn notices_ui(&mut self, ctx: &egui::Context) {
        if self.notices.is_empty() {
            return;
        }
        let mut dismiss = false;
        egui::Window::new("Notice")
            .collapsible(false)
            .anchor(egui::Align2::RIGHT_TOP, [-12.0, 40.0])
            .show(ctx, |ui| {
                for notice in self.notices.iter().rev().take(4) {
                    ui.label(notice);
                }
                if ui.button("Dismiss").clicked() {
                    dismiss = true;
                }
            });
        if dismiss {
            self.notices.clear();
        }
    }
}
