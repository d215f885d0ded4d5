//! The desk's keys: which key does what, configurable in the settings (the help window, `?`,
//! shows and changes them), and turning this frame's key presses into commands.

use std::collections::BTreeMap;

use super::choices::Mode;
use super::commands::{Command, CompareCommand, GridCommand};
pub use crate::app::choices::{KeyAction, KeyChord};
use crate::review::Label;

/// Which keys do what: each action's chords (the first is the one shown first).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Keymap {
    /// Chords by action.
    pub bindings: BTreeMap<KeyAction, Vec<KeyChord>>,
}

impl Default for Keymap {
    fn default() -> Self {
        use egui::Key;
        let plain = KeyChord::plain;
        let ctrl = |key| KeyChord::with(key, egui::Modifiers::COMMAND);
        let mut bindings = BTreeMap::new();
        let mut bind = |action, chords: Vec<KeyChord>| {
            bindings.insert(action, chords);
        };
        bind(KeyAction::FullCopy, vec![plain(Key::Num1)]);
        bind(KeyAction::NearCopy, vec![plain(Key::Num2)]);
        bind(KeyAction::Distinct, vec![plain(Key::Num3)]);
        bind(
            KeyAction::Clear,
            vec![plain(Key::Num0), plain(Key::Backspace)],
        );
        bind(
            KeyAction::NextGeneration,
            vec![plain(Key::J), plain(Key::ArrowDown)],
        );
        bind(
            KeyAction::PreviousGeneration,
            vec![plain(Key::K), plain(Key::ArrowUp)],
        );
        bind(KeyAction::NextMatch, vec![plain(Key::ArrowRight)]);
        bind(KeyAction::PreviousMatch, vec![plain(Key::ArrowLeft)]);
        bind(KeyAction::NextUnlabelled, vec![plain(Key::N)]);
        bind(KeyAction::Grid, vec![plain(Key::G)]);
        bind(KeyAction::CompareMode, vec![plain(Key::M)]);
        bind(KeyAction::Aligned, vec![plain(Key::A)]);
        bind(KeyAction::CollageMap, vec![plain(Key::C)]);
        bind(KeyAction::Undo, vec![ctrl(Key::Z)]);
        bind(
            KeyAction::Redo,
            vec![
                KeyChord::with(Key::Z, egui::Modifiers::COMMAND | egui::Modifiers::SHIFT),
                ctrl(Key::Y),
            ],
        );
        bind(
            KeyAction::Help,
            vec![
                plain(Key::Questionmark),
                KeyChord::with(Key::Questionmark, egui::Modifiers::SHIFT),
                KeyChord::with(Key::Slash, egui::Modifiers::SHIFT),
            ],
        );
        Self { bindings }
    }
}

impl Keymap {
    /// The chords of `action` (its default ones when the settings have none).
    pub fn chords(&self, action: KeyAction) -> Vec<KeyChord> {
        self.bindings
            .get(&action)
            .cloned()
            .unwrap_or_else(|| Self::default().bindings.remove(&action).unwrap_or_default())
    }

    /// Binds `chord` to `action` as its first chord, taking it from any other action.
    pub fn bind(&mut self, action: KeyAction, chord: KeyChord) {
        for other in KeyAction::ALL {
            let mut chords = self.chords(other);
            chords.retain(|c| *c != chord);
            self.bindings.insert(other, chords);
        }
        let mut chords = self.chords(action);
        chords.insert(0, chord);
        self.bindings.insert(action, chords);
    }

    /// The first chord of `action`, as shown.
    pub fn shown(&self, action: KeyAction) -> String {
        let chords = self.chords(action);
        if chords.is_empty() {
            "(none)".into()
        } else {
            chords
                .iter()
                .map(KeyChord::text)
                .collect::<Vec<_>>()
                .join(" / ")
        }
    }
}

/// The commands this frame's key presses give (none while a text field has focus). While an
/// action is being rebound, the next key press binds it instead (Escape cancels). In the grid,
/// the arrows, Page Up/Down, Enter and Ctrl+A move and select.
pub fn commands_from_keys(
    ctx: &egui::Context,
    keymap: &Keymap,
    mode: Mode,
    rebinding: Option<KeyAction>,
) -> Vec<Command> {
    if ctx.egui_wants_keyboard_input() {
        return Vec::new();
    }
    let mut out = Vec::new();
    if let Some(action) = rebinding {
        ctx.input(|input| {
            for event in &input.events {
                if let egui::Event::Key {
                    key,
                    pressed: true,
                    modifiers,
                    ..
                } = event
                {
                    out.push(if *key == egui::Key::Escape {
                        Command::Rebind(None)
                    } else {
                        Command::BindKey(action, KeyChord::with(*key, *modifiers))
                    });
                    break;
                }
            }
        });
        return out;
    }
    ctx.input_mut(|input| {
        if mode == Mode::Grid {
            use egui::{Key, Modifiers};
            let grid = [
                (Key::ArrowRight, 1, 0),
                (Key::ArrowLeft, -1, 0),
                (Key::ArrowDown, 0, 1),
                (Key::ArrowUp, 0, -1),
            ];
            for (key, dx, dy) in grid {
                if input.consume_key(Modifiers::SHIFT, key) {
                    out.push(Command::Grid(GridCommand::Move {
                        dx,
                        dy,
                        extend: true,
                    }));
                }
                if input.consume_key(Modifiers::NONE, key) {
                    out.push(Command::Grid(GridCommand::Move {
                        dx,
                        dy,
                        extend: false,
                    }));
                }
            }
            if input.consume_key(Modifiers::NONE, Key::PageDown) {
                out.push(Command::Grid(GridCommand::Page(1)));
            }
            if input.consume_key(Modifiers::NONE, Key::PageUp) {
                out.push(Command::Grid(GridCommand::Page(-1)));
            }
            if input.consume_key(Modifiers::NONE, Key::Enter) {
                out.push(Command::Grid(GridCommand::Open));
            }
            if input.consume_key(Modifiers::COMMAND, Key::A) {
                out.push(Command::Grid(GridCommand::SelectPage));
            }
        }
        // Longer chords first, so Ctrl+Shift+Z is not taken as Ctrl+Z.
        let mut chords: Vec<(egui::Modifiers, egui::Key, KeyAction)> = KeyAction::ALL
            .iter()
            .flat_map(|&action| {
                keymap
                    .chords(action)
                    .iter()
                    .filter_map(|c| c.parts())
                    .map(move |(m, k)| (m, k, action))
                    .collect::<Vec<_>>()
            })
            .collect();
        chords.sort_by_key(|(m, _, _)| {
            std::cmp::Reverse(u8::from(m.command) + u8::from(m.shift) + u8::from(m.alt))
        });
        for (modifiers, key, action) in chords {
            if input.consume_key(modifiers, key) {
                out.push(command_of(action));
            }
        }
    });
    out
}

/// The command it gives.
fn command_of(action: KeyAction) -> Command {
    match action {
        KeyAction::FullCopy => Command::Label(Some(Label::FullCopy)),
        KeyAction::NearCopy => Command::Label(Some(Label::NearCopy)),
        KeyAction::Distinct => Command::Label(Some(Label::Distinct)),
        KeyAction::Clear => Command::Label(None),
        KeyAction::NextGeneration => Command::NextGeneration,
        KeyAction::PreviousGeneration => Command::PreviousGeneration,
        KeyAction::NextMatch => Command::NextMatch,
        KeyAction::PreviousMatch => Command::PreviousMatch,
        KeyAction::NextUnlabelled => Command::NextUnlabelled,
        KeyAction::Grid => Command::ToggleGrid,
        KeyAction::CompareMode => Command::Compare(CompareCommand::NextMode),
        KeyAction::Aligned => Command::Compare(CompareCommand::ToggleAligned),
        KeyAction::CollageMap => Command::Compare(CompareCommand::ToggleCollageMap),
        KeyAction::Undo => Command::Undo,
        KeyAction::Redo => Command::Redo,
        KeyAction::Help => Command::ToggleHelp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_a_key_takes_it_from_its_old_action_and_round_trips() {
        let mut keymap = Keymap::default();
        keymap.bind(KeyAction::Distinct, KeyChord::plain(egui::Key::D));
        assert_eq!(keymap.shown(KeyAction::Distinct), "D / 3");
        keymap.bind(KeyAction::FullCopy, KeyChord::plain(egui::Key::Num3));
        assert_eq!(keymap.shown(KeyAction::Distinct), "D");
        assert_eq!(keymap.shown(KeyAction::FullCopy), "3 / 1");
        let json = serde_json::to_string(&keymap).expect("json");
        let back: Keymap = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, keymap);
        assert_eq!(
            KeyChord::with(
                egui::Key::Z,
                egui::Modifiers::COMMAND | egui::Modifiers::SHIFT
            )
            .text(),
            "Ctrl+Shift+Z"
        );
    }
}
