//! Phrases of a prompt or caption: runs of one to four words after normalising case and
//! punctuation, as the paper looked for the key phrases that bring a training image back
//! ("Canvas Wall Art Print", "The Great Wave off Kanagawa").

use std::collections::BTreeSet;

/// The longest phrase counted, in words.
pub const MAX_PHRASE_WORDS: usize = 4;

/// English function words: never a phrase alone, nor at a phrase's ends ("of the", "art print
/// of"), since they are in nearly every prompt and say nothing about what it asks for; inside a
/// phrase they stay ("print of the sea").
const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "down",
    "during",
    "each",
    "few",
    "for",
    "from",
    "further",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "me",
    "more",
    "most",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "s",
    "same",
    "she",
    "should",
    "so",
    "some",
    "such",
    "t",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
];

/// Whether `word` (normalised) is a function word.
pub fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.binary_search(&word).is_ok()
}

/// The words of `text`, lower-cased, split at anything that is not a letter or a digit
/// ("Canvas Wall-Art, Print!" gives `canvas`, `wall`, `art`, `print`; an apostrophe splits
/// too, so "Van Gogh's" gives `van`, `gogh`, `s`).
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The normalised form of a phrase as a user types it (`"Canvas  Wall-Art"` gives
/// `canvas wall art`), or `None` when nothing of it is a word.
pub fn normalise(phrase: &str) -> Option<String> {
    let words = words(phrase);
    (!words.is_empty()).then(|| words.join(" "))
}

/// Every distinct phrase of one to [`MAX_PHRASE_WORDS`] words in `text`, each as its words
/// joined by one space; a phrase that begins or ends with a function word is left out (so no
/// function word counts alone, and "a vintage poster" is not a second "vintage poster").
pub fn phrases(text: &str) -> BTreeSet<String> {
    let words = words(text);
    let mut out = BTreeSet::new();
    for start in 0..words.len() {
        for len in 1..=MAX_PHRASE_WORDS.min(words.len() - start) {
            let run = &words[start..start + len];
            if is_stop_word(&run[0]) || is_stop_word(&run[len - 1]) {
                continue;
            }
            out.insert(run.join(" "));
        }
    }
    out
}

/// Whether the normalised `phrase` occurs in `text` as whole words.
pub fn contains(text: &str, phrase: &str) -> bool {
    let needle: Vec<&str> = phrase.split(' ').collect();
    let words = words(text);
    !needle.is_empty()
        && words
            .windows(needle.len())
            .any(|w| w.iter().zip(&needle).all(|(a, b)| a == b))
}

/// The phrases `a` and `b` share, longest first, without those inside a longer shared one
/// (for marking: "great wave" is not marked again inside "the great wave off").
pub fn shared(a: &str, b: &str) -> Vec<String> {
    let theirs = phrases(b);
    let mut common: Vec<String> = phrases(a).intersection(&theirs).cloned().collect();
    common.sort_by(|x, y| {
        y.split(' ')
            .count()
            .cmp(&x.split(' ').count())
            .then_with(|| x.cmp(y))
    });
    let mut kept: Vec<String> = Vec::new();
    for phrase in common {
        let padded = format!(" {phrase} ");
        if !kept.iter().any(|k| format!(" {k} ").contains(&padded)) {
            kept.push(phrase);
        }
    }
    kept
}

/// The byte ranges of `text` covered by the words of any of `phrases` (normalised), merged and
/// in order: what the desk marks.
pub fn marks(text: &str, phrases: &[String]) -> Vec<std::ops::Range<usize>> {
    // Each word's byte range in the original text.
    let mut spans: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    let mut start = None;
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        match (c.is_alphanumeric() && i < text.len(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                spans.push((s..i, text[s..i].to_lowercase()));
                start = None;
            }
            _ => {}
        }
    }
    let mut covered = vec![false; spans.len()];
    for phrase in phrases {
        let needle: Vec<&str> = phrase.split(' ').collect();
        if needle.is_empty() || needle.len() > spans.len() {
            continue;
        }
        for at in 0..=spans.len() - needle.len() {
            if needle
                .iter()
                .enumerate()
                .all(|(k, w)| spans[at + k].1 == *w)
            {
                covered[at..at + needle.len()].fill(true);
            }
        }
    }
    let mut out: Vec<std::ops::Range<usize>> = Vec::new();
    for (i, (span, _)) in spans.iter().enumerate() {
        if !covered[i] {
            continue;
        }
        // Words of one marked run are joined with what lies between them.
        match out.last_mut() {
            Some(last) if i > 0 && covered[i - 1] => last.end = span.end,
            _ => out.push(span.clone()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stop_word_list_is_sorted_for_its_binary_search() {
        assert!(STOP_WORDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn phrases_are_normalised_runs_of_up_to_four_words() {
        let found = phrases("Canvas Wall-Art, PRINT of the Sea!");
        let expected: BTreeSet<String> = [
            "canvas",
            "canvas wall",
            "canvas wall art",
            "canvas wall art print",
            "wall",
            "wall art",
            "wall art print",
            "art",
            "art print",
            "print",
            "print of the sea",
            "sea",
        ]
        .map(String::from)
        .into();
        // Left out: "of", "the", "of the" (function words alone), and "art print of", "the
        // sea" and the rest that begin or end with one.
        assert_eq!(found, expected);
        assert!(phrases("the of a").is_empty());
    }

    #[test]
    fn containment_is_by_whole_words() {
        assert!(contains("A Canvas wall art print", "wall art"));
        assert!(!contains("wallpaper art", "wall art"));
        assert!(!contains("", "wall"));
    }

    #[test]
    fn shared_phrases_drop_those_inside_longer_ones_and_marks_cover_their_words() {
        let prompt = "The Great Wave off Kanagawa, by Hokusai";
        let caption = "great wave off kanagawa print on canvas";
        assert_eq!(shared(prompt, caption), ["great wave off kanagawa"]);
        let marked = marks(prompt, &shared(prompt, caption));
        assert_eq!(marked, vec![4..27]);
        assert_eq!(&prompt[4..27], "Great Wave off Kanagawa");
        assert_eq!(normalise(" Great  WAVE! "), Some("great wave".into()));
        assert_eq!(normalise("!!"), None);
    }
}
