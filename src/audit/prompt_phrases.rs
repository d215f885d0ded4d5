//! The report's prompt side: which phrases of the generations' prompts go with copying, how
//! often the top ones appear in the matched training images' captions against all captions,
//! and, for generations made from a sampled caption, whether they copy that caption's image,
//! another, or nothing. Copying is read from the final labels where the project has any (full
//! or near copy), else from the threshold.

use std::collections::{BTreeSet, HashMap};

use crate::audit::caption_sample::{CaptionSource, captions};
use crate::export::report::LabelSummary;
use crate::project::Project;
use crate::project::last_scan::LastScan;
use crate::prompts::analysis::{
    PHRASES_IN_CAPTIONS, PromptSide, PromptedGeneration, SourceOutcome, SourceSplit, phrase_stats,
    phrases_in_captions,
};
use crate::review::Label;

/// The prompt side of the project's last scan.
pub(crate) fn prompt_side(
    project: &Project,
    last: &LastScan,
    labels: &LabelSummary,
    threshold: f32,
    min_generations: usize,
) -> PromptSide {
    // (generation, training) -> the final label, where the reviewers gave one.
    let finals: HashMap<(&str, &str), Label> = labels
        .final_pairs
        .iter()
        .filter_map(|p| {
            Some((
                (p.generation.as_str(), p.training.as_str()),
                Label::parse(&p.label)?,
            ))
        })
        .collect();
    let by_labels = !finals.is_empty();
    // Each generation's replicated matches, and whether it is in the tested population.
    let judged: Vec<(bool, Vec<&crate::ranking::matches::Match>)> = last
        .results
        .iter()
        .map(|r| {
            if by_labels {
                let labelled: Vec<(Label, &crate::ranking::matches::Match)> = r
                    .matches
                    .iter()
                    .filter_map(|m| {
                        finals
                            .get(&(r.generation.as_str(), m.training.as_str()))
                            .map(|&l| (l, m))
                    })
                    .collect();
                let copies = labelled
                    .iter()
                    .filter(|(l, _)| *l != Label::Distinct)
                    .map(|(_, m)| *m)
                    .collect();
                (!labelled.is_empty(), copies)
            } else {
                let copies = r
                    .matches
                    .iter()
                    .filter(|m| m.similarity >= threshold)
                    .collect();
                (true, copies)
            }
        })
        .collect();
    let prompted: Vec<PromptedGeneration<'_>> = last
        .results
        .iter()
        .zip(&judged)
        .filter_map(|(r, (tested, copies))| {
            let prompt = r.prompt.as_deref().filter(|p| !p.trim().is_empty())?;
            tested.then_some(PromptedGeneration {
                prompt,
                replicated: !copies.is_empty(),
            })
        })
        .collect();
    let phrases = phrase_stats(&prompted, min_generations);
    let basis = if by_labels { "labels" } else { "threshold" };
    let outcomes: Vec<SourceOutcome> = last
        .results
        .iter()
        .zip(&judged)
        .filter_map(|(r, (tested, copies))| {
            let source = r.prompt_source.as_ref().filter(|_| *tested)?;
            let hashes = copies.iter().filter_map(|m| m.training_hash.as_deref());
            Some(SourceOutcome::of(hashes, &source.training_hash))
        })
        .collect();
    let sources = last
        .results
        .iter()
        .any(|r| r.prompt_source.is_some())
        .then(|| SourceSplit::of(&outcomes, basis));
    let top: Vec<String> = phrases
        .iter()
        .filter(|p| p.replicated > 0)
        .take(PHRASES_IN_CAPTIONS)
        .map(|p| p.phrase.clone())
        .collect();
    let (in_captions, captions_unavailable) = if top.is_empty() {
        (Vec::new(), None)
    } else {
        // Each matched training image once, by content where known.
        let mut seen = BTreeSet::new();
        let matched: Vec<&str> = judged
            .iter()
            .flat_map(|(_, copies)| copies.iter())
            .filter(|m| seen.insert(m.training_hash.as_deref().unwrap_or(&m.training)))
            .filter_map(|m| m.training_caption.as_deref())
            .collect();
        let source = match &project.spec.training_index {
            Some(index) => CaptionSource::Index(index.clone()),
            None => CaptionSource::Sources(project.spec.training.clone()),
        };
        match captions(&source) {
            Ok(all) => (
                phrases_in_captions(&top, matched, all.iter().map(String::as_str)),
                None,
            ),
            Err(why) => (
                Vec::new(),
                Some(format!("the training captions could not be read: {why}")),
            ),
        }
    };
    PromptSide {
        generations: prompted.len(),
        phrases,
        basis: basis.to_string(),
        min_generations,
        in_captions,
        captions_unavailable,
        sources,
    }
}
