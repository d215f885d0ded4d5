//! Commands: what panels and keys ask for. Panels never change state themselves; they push
//! commands, and [`super::DeskApp`] applies them in one exhaustive match each frame, so a new
//! command that nothing handles does not compile.

use std::path::PathBuf;

use super::choices::{CompareMode, KeyAction, KeyChord, LabelFilter, SortKey, ThemeChoice};
use super::dialogs::DialogPurpose;
use crate::export::ReviewFormat;
use crate::review::Label;

/// Something the reviewer asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Label (`None` clears): the pair on screen in the pair view, the selection in the grid.
    Label(Option<Label>),
    /// Ask whether to label the unlabelled pairs of the grid's page distinct.
    AskLabelRestOfPage,
    /// Label the unlabelled top pairs of the grid's page distinct (after the question).
    LabelRestOfPage,
    /// Close the question without doing anything.
    DismissQuestion,
    /// Save the note of the pair on screen.
    SetNote(String),
    /// Undo the latest label change (a bulk label is one).
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
    /// Switch between the grid and the pair view.
    ToggleGrid,
    /// A grid action.
    Grid(GridCommand),
    /// A change to the list's sort or filters.
    List(ListCommand),
    /// A change to the compare view.
    Compare(CompareCommand),
    /// A change to the settings.
    Setting(SettingCommand),
    /// Wait for the next key press to bind it to this action (`None` stops waiting).
    Rebind(Option<KeyAction>),
    /// Bind a key to an action.
    BindKey(KeyAction, KeyChord),
    /// Show or hide the keys and label definitions.
    ToggleHelp,
    /// Show or hide the statistics panel.
    ToggleStats,
    /// Make the evidence report off the UI thread: for the statistics panel, and written to
    /// the file when one is given (HTML, or JSON by its extension).
    Report(Option<std::path::PathBuf>),
    /// Draw a review plan of this many generations per similarity band, save it in the
    /// project and show only its generations.
    SamplePlan(usize),
    /// Set the final label of the disputed pair on screen.
    Adjudicate(crate::review::Label),
    /// Start or stop adjudicating (under blind review, shows the labels of disputes one has
    /// not labelled).
    Adjudicating(bool),
    /// Show or hide the list of skipped files.
    ToggleSkipped,
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
    /// Close the project and show the welcome screen.
    CloseProject,
    /// Ask for a path with a dialog.
    Pick(DialogPurpose),
    /// A change to the folders chosen on the welcome screen.
    Welcome(WelcomeCommand),
    /// Export the review set (off the UI thread; asks first when the file exists).
    Export {
        /// The file.
        path: PathBuf,
        /// Its format.
        format: ReviewFormat,
        /// Whether to replace an existing file.
        overwrite: bool,
    },
    /// Cancel the running export.
    CancelExport,
    /// Cancel the report being made.
    CancelReport,
    /// Dismiss the notices.
    DismissNotices,
}

/// Grid actions.
#[derive(Debug, Clone, PartialEq)]
pub enum GridCommand {
    /// Click on a tile: select it alone, extend the selection from the anchor (Shift), or
    /// toggle it (Ctrl). `position` is in the list's order.
    Click {
        /// The tile's position in the list.
        position: usize,
        /// Shift held.
        extend: bool,
        /// Ctrl held.
        toggle: bool,
    },
    /// Move the cursor by tiles (Shift extends the selection).
    Move {
        /// Columns to move.
        dx: isize,
        /// Rows to move.
        dy: isize,
        /// Extend the selection.
        extend: bool,
    },
    /// Turn pages.
    Page(isize),
    /// Select every tile of the page.
    SelectPage,
    /// Open the cursor's generation in the pair view.
    Open,
    /// The panel drew this many columns and rows (the page follows the window's size).
    Layout {
        /// Tiles per row.
        columns: usize,
        /// Rows per page.
        rows: usize,
    },
}

/// Changes to the list.
#[derive(Debug, Clone, PartialEq)]
pub enum ListCommand {
    /// Filter on prompt and name.
    Text(String),
    /// Sort.
    Sort(SortKey),
    /// Filter on labels.
    Labels(LabelFilter),
    /// Only collages.
    CollagesOnly(bool),
    /// Only the generations of the review plan.
    PlanOnly(bool),
    /// Only generations with a pair whose reviewers disagree (the adjudication queue).
    DisputedOnly(bool),
    /// Top-1 similarity range.
    Similarity(f32, f32),
    /// Only generations whose prompt uses this phrase (normalised); `None` shows all.
    Phrase(Option<String>),
}

/// Changes to the compare view.
#[derive(Debug, Clone, PartialEq)]
pub enum CompareCommand {
    /// Next mode.
    NextMode,
    /// This mode.
    Mode(CompareMode),
    /// Apply or drop the estimated alignment.
    ToggleAligned,
    /// Show or hide the collage map.
    ToggleCollageMap,
    /// Show or hide the structure map (verification's evidence).
    ToggleStructureMap,
    /// Overlay opacity.
    Opacity(f32),
    /// Difference gain.
    Gain(f32),
    /// Difference in grayscale.
    Grayscale(bool),
    /// Swipe split.
    Split(f32),
    /// Blink interval.
    BlinkMs(u32),
    /// Back to fit.
    Fit,
    /// Zoom and centre (from the wheel, a drag, or 1:1).
    View {
        /// Zoom relative to fit.
        zoom: f32,
        /// The generation pixel at the centre.
        center: Option<[f32; 2]>,
    },
}

/// Changes to the settings.
#[derive(Debug, Clone, PartialEq)]
pub enum SettingCommand {
    /// The threshold.
    Threshold(f32),
    /// Matches per generation (next scan).
    TopK(usize),
    /// The model (next scan).
    Model(String),
    /// The reviewer's name.
    Reviewer(String),
    /// The reviewer confirmed their name: labels shown become theirs (blind review).
    ConfirmReviewer,
    /// The theme.
    Theme(ThemeChoice),
    /// The frame-time readout.
    FrameTime(bool),
    /// Move to the next generation after a label.
    AutoAdvance(bool),
    /// Back to the default keys.
    DefaultKeys,
}

/// Changes to the welcome screen's choices.
#[derive(Debug, Clone, PartialEq)]
pub enum WelcomeCommand {
    /// Forget a training source.
    RemoveTraining(usize),
    /// Forget the training index.
    ClearIndex,
}
