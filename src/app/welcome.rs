//! The welcome screen: choose the generations and training folders (dialogs or drag and
//! drop), or reopen a recent project.

use std::path::PathBuf;

use super::commands::{Command, WelcomeCommand};
use super::dialogs::DialogPurpose;
use super::settings::Settings;

/// Folders chosen so far on the welcome screen.
#[derive(Debug, Default)]
pub struct WelcomeState {
    /// The generations folder.
    pub generations: Option<PathBuf>,
    /// The training sources (folders, or tar shards).
    pub training: Vec<PathBuf>,
    /// A training index, used instead of training sources.
    pub training_index: Option<PathBuf>,
}

impl WelcomeState {
    /// Takes a dialog's answer: a folder, shard or index for the welcome screen, or a command
    /// (open a project, save the report or the review set there).
    pub(super) fn dialog_answer(
        &mut self,
        purpose: DialogPurpose,
        path: PathBuf,
        commands: &mut Vec<Command>,
    ) {
        match purpose {
            DialogPurpose::Generations => self.generations = Some(path),
            DialogPurpose::Training | DialogPurpose::TrainingShard => {
                if !self.training.contains(&path) {
                    self.training.push(path);
                }
            }
            DialogPurpose::TrainingIndex => self.training_index = Some(path),
            DialogPurpose::Project => commands.push(Command::OpenProject(path)),
            DialogPurpose::Report => commands.push(Command::Report(Some(path))),
            DialogPurpose::Export => {
                let format = crate::export::ReviewFormat::for_path(&path);
                // The save dialog already asked about replacing the file.
                commands.push(Command::Export {
                    path,
                    format,
                    overwrite: true,
                });
            }
        }
    }

    /// Takes the files dropped on the window this frame (see [`Self::dropped`]).
    pub(super) fn take_dropped(
        &mut self,
        ctx: &egui::Context,
        commands: &mut Vec<Command>,
        notices: &mut Vec<String>,
    ) {
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        });
        for path in dropped {
            self.dropped(path, commands, notices);
        }
    }

    /// Takes a dropped path: a project folder opens, a training index, a shard or a folder
    /// fills the next empty field; anything else is a notice.
    pub(super) fn dropped(
        &mut self,
        path: PathBuf,
        commands: &mut Vec<Command>,
        notices: &mut Vec<String>,
    ) {
        if path.join("project.json").is_file() {
            commands.push(Command::OpenProject(path));
        } else if path.join(crate::index::prebuilt::MANIFEST_FILE).is_file() {
            self.training_index = Some(path);
        } else if path.is_file() && crate::catalog::is_shard_name(&path) {
            if !self.training.contains(&path) {
                self.training.push(path);
            }
        } else if path.is_dir() {
            if self.generations.is_none() {
                self.generations = Some(path);
            } else if !self.training.contains(&path) {
                self.training.push(path);
            }
        } else {
            notices.push(format!(
                "{} is not a folder; drop a folder of images, a .tar shard, a training index or a project folder.",
                path.display()
            ));
        }
    }
}

/// Draws the welcome screen.
///
/// Over 100 lines on purpose: the welcome screen drawn top to bottom in screen order (folders,
/// training side, index, recent projects); one function reads in the order the reviewer sees it.
pub fn welcome_ui(
    ui: &mut egui::Ui,
    state: &WelcomeState,
    settings: &Settings,
    out: &mut Vec<Command>,
) {
    ui.vertical_centered(|ui| {
        ui.add_space(ui.available_height() * 0.08);
        ui.heading(egui::RichText::new("Replicant").size(34.0).strong());
        ui.label("Find generated images that copy their training data, and label each pair.");
        ui.add_space(24.0);
    });
    let width = 560.0_f32.min(ui.available_width());
    ui.vertical_centered(|ui| {
        ui.set_max_width(width);
        egui::Frame::group(ui.style())
            .inner_margin(16.0)
            .show(ui, |ui| {
                ui.set_width(width - 32.0);
                ui.horizontal(|ui| {
                    if ui
                        .add_sized([190.0, 28.0], egui::Button::new("Open generations…"))
                        .clicked()
                    {
                        out.push(Command::Pick(DialogPurpose::Generations));
                    }
                    match &state.generations {
                        Some(path) => ui.label(path.display().to_string()),
                        None => ui.weak("no folder yet"),
                    };
                });
                ui.add_space(6.0);
                let sources_allowed = state.training_index.is_none();
                ui.horizontal(|ui| {
                    let open = ui.add_enabled(
                        sources_allowed,
                        egui::Button::new("Open training set…").min_size([190.0, 28.0].into()),
                    );
                    if open
                        .on_hover_text("A folder of images and/or WebDataset .tar shards")
                        .clicked()
                    {
                        out.push(Command::Pick(DialogPurpose::Training));
                    }
                    if ui
                        .add_enabled(sources_allowed, egui::Button::new("one .tar shard…"))
                        .on_hover_text("A single WebDataset shard as a training source")
                        .clicked()
                    {
                        out.push(Command::Pick(DialogPurpose::TrainingShard));
                    }
                    if state.training.is_empty() && sources_allowed {
                        ui.weak("no folder yet");
                    }
                });
                for (i, path) in state.training.iter().enumerate() {
                    ui.horizontal(|ui| {
                        ui.add_space(198.0);
                        ui.label(path.display().to_string());
                        if ui
                            .small_button("x")
                            .on_hover_text("Remove this training folder")
                            .clicked()
                        {
                            out.push(Command::Welcome(WelcomeCommand::RemoveTraining(i)));
                        }
                    });
                }
                ui.add_space(6.0);
                ui.horizontal(|ui| {
                    let open = ui.add_enabled(
                        state.training.is_empty(),
                        egui::Button::new("Use a training index…").min_size([190.0, 28.0].into()),
                    );
                    if open
                        .on_hover_text(
                            "A training index made once by `replicant index build`, shared by many projects",
                        )
                        .clicked()
                    {
                        out.push(Command::Pick(DialogPurpose::TrainingIndex));
                    }
                    match &state.training_index {
                        Some(path) => {
                            ui.label(path.display().to_string());
                            if ui
                                .small_button("x")
                                .on_hover_text("Do not use this index")
                                .clicked()
                            {
                                out.push(Command::Welcome(WelcomeCommand::ClearIndex));
                            }
                        }
                        None => {
                            ui.weak("or match against an index built once");
                        }
                    }
                });
                ui.add_space(10.0);
                let ready = state.generations.is_some()
                    && (!state.training.is_empty() || state.training_index.is_some());
                ui.horizontal(|ui| {
                    let open = ui.add_enabled(
                        ready,
                        egui::Button::new(egui::RichText::new("Scan and review").strong())
                            .min_size([190.0, 32.0].into()),
                    );
                    if open.clicked()
                        && let Some(generations) = state.generations.clone() {
                            out.push(Command::OpenFolders {
                                generations,
                                training: state.training.clone(),
                                training_index: state.training_index.clone(),
                                project: None,
                            });
                        }
                    ui.weak("or drop them on the window");
                });
                ui.add_space(4.0);
                ui.add(
                    egui::Label::new(
                        egui::RichText::new(
                            "Drop the generations folder first, then training folders, .tar shards or an index folder.",
                        )
                        .weak()
                        .small(),
                    )
                    .wrap(),
                );
            });
        ui.add_space(18.0);
        if !settings.recent.is_empty() {
            ui.label(egui::RichText::new("Recent projects").strong());
            for recent in &settings.recent {
                let name = recent.generations.file_name().map_or_else(
                    || recent.dir.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                );
                let training: Vec<String> = recent
                    .training
                    .iter()
                    .chain(&recent.training_index)
                    .filter_map(|t| t.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .collect();
                let text = format!("{name}  vs  {}", training.join(", "));
                if ui
                    .link(text)
                    .on_hover_text(recent.dir.display().to_string())
                    .clicked()
                {
                    out.push(Command::OpenProject(recent.dir.clone()));
                }
            }
        }
        ui.add_space(12.0);
        ui.weak("Try it on a made-up set: replicant demo");
    });
}
