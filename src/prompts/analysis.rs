//! Which phrases go with copying: for every phrase used by enough generations, how many of them
//! were replicated, against the generations without it (one-sided Fisher's exact test, with
//! Benjamini-Hochberg q-values over all phrases tested).

use std::collections::{BTreeMap, BTreeSet};

use super::phrases::phrases;
use crate::stats::{FisherTables, Rate, benjamini_hochberg};

/// The default least number of generations a phrase must be used by to be tested.
pub const DEFAULT_MIN_GENERATIONS: usize = 5;

/// One generation as the phrase statistics see it.
#[derive(Debug, Clone)]
pub struct PromptedGeneration<'a> {
    /// Its prompt.
    pub prompt: &'a str,
    /// Whether it was replicated (by the threshold, or by its labels).
    pub replicated: bool,
}

/// One phrase's figures, as the report lists them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PhraseStat {
    /// The phrase, normalised (lower case, words joined by one space).
    pub phrase: String,
    /// Generations whose prompt uses it.
    pub generations: usize,
    /// Of those, the replicated.
    pub replicated: usize,
    /// `replicated / generations`.
    pub rate: f64,
    /// Wilson 95% interval of the rate.
    pub ci95: [f64; 2],
    /// One-sided Fisher's exact test of replication with the phrase against without it.
    pub p_value: f64,
    /// Benjamini-Hochberg q-value over every phrase tested.
    pub q_value: f64,
}

/// Every phrase used by at least `min_generations` of `generations`, sorted by p-value; among
/// equal p-values (a phrase and the shorter ones inside it, used by the same generations) the
/// longer phrase first, then the phrase. The q-values count every phrase tested.
pub fn phrase_stats(
    generations: &[PromptedGeneration<'_>],
    min_generations: usize,
) -> Vec<PhraseStat> {
    let total = generations.len();
    let replicated_total = generations.iter().filter(|g| g.replicated).count();
    let mut users: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, generation) in generations.iter().enumerate() {
        for phrase in phrases(generation.prompt) {
            users.entry(phrase).or_default().push(i);
        }
    }
    users.retain(|_, who| who.len() >= min_generations.max(1));
    // Every phrase's table has the same total: one table of log-factorials serves them all.
    let fisher = FisherTables::new(total);
    let mut stats: Vec<PhraseStat> = users
        .into_iter()
        .map(|(phrase, who)| {
            let with = who.len();
            let a = who.iter().filter(|&&i| generations[i].replicated).count();
            let (b, c) = (with - a, replicated_total - a);
            let d = total - with - c;
            let rate = Rate::of(a, with);
            PhraseStat {
                phrase,
                generations: with,
                replicated: a,
                rate: rate.value,
                ci95: rate.ci95,
                p_value: fisher.greater(a, b, c, d),
                q_value: 1.0,
            }
        })
        .collect();
    let q = benjamini_hochberg(&stats.iter().map(|s| s.p_value).collect::<Vec<_>>());
    for (stat, q) in stats.iter_mut().zip(q) {
        stat.q_value = q;
    }
    stats.sort_by(|x, y| {
        x.p_value
            .total_cmp(&y.p_value)
            .then_with(|| words(&y.phrase).cmp(&words(&x.phrase)))
            .then_with(|| x.phrase.cmp(&y.phrase))
    });
    stats
}

fn words(phrase: &str) -> usize {
    phrase.split(' ').count()
}

/// What a generation made from a sampled caption copied (the paper: none copied its own
/// caption's image, about 1.9% copied another training image).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceOutcome {
    /// A replicated match is the training image its caption came from.
    OwnSource,
    /// It replicates training images, but not its caption's.
    OtherTraining,
    /// Nothing replicated.
    Nothing,
}

impl SourceOutcome {
    /// The outcome of a generation whose replicated matches (at or above the threshold, or
    /// labelled copies) have the content hashes `replicated`, made from the caption of the
    /// training image with hash `source`.
    pub fn of<'a>(mut replicated: impl Iterator<Item = &'a str>, source: &str) -> Self {
        let mut any = false;
        for hash in replicated.by_ref() {
            if hash == source {
                return Self::OwnSource;
            }
            any = true;
        }
        if any {
            Self::OtherTraining
        } else {
            Self::Nothing
        }
    }
}

/// The generations linked to a prompt set, by what they copied, each share with its Wilson
/// interval.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SourceSplit {
    /// Generations linked to a prompt of the set (by name, sidecar or metadata).
    pub linked: usize,
    /// Of those, the ones that copy their own caption's training image.
    pub own_source: Rate,
    /// The ones that copy another training image (and not their own).
    pub other_training: Rate,
    /// The ones that copy nothing.
    pub nothing: Rate,
    /// What counted as a copy: `threshold` (top matches at or above it) or `labels` (pairs
    /// labelled full or near copy).
    pub basis: String,
}

impl SourceSplit {
    /// The split of `outcomes`, counted on `basis`.
    pub fn of(outcomes: &[SourceOutcome], basis: &str) -> Self {
        let count = |want: SourceOutcome| outcomes.iter().filter(|&&o| o == want).count();
        let n = outcomes.len();
        Self {
            linked: n,
            own_source: Rate::of(count(SourceOutcome::OwnSource), n),
            other_training: Rate::of(count(SourceOutcome::OtherTraining), n),
            nothing: Rate::of(count(SourceOutcome::Nothing), n),
            basis: basis.to_string(),
        }
    }
}

/// How often a phrase appears in two sets of training captions: those of the training images
/// matched at or above the threshold (or labelled copies), and all of them (the paper: "Canvas
/// Wall Art Print" in about 20% of the matches' captions).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PhraseInCaptions {
    /// The phrase.
    pub phrase: String,
    /// Matched training images whose caption uses it, of those with a caption.
    pub matched: Rate,
    /// Training images whose caption uses it, of those with a caption.
    pub all: Rate,
}

/// Counts each of `phrases` in `matched` and `all` captions (each caption once per phrase).
pub fn phrases_in_captions<'a>(
    phrases_wanted: &[String],
    matched: impl IntoIterator<Item = &'a str>,
    all: impl IntoIterator<Item = &'a str>,
) -> Vec<PhraseInCaptions> {
    let count = |captions: &mut dyn Iterator<Item = &'a str>| {
        let wanted: BTreeSet<&str> = phrases_wanted.iter().map(String::as_str).collect();
        let mut counts = vec![0usize; phrases_wanted.len()];
        let mut total = 0usize;
        for caption in captions {
            total += 1;
            let found = phrases(caption);
            for (i, phrase) in phrases_wanted.iter().enumerate() {
                if wanted.contains(phrase.as_str()) && found.contains(phrase) {
                    counts[i] += 1;
                }
            }
        }
        (counts, total)
    };
    let (in_matched, matched_total) = count(&mut matched.into_iter());
    let (in_all, all_total) = count(&mut all.into_iter());
    phrases_wanted
        .iter()
        .enumerate()
        .map(|(i, phrase)| PhraseInCaptions {
            phrase: phrase.clone(),
            matched: Rate::of(in_matched[i], matched_total),
            all: Rate::of(in_all[i], all_total),
        })
        .collect()
}

/// How many of the most significant phrases are looked up in the training captions.
pub const PHRASES_IN_CAPTIONS: usize = 20;

/// The report's prompt-side figures.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct PromptSide {
    /// Every phrase used by at least `min_generations` generations, by p-value (written once,
    /// as the report's `prompt_phrases`).
    #[serde(skip)]
    pub phrases: Vec<PhraseStat>,
    /// What counted as replicated: `labels` or `threshold`.
    pub basis: String,
    /// Generations whose prompts were tested (those with a prompt; with labels, those with a
    /// prompt and a labelled pair).
    pub generations: usize,
    /// The least number of generations a phrase needed.
    pub min_generations: usize,
    /// The top phrases in the matched training images' captions against all captions.
    pub in_captions: Vec<PhraseInCaptions>,
    /// Why the captions could not be counted, when they could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captions_unavailable: Option<String>,
    /// Generations made from a sampled caption, by what they copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sources: Option<SourceSplit>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generation(prompt: &str, replicated: bool) -> PromptedGeneration<'_> {
        PromptedGeneration { prompt, replicated }
    }

    #[test]
    fn a_phrase_used_by_the_copies_comes_first_with_its_exact_figures() {
        // 10 generations: 4 say "canvas wall art print", 3 of them replicated; 1 other
        // replicated. The table [[3, 1], [1, 5]] gives p = 25/210 (worked in stats' tests).
        let mut all = Vec::new();
        for i in 0..4 {
            all.push(generation("a sofa, canvas wall art print", i < 3));
        }
        all.push(generation("a sofa in a room", true));
        for _ in 0..5 {
            all.push(generation("a sofa in a garden", false));
        }
        let stats = phrase_stats(&all, 4);
        let first = &stats[0];
        // Of the phrases the 4 prompts share, equally significant, the longest first; of the
        // two of four words, the first in order.
        assert_eq!(first.phrase, "canvas wall art print");
        assert_eq!(stats[1].phrase, "sofa canvas wall art");
        assert_eq!((first.generations, first.replicated), (4, 3));
        assert!((first.p_value - 25.0 / 210.0).abs() < 1e-12);
        assert_eq!(first.rate, 0.75);
        // "sofa" is in every prompt: tested, and nothing to tell (p = 1).
        let sofa = stats.iter().find(|s| s.phrase == "sofa").expect("sofa");
        assert_eq!(
            (sofa.generations, sofa.replicated, sofa.p_value),
            (10, 4, 1.0)
        );
        let garden = stats.iter().find(|s| s.phrase == "sofa in a garden");
        assert_eq!(garden.map(|g| (g.generations, g.replicated)), Some((5, 0)));
        // Phrases of 4 or more generations: the 4 prompts' own 13 (none begins or ends with
        // "a"), "sofa" (10), and "sofa in a garden" and "garden" (5 each): the q-values are over
        // all 16, the 13 tied at the first p-value share theirs.
        assert_eq!(stats.len(), 16, "{stats:?}");
        let m = stats.len() as f64;
        let tied = stats.iter().filter(|s| s.p_value == first.p_value).count() as f64;
        assert!((first.q_value - (25.0 / 210.0 * m / tied).min(1.0)).abs() < 1e-12);
    }

    #[test]
    fn a_generation_copies_its_own_source_another_or_nothing() {
        use SourceOutcome::*;
        assert_eq!(SourceOutcome::of(["x", "s"].into_iter(), "s"), OwnSource);
        assert_eq!(SourceOutcome::of(["x"].into_iter(), "s"), OtherTraining);
        assert_eq!(SourceOutcome::of(std::iter::empty(), "s"), Nothing);
        let split = SourceSplit::of(&[Nothing, Nothing, OtherTraining, Nothing], "threshold");
        assert_eq!(split.linked, 4);
        assert_eq!((split.own_source.count, split.other_training.count), (0, 1));
        assert_eq!((split.nothing.count, split.nothing.total), (3, 4));
        assert_eq!(
            split.other_training.ci95,
            crate::stats::wilson(1, 4, crate::stats::Z95)
        );
    }

    #[test]
    fn captions_are_counted_once_per_phrase() {
        let counted = phrases_in_captions(
            &["wall art".to_string()],
            ["Wall art, wall art!", "a barn"],
            ["wall art", "a barn", "a cat", "art wall"],
        );
        assert_eq!((counted[0].matched.count, counted[0].matched.total), (1, 2));
        assert_eq!((counted[0].all.count, counted[0].all.total), (1, 4));
    }
}
