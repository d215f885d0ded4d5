//! The reviewer's choices that commands carry and panels show: the compare mode, the list's
//! sort and filter, the desk's mode, the theme, key actions and chords. They sit below both
//! the commands and the panels, so neither imports the other for them.

use crate::review::Label;

/// How the two images are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum CompareMode {
    /// Two panes, one zoom and pan.
    #[default]
    SideBySide,
    /// The training image over the generation, with opacity.
    Overlay,
    /// The per-pixel difference as a heat map.
    Difference,
    /// A draggable split: generation left, training right.
    Swipe,
    /// Alternating between the two.
    Blink,
}

impl CompareMode {
    /// Every mode, in menu order.
    pub const ALL: [CompareMode; 5] = [
        Self::SideBySide,
        Self::Overlay,
        Self::Difference,
        Self::Swipe,
        Self::Blink,
    ];

    /// The name shown in the menu.
    pub fn title(self) -> &'static str {
        match self {
            Self::SideBySide => "Side by side",
            Self::Overlay => "Overlay",
            Self::Difference => "Difference",
            Self::Swipe => "Swipe",
            Self::Blink => "Blink",
        }
    }

    pub(crate) fn code(self) -> u32 {
        match self {
            Self::SideBySide => 0,
            Self::Overlay => 1,
            Self::Difference => 2,
            Self::Swipe => 3,
            Self::Blink => 4,
        }
    }
}

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

    pub(crate) fn admits(self, label: Option<Label>) -> bool {
        match self {
            Self::All => true,
            Self::Unlabelled => label.is_none(),
            Self::Labelled => label.is_some(),
            Self::FullCopy => label == Some(Label::FullCopy),
            Self::NearCopy => label == Some(Label::NearCopy),
            Self::Distinct => label == Some(Label::Distinct),
        }
    }
}

/// Which view the desk shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// One generation beside its matches.
    #[default]
    Pair,
    /// Many generations, each beside its top match.
    Grid,
}

/// The colour theme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum ThemeChoice {
    /// Follow the system.
    #[default]
    System,
    /// Dark.
    Dark,
    /// Light.
    Light,
}

impl ThemeChoice {
    /// egui's preference for this choice.
    pub fn preference(self) -> egui::ThemePreference {
        match self {
            Self::System => egui::ThemePreference::System,
            Self::Dark => egui::ThemePreference::Dark,
            Self::Light => egui::ThemePreference::Light,
        }
    }
}

/// Something a key can do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum KeyAction {
    /// Label full copy.
    FullCopy,
    /// Label near copy.
    NearCopy,
    /// Label distinct.
    Distinct,
    /// Clear the label.
    Clear,
    /// Next generation.
    NextGeneration,
    /// Previous generation.
    PreviousGeneration,
    /// Next match of the generation.
    NextMatch,
    /// Previous match of the generation.
    PreviousMatch,
    /// Next unlabelled generation at or above the threshold.
    NextUnlabelled,
    /// Next compare mode.
    CompareMode,
    /// Aligned / corner to corner.
    Aligned,
    /// Collage map.
    CollageMap,
    /// Grid / pair view.
    Grid,
    /// Undo.
    Undo,
    /// Redo.
    Redo,
    /// This help.
    Help,
}

impl KeyAction {
    /// Every action, in the help's order.
    pub const ALL: [KeyAction; 16] = [
        Self::FullCopy,
        Self::NearCopy,
        Self::Distinct,
        Self::Clear,
        Self::NextGeneration,
        Self::PreviousGeneration,
        Self::NextMatch,
        Self::PreviousMatch,
        Self::NextUnlabelled,
        Self::Grid,
        Self::CompareMode,
        Self::Aligned,
        Self::CollageMap,
        Self::Undo,
        Self::Redo,
        Self::Help,
    ];

    /// What it does, for the help.
    pub fn title(self) -> &'static str {
        match self {
            Self::FullCopy => "Full copy (the selection, in the grid)",
            Self::NearCopy => "Near copy (the selection, in the grid)",
            Self::Distinct => "Distinct (the selection, in the grid)",
            Self::Clear => "Clear the label",
            Self::NextGeneration => "Next generation",
            Self::PreviousGeneration => "Previous generation",
            Self::NextMatch => "Next match",
            Self::PreviousMatch => "Previous match",
            Self::NextUnlabelled => "Next unlabelled generation at or above the threshold",
            Self::Grid => "Grid of many generations / pair view",
            Self::CompareMode => "Next compare mode",
            Self::Aligned => "Aligned / corner to corner",
            Self::CollageMap => "Collage map",
            Self::Undo => "Undo (a bulk label is one step)",
            Self::Redo => "Redo",
            Self::Help => "Keys and labels (this window)",
        }
    }
}

/// A key with its modifiers, stored by the key's name so settings survive egui versions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct KeyChord {
    /// egui's name of the key (`"1"`, `"J"`, `"ArrowDown"`).
    pub key: String,
    /// Ctrl (Cmd on macOS).
    #[serde(default)]
    pub command: bool,
    /// Shift.
    #[serde(default)]
    pub shift: bool,
    /// Alt.
    #[serde(default)]
    pub alt: bool,
}

impl KeyChord {
    /// A chord of `key` with no modifiers.
    pub fn plain(key: egui::Key) -> Self {
        Self::with(key, egui::Modifiers::NONE)
    }

    /// A chord of `key` with `modifiers`.
    pub fn with(key: egui::Key, modifiers: egui::Modifiers) -> Self {
        Self {
            key: key.name().to_string(),
            command: modifiers.command,
            shift: modifiers.shift,
            alt: modifiers.alt,
        }
    }

    pub(crate) fn parts(&self) -> Option<(egui::Modifiers, egui::Key)> {
        let key = egui::Key::from_name(&self.key)?;
        let mut modifiers = egui::Modifiers::NONE;
        if self.command {
            modifiers |= egui::Modifiers::COMMAND;
        }
        if self.shift {
            modifiers |= egui::Modifiers::SHIFT;
        }
        if self.alt {
            modifiers |= egui::Modifiers::ALT;
        }
        Some((modifiers, key))
    }

    /// As shown in the help: `Ctrl+Shift+Z`.
    pub fn text(&self) -> String {
        let mut out = String::new();
        if self.command {
            out.push_str("Ctrl+");
        }
        if self.alt {
            out.push_str("Alt+");
        }
        if self.shift {
            out.push_str("Shift+");
        }
        out.push_str(&self.key);
        out
    }
}
