//! The review desk: an eframe app on the wgpu renderer. Panels draw from read-only state and
//! push [`Command`]s; [`DeskApp::logic`] polls the background jobs, uploads images and applies
//! the commands in [`DeskApp::apply`], one exhaustive match; [`DeskApp::ui`] only draws.

mod asks;
pub mod choices;
pub mod commands;
pub mod compare;
mod desk;
mod dialogs;
mod frame_stats;
mod grid;
mod help;
pub mod keys;
mod labels;
mod list;
pub mod loader;
mod menu;
mod pair;
mod pair_notes;
mod panels;
mod phrase_marks;
mod scan_choices;
pub mod settings;
mod start;
mod stats;
mod status;
mod structure_map;
mod thumbs;
mod uploads;
mod welcome;
mod window;

pub use start::StartMode;
pub use window::run;

use std::sync::Arc;

pub use commands::{Command, CompareCommand, GridCommand, ListCommand, SettingCommand};
pub use desk::{
    Desk, LabelFilter, ListFilter, MAX_UPLOADED, Mode, Question, Reviewing, SortKey, Uploaded,
    texture_id,
};
pub use dialogs::DialogPurpose;
pub use settings::Settings;

use crate::embed::request::ModelRequest;
use crate::jobs::Waker;
use crate::project::open::OpenJob;
use crate::project::open::ProjectSource;
use crate::project::open::spawn_open;
use commands::WelcomeCommand;
use dialogs::Dialogs;
use frame_stats::FrameStats;
use keys::KeyAction;
use scan_choices::ScanChoices;
use settings::RecentProject;
use thumbs::ThumbnailCache;
use welcome::WelcomeState;

/// Windows over the desk that can be open.
#[derive(Default)]
struct Windows {
    help: bool,
    skipped: bool,
    /// The action whose key is being changed (the next key press binds it).
    rebinding: Option<KeyAction>,
    overwrite: Option<asks::PendingOverwrite>,
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
    windows: Windows,
    notices: Vec<String>,
    scan_choices: ScanChoices,
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
            windows: Windows::default(),
            notices: Vec::new(),
            scan_choices: ScanChoices::default(),
        };
        app.apply_theme(&cc.egui_ctx);
        if let Some(command) = start.first_command(app.settings.last_project.as_deref()) {
            app.commands.push(command);
        }
        app
    }

    /// Uses this model request for scans instead of the settings' model (the command line's
    /// `--ort-lib`, `--device` and friends).
    pub fn with_model(mut self, request: ModelRequest) -> Self {
        self.scan_choices.model = Some(request);
        self
    }

    /// Matches regions of generations as `mode` says (the command line's `--regions`).
    pub fn with_regions(mut self, mode: crate::ranking::regions::RegionMode) -> Self {
        self.scan_choices.regions = mode;
        self
    }

    /// Runs the shortlist cascade as `shortlist` says (the command line's `--shortlist`).
    pub fn with_shortlist(mut self, shortlist: crate::ranking::cascade::Shortlist) -> Self {
        self.scan_choices.shortlist = shortlist;
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

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The settings, to set up tests.
    pub fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }

    /// Thumbnails being decoded (for tests that wait for a settled screen).
    pub fn thumbnails_loading(&self) -> usize {
        self.thumbs.loading()
    }

    /// Notices shown to the reviewer (for tests).
    pub fn notices(&self) -> &[String] {
        &self.notices
    }

    fn apply_theme(&self, ctx: &egui::Context) {
        ctx.set_theme(self.settings.theme.preference());
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
                let (mut desk, messages) =
                    Desk::from_opened(opened, &self.settings.reviewer, self.waker.clone());
                self.notices.extend(messages);
                // The project's numbers are read at the threshold its scan used; the slider
                // changes it from there.
                if let Some(scan) = desk.scan().settings() {
                    self.settings.threshold = scan.threshold;
                }
                let project = desk.review().project();
                self.settings.remember(RecentProject {
                    dir: project.dir.clone(),
                    generations: project.spec.generations.clone(),
                    training: project.spec.training.clone(),
                    training_index: project.spec.training_index.clone(),
                });
                if scan {
                    let options = self
                        .scan_choices
                        .scan_options(&self.settings, desk.review().project());
                    desk.start_scan(options, self.waker.clone());
                }
                self.desk = Some(desk);
            }
            Err(err) => self.notices.push(err),
        }
    }

    /// Runs `f` on the open desk with the settings it needs (nothing without a desk).
    fn with_desk(
        &mut self,
        f: impl FnOnce(&mut Desk, Reviewing<'_>) -> Result<(), String>,
    ) -> Result<(), String> {
        let Some(desk) = self.desk.as_mut() else {
            return Ok(());
        };
        let how = Reviewing {
            reviewer: &self.settings.reviewer,
            threshold: self.settings.threshold,
            auto_advance: self.settings.auto_advance,
        };
        f(desk, how)
    }

    /// Applies one command: the one place state changes. Over 100 lines on purpose: one
    /// short arm per command in one exhaustive match, so a command nothing handles does not
    /// compile; each arm calls the desk or a helper.
    fn apply(&mut self, ctx: &egui::Context, command: Command) {
        let outcome: Result<(), String> = match command {
            Command::Label(label) => self.with_desk(|desk, how| desk.label(label, how)),
            Command::AskLabelRestOfPage => self.with_desk(|desk, _| {
                desk.ask_label_rest_of_page();
                Ok(())
            }),
            Command::LabelRestOfPage => {
                self.with_desk(|desk, how| desk.answer_question(how.reviewer))
            }
            Command::DismissQuestion => self.with_desk(|desk, _| {
                desk.dismiss_question();
                Ok(())
            }),
            Command::SetNote(text) => {
                self.with_desk(|desk, how| desk.set_note(&text, how.reviewer))
            }
            Command::Undo => self.with_desk(|desk, how| desk.undo(false, how.reviewer)),
            Command::Redo => self.with_desk(|desk, how| desk.undo(true, how.reviewer)),
            Command::NextGeneration => self.with_desk(|desk, _| {
                desk.move_generation(1);
                Ok(())
            }),
            Command::PreviousGeneration => self.with_desk(|desk, _| {
                desk.move_generation(-1);
                Ok(())
            }),
            Command::NextMatch => self.with_desk(|desk, _| {
                desk.select_match(desk.view().selected_match() + 1);
                Ok(())
            }),
            Command::PreviousMatch => self.with_desk(|desk, _| {
                desk.select_match(desk.view().selected_match().saturating_sub(1));
                Ok(())
            }),
            Command::NextUnlabelled => self.with_desk(|desk, how| {
                if desk.next_unlabelled(how.threshold) {
                    Ok(())
                } else {
                    Err(format!(
                        "No unlabelled generation at or above {:.2} in the list.",
                        how.threshold
                    ))
                }
            }),
            Command::SelectGeneration(i) => self.with_desk(|desk, _| {
                desk.select(i);
                Ok(())
            }),
            Command::SelectMatch(m) => self.with_desk(|desk, _| {
                desk.select_match(m);
                Ok(())
            }),
            Command::ToggleGrid => self.with_desk(|desk, _| {
                desk.toggle_grid();
                Ok(())
            }),
            Command::Grid(grid) => self.with_desk(|desk, _| {
                desk.grid(grid);
                Ok(())
            }),
            Command::List(list) => self.with_desk(|desk, _| {
                desk.list(list);
                Ok(())
            }),
            Command::Compare(compare) => self.with_desk(|desk, _| {
                desk.compare(compare);
                Ok(())
            }),
            Command::StartScan => {
                let options = self.desk.as_ref().map(|d| {
                    self.scan_choices
                        .scan_options(&self.settings, d.review().project())
                });
                let waker = self.waker.clone();
                self.with_desk(|desk, _| {
                    if let Some(options) = options {
                        desk.start_scan(options, waker);
                    }
                    Ok(())
                })
            }
            Command::CancelScan => self.with_desk(|desk, _| {
                desk.cancel_scan();
                Ok(())
            }),
            Command::Export {
                path,
                format,
                overwrite,
            } => {
                if path.exists() && !overwrite {
                    self.windows.overwrite = Some(asks::PendingOverwrite { path, format });
                    Ok(())
                } else {
                    let waker = self.waker.clone();
                    self.with_desk(|desk, _| {
                        desk.start_export(path, format, overwrite, waker);
                        Ok(())
                    })
                }
            }
            Command::CancelReport => self.with_desk(|desk, _| {
                desk.cancel_report();
                Ok(())
            }),
            Command::CancelExport => self.with_desk(|desk, _| {
                desk.cancel_export();
                Ok(())
            }),
            Command::CloseProject => {
                self.desk = None;
                self.settings.last_project = None;
                Ok(())
            }
            Command::Setting(setting) => {
                self.apply_setting(ctx, setting);
                Ok(())
            }
            Command::Rebind(action) => {
                self.windows.rebinding = action;
                Ok(())
            }
            Command::BindKey(action, chord) => {
                self.settings.keys.bind(action, chord);
                self.windows.rebinding = None;
                Ok(())
            }
            Command::ToggleHelp => {
                self.windows.help = !self.windows.help;
                self.windows.rebinding = None;
                Ok(())
            }
            Command::ToggleStats => {
                self.settings.show_stats = !self.settings.show_stats;
                if self.settings.show_stats {
                    self.commands.push(Command::Report(None));
                }
                Ok(())
            }
            Command::Adjudicate(label) => {
                self.with_desk(|desk, how| desk.adjudicate(label, how.reviewer))
            }
            Command::Adjudicating(on) => self.with_desk(|desk, _| {
                desk.set_adjudicating(on);
                Ok(())
            }),
            Command::SamplePlan(per_band) => self.with_desk(|desk, _| desk.sample_plan(per_band)),
            Command::Report(out) => {
                let waker = self.waker.clone();
                let threshold = self.settings.threshold;
                self.with_desk(|desk, _| {
                    desk.start_report(out, threshold, waker);
                    Ok(())
                })
            }
            Command::ToggleSkipped => {
                self.windows.skipped = !self.windows.skipped;
                Ok(())
            }
            Command::OpenFolders {
                generations,
                training,
                training_index,
                project,
            } => ProjectSource::folders(
                &generations,
                &training,
                training_index.as_deref(),
                project,
                self.settings.model.clone(),
            )
            .map(|source| self.open_project(source, true)),
            Command::OpenProject(dir) => {
                self.open_project(ProjectSource::Existing(dir), true);
                Ok(())
            }
            Command::Pick(purpose) => {
                let start = match purpose {
                    DialogPurpose::Export | DialogPurpose::Report => {
                        self.desk.as_ref().map(|d| d.review().project().dir.clone())
                    }
                    _ => None,
                };
                self.dialogs.open(purpose, start);
                Ok(())
            }
            Command::Welcome(change) => {
                match change {
                    WelcomeCommand::RemoveTraining(i) => {
                        if i < self.welcome.training.len() {
                            self.welcome.training.remove(i);
                        }
                    }
                    WelcomeCommand::ClearIndex => self.welcome.training_index = None,
                }
                Ok(())
            }
            Command::DismissNotices => {
                self.notices.clear();
                Ok(())
            }
        };
        if let Err(message) = outcome {
            self.notices.push(message);
        }
        ctx.request_repaint();
    }

    fn apply_setting(&mut self, ctx: &egui::Context, setting: SettingCommand) {
        let confirmed = setting == SettingCommand::ConfirmReviewer;
        self.settings.apply(setting);
        if confirmed
            && let Some(desk) = &mut self.desk
            && let Err(why) = desk.use_reviewer(&self.settings.reviewer)
        {
            self.notices.push(why);
        }
        self.apply_theme(ctx);
        if let Some(desk) = &mut self.desk {
            desk.settings_changed();
        }
    }
}

impl eframe::App for DeskApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.frames.begin();
        let mode = self.desk.as_ref().map_or(Mode::Pair, |d| d.view().mode());
        let keys = keys::commands_from_keys(ctx, &self.settings.keys, mode, self.windows.rebinding);
        self.commands.extend(keys);
        for (purpose, answer) in self.dialogs.answers() {
            if let Some(path) = answer {
                self.welcome
                    .dialog_answer(purpose, path, &mut self.commands);
            }
        }
        self.welcome
            .take_dropped(ctx, &mut self.commands, &mut self.notices);
        self.poll_opening();
        if let Some(desk) = &mut self.desk {
            // A cached re-scan delivers thousands of results at once; 500 a frame keeps each
            // frame short (measured: 2,000 a frame made the p95 frame 15 ms on 10,000 results).
            let messages = desk.poll(500, self.waker.as_ref());
            self.notices.extend(messages);
        }
        self.thumbs.poll(ctx);
        if let Some(desk) = &mut self.desk {
            uploads::upload_images(desk, self.render_state.as_ref());
        }
        for command in std::mem::take(&mut self.commands) {
            self.apply(ctx, command);
        }
        if let Some(desk) = &mut self.desk {
            let messages = desk.poll(0, self.waker.as_ref());
            self.notices.extend(messages);
            if desk.scanning() || desk.export().running().is_some() {
                ctx.request_repaint_after(std::time::Duration::from_millis(250));
            }
        }
        let title = self.desk.as_ref().map_or_else(
            || "Replicant".to_string(),
            |d| {
                format!(
                    "Replicant — {}",
                    d.review()
                        .project()
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
        let mut out = Vec::new();
        egui::Panel::top("menu").show(ui, |ui| {
            menu::menu_ui(ui, &self.settings, self.desk.is_some(), &mut out)
        });
        match &self.desk {
            Some(desk) => panels::desk_panels(
                ui,
                desk,
                &mut self.thumbs,
                &mut self.settings,
                &self.frames,
                &mut out,
            ),
            None => {
                let opening = self.opening.is_some();
                egui::CentralPanel::default_margins().show(ui, |ui| {
                    if opening {
                        ui.horizontal(|ui| {
                            ui.spinner();
                            ui.label("Opening the project (reading its labels and last results)…");
                        });
                    }
                    welcome::welcome_ui(ui, &self.welcome, &self.settings, &mut out)
                });
            }
        }
        if self.windows.help {
            help::help_window(&ctx, &self.settings, self.windows.rebinding, &mut out);
        }
        if self.windows.skipped
            && let Some(desk) = &self.desk
        {
            status::skipped_window(&ctx, desk, &mut out);
        }
        if self.desk.is_some() && !self.settings.reviewer_confirmed {
            asks::reviewer_window(&ctx, &self.settings, &mut out);
        }
        asks::overwrite_window(&ctx, &mut self.windows.overwrite, &mut out);
        asks::notices_window(&ctx, &self.notices, &mut out);
        self.commands.extend(out);
        let scanning = self.desk.as_ref().is_some_and(Desk::scanning);
        self.frames.end(scanning);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, Settings::STORAGE_KEY, &self.settings);
    }
}
