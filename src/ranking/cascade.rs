//! The shortlist cascade: the training side is embedded and indexed with the distilled SSCD
//! student (3.6 times cheaper on a 2-core CPU, sold as five), each generation is embedded with both models, its
//! shortlist of training images by the student is read again and embedded with full SSCD,
//! and the matches are ranked and reported by full SSCD's cosine. Thresholds, rates and flags
//! therefore mean what they mean without the cascade; full SSCD is paid for the generations
//! and their shortlists only.
//!
//! The shortlist of a generation is the union of the student's top [`Shortlist::size`] for
//! each of its views (the whole image and, with regions on, each window), ordered by each
//! candidate's best similarity over the views and cut to the size.

use crate::index::{Hit, TrainingIndex};

/// The shortlist size used when none is given: the smallest size at which recall@1 and
/// recall@5 of full and near copies on the fixtures' tuning half stop changing, and at least
/// 16 (see docs/scanning.md, "Shortlist cascade", for the sweep and the held-out figures).
pub const DEFAULT_SHORTLIST_SIZE: usize = 16;

/// The largest shortlist accepted: beyond it the cascade costs more than it saves on any
/// training set a scan embeds itself.
pub const MAX_SHORTLIST_SIZE: usize = 1024;

/// Training images must outnumber generations by this much before `auto` turns the cascade
/// on for a scan that embeds its training side itself.
pub const AUTO_MIN_RATIO: usize = 20;

/// A shortlisted training image's neighbours by the student at or above this similarity are
/// embedded with full SSCD too, so that its duplicate count (full SSCD at 0.95 or more) is
/// full SSCD's. Chosen on the fixtures' tuning half: of its 259 pairs at full SSCD 0.95 or
/// more, the lowest student similarity was 0.942; less a margin of 0.04, rounded down to
/// 0.05, it is 0.90. On the report half it loses none of 26 such pairs (lowest 0.968) and
/// embeds 17 pairs that are not duplicates.
pub const STUDENT_DUPLICATE_BOUND: f32 = 0.90;

/// Training image `key`'s near duplicates by the student among `hits` (its nearest by the
/// student): those at or above [`STUDENT_DUPLICATE_BOUND`], itself left out. The scan and
/// the report's baseline both embed them with full SSCD.
pub(crate) fn near_duplicates_by_student(
    key: u64,
    hits: &[crate::index::Hit],
) -> impl Iterator<Item = u64> + '_ {
    hits.iter()
        .filter(move |h| h.key != key && h.similarity >= STUDENT_DUPLICATE_BOUND)
        .map(|h| h.key)
}

/// Whether a scan runs the cascade (`--shortlist`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShortlistMode {
    /// On when inference runs on the CPU and training images outnumber generations
    /// [`AUTO_MIN_RATIO`] to 1, or when the training index holds distilled embeddings; off
    /// with an index of full SSCD embeddings, and on a GPU, where full SSCD is only about half
    /// as fast as the student.
    #[default]
    Auto,
    /// Whenever the model is full SSCD.
    On,
    /// Never: every training image is embedded with the scan's model.
    Off,
}

impl std::str::FromStr for ShortlistMode {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(
            match crate::ranking::switch::parse_switch(text, "shortlist mode")? {
                crate::ranking::switch::Switch::Auto => Self::Auto,
                crate::ranking::switch::Switch::On => Self::On,
                crate::ranking::switch::Switch::Off => Self::Off,
            },
        )
    }
}

/// The cascade's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Shortlist {
    /// Whether it runs.
    pub mode: ShortlistMode,
    /// Training images re-scored per generation; `None` for [`DEFAULT_SHORTLIST_SIZE`].
    pub size: Option<usize>,
}

impl Shortlist {
    /// The shortlist size in force.
    pub fn size(&self) -> usize {
        self.size
            .unwrap_or(DEFAULT_SHORTLIST_SIZE)
            .clamp(1, MAX_SHORTLIST_SIZE)
    }
}

/// What the cascade did in a scan.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct CascadeSummary {
    /// The model key of the student that indexed the training side.
    pub shortlist_model: crate::embed::ModelKey,
    /// Training images re-scored per generation, at most.
    pub shortlist_size: usize,
    /// Distinct training images given a full-SSCD embedding (embedded now or cached).
    pub rescored: usize,
    /// Of those, embedded by this scan.
    pub rescored_embedded: usize,
    /// Training images never embedded with full SSCD: what the cascade saved.
    pub full_embeddings_saved: usize,
    /// Of those re-scored, how many were embedded only because they are a shortlisted
    /// image's near duplicates by the student, for its duplicate count.
    #[serde(default)]
    pub duplicate_neighbours: usize,
}

/// How matches were ranked, as written on each match (`"ranked_by"`).
pub fn ranked_by(search_model: &str, similarity_model: &str) -> String {
    if search_model == similarity_model {
        similarity_model.to_string()
    } else {
        format!("{search_model}+{similarity_model}")
    }
}

/// A generation's shortlist: the union of the top `size` of each view in `index`, each
/// candidate scored by its best similarity over the views, the best `size` kept (ties by key).
pub(crate) fn shortlist<'a>(
    views: impl IntoIterator<Item = &'a [f32]>,
    index: &dyn TrainingIndex,
    size: usize,
) -> Result<Vec<Hit>, crate::index::IndexError> {
    let mut best: std::collections::HashMap<u64, f32> = std::collections::HashMap::new();
    for view in views {
        for hit in index.search(view, size)? {
            let entry = best.entry(hit.key).or_insert(hit.similarity);
            *entry = entry.max(hit.similarity);
        }
    }
    let mut hits: Vec<Hit> = best
        .into_iter()
        .map(|(key, similarity)| Hit { key, similarity })
        .collect();
    crate::index::sort_best_first(&mut hits);
    hits.truncate(size);
    Ok(hits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::VectorStore;
    use crate::index::tests::unit;

    #[test]
    fn a_window_can_bring_in_a_candidate_the_whole_image_misses() {
        let dims = 16;
        // Keys 0..6 are near the whole image; key 9 is what one window shows.
        let whole = unit(1, dims);
        let window = unit(2, dims);
        let mut vectors: Vec<(u64, Vec<f32>)> = (0..6u64)
            .map(|k| {
                let mut v: Vec<f32> = whole
                    .iter()
                    .zip(unit(10 + k, dims))
                    .map(|(a, b)| a + 0.1 * (k as f32 + 1.0) * b)
                    .collect();
                crate::embed::l2_normalise(&mut v);
                (k, v)
            })
            .collect();
        vectors.push((9, window.clone()));
        let index = VectorStore::default().exact(dims, vectors).expect("index");
        let only_whole = shortlist([whole.as_slice()], index.as_ref(), 3).expect("shortlist");
        assert_eq!(
            only_whole.iter().map(|h| h.key).collect::<Vec<_>>(),
            [0, 1, 2]
        );
        let with_window =
            shortlist([whole.as_slice(), window.as_slice()], index.as_ref(), 3).expect("shortlist");
        let keys: Vec<u64> = with_window.iter().map(|h| h.key).collect();
        assert_eq!(keys.len(), 3);
        assert!(keys.contains(&9), "{keys:?}");
        assert_eq!(keys[0], 9, "the window's exact hit scores 1.0");
    }

    #[test]
    fn modes_parse_and_sizes_are_bounded() {
        assert_eq!("AUTO".parse::<ShortlistMode>(), Ok(ShortlistMode::Auto));
        assert_eq!("off".parse::<ShortlistMode>(), Ok(ShortlistMode::Off));
        assert!("sometimes".parse::<ShortlistMode>().is_err());
        let default = Shortlist::default();
        assert_eq!(default.size(), DEFAULT_SHORTLIST_SIZE);
        let huge = Shortlist {
            mode: ShortlistMode::On,
            size: Some(1 << 30),
        };
        assert_eq!(huge.size(), MAX_SHORTLIST_SIZE);
        assert_eq!(ranked_by("sscd", "sscd"), "sscd");
        assert_eq!(ranked_by("sscd-distilled", "sscd"), "sscd-distilled+sscd");
    }
}
