//! The prompt side in the desk: the phrases a generation's prompt shares with its match's
//! caption, marked in both, and the statistics panel's phrase table (a click filters the list
//! to the generations whose prompt uses the phrase).

use super::commands::{Command, ListCommand};
use crate::prompts::phrases::{marks, shared};

/// The background of a shared phrase.
const MARK: egui::Color32 = egui::Color32::from_rgba_premultiplied(200, 160, 0, 90);

/// `prefix` then `text` with the byte ranges in `marked` highlighted, wrapping.
pub fn marked_label(
    ui: &mut egui::Ui,
    prefix: &str,
    text: &str,
    marked: &[std::ops::Range<usize>],
    italics: bool,
    weak: bool,
) -> egui::Response {
    let mut job = egui::text::LayoutJob::default();
    let colour = if weak {
        ui.visuals().weak_text_color()
    } else {
        ui.visuals().text_color()
    };
    let format = |background: egui::Color32| egui::TextFormat {
        font_id: egui::TextStyle::Body.resolve(ui.style()),
        color: colour,
        italics,
        background,
        ..Default::default()
    };
    job.append(prefix, 0.0, format(egui::Color32::TRANSPARENT));
    let mut at = 0;
    for range in marked {
        let (start, end) = (range.start.min(text.len()), range.end.min(text.len()));
        if start < at || !text.is_char_boundary(start) || !text.is_char_boundary(end) {
            continue;
        }
        job.append(&text[at..start], 0.0, format(egui::Color32::TRANSPARENT));
        job.append(&text[start..end], 0.0, format(MARK));
        at = end;
    }
    job.append(&text[at..], 0.0, format(egui::Color32::TRANSPARENT));
    job.wrap.max_width = ui.available_width();
    ui.add(egui::Label::new(job).wrap())
}

/// What the pair view marks: the phrases a generation's prompt shares with the selected
/// match's caption, as byte ranges in each. Found once per frame for both places that show them.
#[derive(Default)]
pub struct SharedMarks {
    /// In the prompt.
    pub prompt: Vec<std::ops::Range<usize>>,
    /// In the caption.
    pub caption: Vec<std::ops::Range<usize>>,
    /// How many phrases are shared.
    pub phrases: usize,
}

impl SharedMarks {
    /// The marks of `prompt` and `caption`; none when either is missing.
    pub fn of(prompt: Option<&str>, caption: Option<&str>) -> Self {
        let (Some(prompt), Some(caption)) = (prompt, caption) else {
            return Self::default();
        };
        let common = shared(prompt, caption);
        Self {
            prompt: marks(prompt, &common),
            caption: marks(caption, &common),
            phrases: common.len(),
        }
    }
}

/// The most phrases the panel lists.
const PHRASES_LISTED: usize = 12;

/// The report's phrases that go with copying: each a button that filters the list to the
/// generations using it.
pub fn phrases_ui(
    ui: &mut egui::Ui,
    report: &crate::export::report::AuditReport,
    active: Option<&str>,
    out: &mut Vec<Command>,
) {
    let side = &report.prompts;
    if let Some(split) = &side.sources {
        ui.label(format!(
            "Of {} generations made from sampled captions: {} copy their caption's image, {} another, {} nothing",
            split.linked, split.own_source.count, split.other_training.count, split.nothing.count
        ));
    }
    if report.prompt_phrases.is_empty() {
        ui.weak(format!(
            "No phrase is used by {} or more generations with a prompt",
            side.min_generations
        ));
        return;
    }
    ui.weak(format!(
        "By one-sided Fisher's exact test against the generations without the phrase ({}); click a phrase to list its generations",
        if side.basis == "labels" {
            "replicated = labelled full or near copy"
        } else {
            "replicated = top-1 at or above the threshold"
        }
    ));
    egui::Grid::new("phrases")
        .num_columns(4)
        .spacing([10.0, 2.0])
        .striped(true)
        .show(ui, |ui| {
            for title in ["phrase", "replicated", "rate", "q"] {
                ui.label(egui::RichText::new(title).strong());
            }
            ui.end_row();
            for stat in report.prompt_phrases.iter().take(PHRASES_LISTED) {
                let on = active == Some(stat.phrase.as_str());
                if ui
                    .selectable_label(on, &stat.phrase)
                    .on_hover_text(format!(
                        "p = {:.2e}; click to list the {} generations whose prompt uses it",
                        stat.p_value, stat.generations
                    ))
                    .clicked()
                {
                    let phrase = (!on).then(|| stat.phrase.clone());
                    out.push(Command::List(ListCommand::Phrase(phrase)));
                }
                ui.label(format!("{} of {}", stat.replicated, stat.generations));
                ui.label(format!("{:.0}%", stat.rate * 100.0));
                ui.label(format!("{:.3}", stat.q_value));
                ui.end_row();
            }
        });
}
