//! Settings kept between sessions in eframe's storage.

use super::commands::SettingCommand;
pub use crate::app::choices::ThemeChoice;
use std::path::PathBuf;

/// A project opened before, for the welcome screen.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RecentProject {
    /// The project folder.
    pub dir: PathBuf,
    /// Its generations folder, for display.
    pub generations: PathBuf,
    /// Its training folders, for display.
    pub training: Vec<PathBuf>,
    /// Its training index, when it matches against one.
    #[serde(default)]
    pub training_index: Option<PathBuf>,
}

/// Everything the desk remembers between sessions.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Top-1 similarity at or above which a generation is a likely copy.
    pub threshold: f32,
    /// Matches kept per generation.
    pub top_k: usize,
    /// The model: `sscd`, `sscd-distilled` or a path.
    pub model: String,
    /// The name stored with each label.
    pub reviewer: String,
    /// Whether the reviewer confirmed their name (the desk asks once).
    pub reviewer_confirmed: bool,
    /// The colour theme.
    pub theme: ThemeChoice,
    /// Width of the generations list in points.
    pub list_width: f32,
    /// Whether the statistics panel is open.
    pub show_stats: bool,
    /// Whether the frame-time readout is shown in the status bar.
    pub show_frame_time: bool,
    /// Projects opened before, newest first.
    pub recent: Vec<RecentProject>,
    /// The project open when the desk was last closed.
    pub last_project: Option<PathBuf>,
    /// Move to the next generation after a label in the pair view.
    pub auto_advance: bool,
    /// Which keys do what.
    pub keys: super::keys::Keymap,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            threshold: crate::ranking::matches::DEFAULT_THRESHOLD,
            top_k: 5,
            model: crate::embed::ModelChoice::default().name(),
            reviewer: crate::review::default_reviewer(),
            reviewer_confirmed: false,
            theme: ThemeChoice::System,
            list_width: 380.0,
            show_stats: false,
            show_frame_time: true,
            recent: Vec::new(),
            last_project: None,
            auto_advance: true,
            keys: super::keys::Keymap::default(),
        }
    }
}

impl Settings {
    /// The key under which eframe stores the settings.
    pub const STORAGE_KEY: &'static str = "replicant-settings";

    /// Applies a change from the settings menu (each value kept in its range).
    pub fn apply(&mut self, setting: SettingCommand) {
        match setting {
            SettingCommand::Threshold(t) => self.threshold = t.clamp(0.0, 1.0),
            SettingCommand::TopK(k) => self.top_k = k.clamp(1, 50),
            SettingCommand::Model(model) => self.model = model,
            SettingCommand::Reviewer(name) => self.reviewer = name,
            SettingCommand::ConfirmReviewer => self.reviewer_confirmed = true,
            SettingCommand::Theme(theme) => self.theme = theme,
            SettingCommand::FrameTime(on) => self.show_frame_time = on,
            SettingCommand::AutoAdvance(on) => self.auto_advance = on,
            SettingCommand::DefaultKeys => self.keys = super::keys::Keymap::default(),
        }
    }

    /// Remembers `project` at the top of the recent list (at most 8).
    pub fn remember(&mut self, project: RecentProject) {
        self.recent.retain(|p| p.dir != project.dir);
        self.last_project = Some(project.dir.clone());
        self.recent.insert(0, project);
        self.recent.truncate(8);
    }
}
