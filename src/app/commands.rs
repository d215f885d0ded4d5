//! Commands: what panels and keys ask for. Panels never change state themselves; they push
//! commands that the app applies in one place each frame.

use std::path::PathBuf;

use crate::export::ReviewFormat;
use crate::review::Label;

/// Something the reviewer asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Label the pair on screen (`None` clears it).
    SetLabel(Option<Label>),
    /// Save the note of the pair on screen.
    SetNote(String),
    /// Undo the latest label change.
    Undo,
    /// Redo the latest undone change.
    Redo,
    /// Select the next generation in the list.
    NextGeneration,
    /// Select the previous generation in the list.
    PreviousGeneration,
    /// Select the next match of the generation.
    NextMatch,
    /// Select the previous match of the generation.
    PreviousMatch,
    /// Jump to the next unlabelled generation at or above the threshold.
    NextUnlabelled,
    /// Select a generation by its index in the results.
    SelectGeneration(usize),
    /// Select a match of the generation on screen by its position.
    SelectMatch(usize),
    /// Show or hide the keys and label definitions.
    ToggleHelp,
    /// Switch to the next compare mode.
    NextCompareMode,
    /// Apply or drop the estimated alignment.
    ToggleAlignment,
    /// Show or hide the collage map.
    ToggleCollageMap,
    /// Show or hide the statistics panel.
    ToggleStats,
    /// Start (or restart) the scan of the open project.
    StartScan,
    /// Cancel the running scan.
    CancelScan,
    /// Open a project by its folders.
    OpenFolders {
        /// The generations folder.
        generations: PathBuf,
        /// The training sources (folders or tar shards).
        training: Vec<PathBuf>,
        /// A training index to match against instead of training sources.
        training_index: Option<PathBuf>,
        /// The project folder, when not the default.
        project: Option<PathBuf>,
    },
    /// Open an existing project folder.
    OpenProject(PathBuf),
    /// Ask for the generations folder with a dialog.
    PickGenerations,
    /// Ask for a training folder with a dialog.
    PickTraining,
    /// Ask for one tar shard as a training source with a dialog.
    PickTrainingShard,
    /// Ask for a training index with a dialog.
    PickTrainingIndex,
    /// Ask where to export the review set.
    PickExport,
    /// Export the review set (after any overwrite question).
    Export {
        /// The file.
        path: PathBuf,
        /// Its format.
        format: ReviewFormat,
        /// Whether to replace an existing file.
        overwrite: bool,
    },
    /// Close the project and show the welcome screen.
    CloseProject,
}

/// The commands the keys pressed this frame ask for (none while a text field has focus).
pub fn from_keys(ctx: &egui::Context) -> Vec<Command> {
    if ctx.egui_wants_keyboard_input() {
        return Vec::new();
    }
    use egui::{Key, Modifiers};
    let mut out = Vec::new();
    ctx.input_mut(|input| {
        let mut take = |modifiers: Modifiers, key: Key, command: Command| {
            if input.consume_key(modifiers, key) {
                out.push(command);
            }
        };
        take(Modifiers::COMMAND | Modifiers::SHIFT, Key::Z, Command::Redo);
        take(Modifiers::COMMAND, Key::Y, Command::Redo);
        take(Modifiers::COMMAND, Key::Z, Command::Undo);
        take(
            Modifiers::NONE,
            Key::Num1,
            Command::SetLabel(Some(Label::FullCopy)),
        );
        take(
            Modifiers::NONE,
            Key::Num2,
            Command::SetLabel(Some(Label::NearCopy)),
        );
        take(
            Modifiers::NONE,
            Key::Num3,
            Command::SetLabel(Some(Label::Distinct)),
        );
        take(Modifiers::NONE, Key::Num0, Command::SetLabel(None));
        take(Modifiers::NONE, Key::Backspace, Command::SetLabel(None));
        take(Modifiers::NONE, Key::J, Command::NextGeneration);
        take(Modifiers::NONE, Key::ArrowDown, Command::NextGeneration);
        take(Modifiers::NONE, Key::K, Command::PreviousGeneration);
        take(Modifiers::NONE, Key::ArrowUp, Command::PreviousGeneration);
        take(Modifiers::NONE, Key::ArrowRight, Command::NextMatch);
        take(Modifiers::NONE, Key::ArrowLeft, Command::PreviousMatch);
        take(Modifiers::NONE, Key::N, Command::NextUnlabelled);
        take(Modifiers::NONE, Key::M, Command::NextCompareMode);
        take(Modifiers::NONE, Key::A, Command::ToggleAlignment);
        take(Modifiers::NONE, Key::C, Command::ToggleCollageMap);
        take(Modifiers::NONE, Key::Questionmark, Command::ToggleHelp);
        take(Modifiers::SHIFT, Key::Questionmark, Command::ToggleHelp);
        take(Modifiers::SHIFT, Key::Slash, Command::ToggleHelp);
    });
    out
}
