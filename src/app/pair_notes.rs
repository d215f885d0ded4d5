//! What the pair view says beside the match strip: why a match is where it is (the window
//! that found it, a lift by layout), and with several reviewers either the dispute to
//! adjudicate or, under blind review, the others' labels once one's own is given.

use super::commands::Command;
use super::desk::{Desk, PairAt};
use crate::review::Label;

/// The notes on pair `at` of `result`.
pub(super) fn pair_notes_ui(
    ui: &mut egui::Ui,
    desk: &Desk,
    result: &crate::ranking::matches::GenerationMatches,
    at: PairAt,
    out: &mut Vec<Command>,
) {
    let original = desk
        .images()
        .get(&crate::catalog::ImageLocation::File(
            result.generation_path.clone(),
        ))
        .map(|u| u.original.0);
    for reason in crate::ranking::explain::reasons(
        &result.matches,
        at.1,
        original,
        crate::ranking::layout::LAYOUT_WEIGHT,
    ) {
        ui.label(egui::RichText::new(reason.text()).small());
    }
    if let Some(given) = desk
        .review()
        .dispute_on(at)
        .filter(|_| !desk.review().dispute_shown(at))
    {
        // Blind review: a reviewer who has not labelled the pair must not see how others did.
        ui.horizontal_wrapped(|ui| {
            ui.label(
                egui::RichText::new(format!(
                    "Disputed by {} reviewers — their labels stay hidden until you label this pair.",
                    given.len()
                ))
                .small()
                .strong(),
            );
            if ui
                .small_button("Adjudicate (show their labels)")
                .on_hover_text("For the adjudicator: show every disputed pair's labels this session, so you can set final labels")
                .clicked()
            {
                out.push(Command::Adjudicating(true));
            }
        });
    } else if let Some(given) = desk.review().dispute_on(at) {
        ui.horizontal_wrapped(|ui| {
            let each: Vec<String> = given
                .iter()
                .map(|(who, label)| format!("{who}: {}", label.title()))
                .collect();
            ui.label(
                egui::RichText::new(format!("Disputed — {}. Adjudicate:", each.join(", ")))
                    .small()
                    .strong(),
            );
            for label in Label::ALL {
                if ui
                    .small_button(label.title())
                    .on_hover_text("Set the pair's final label (kept apart from the reviewers' own, with your name and the time)")
                    .clicked()
                {
                    out.push(Command::Adjudicate(label));
                }
            }
            if desk.review().adjudicating()
                && ui
                    .small_button("Stop adjudicating")
                    .on_hover_text("Hide the labels of disputes you have not labelled again")
                    .clicked()
            {
                out.push(Command::Adjudicating(false));
            }
        });
    } else if let Some(others) = desk.review().others_on(at) {
        let each: Vec<String> = others
            .iter()
            .map(|(who, label)| format!("{who}: {}", label.title()))
            .collect();
        ui.label(
            egui::RichText::new(format!("Also labelled — {}", each.join(", ")))
                .small()
                .strong(),
        );
    }
}
