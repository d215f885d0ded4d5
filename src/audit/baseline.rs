//! The training-against-training baseline, whatever the training side: the strategies (the
//! project's own vectors, a prebuilt index, the cascade's student re-scored) each implement
//! [`TrainingBaseline`], and share the sampling ([`sample_baseline`]) and the figures they
//! give the report ([`TrainingFigures`]).

use rand::SeedableRng;
use rand::seq::SliceRandom;

use crate::audit::options::{AuditError, AuditOptions};
use crate::export::report::{Baseline, DuplicateCounts};
use crate::index::TrainingIndex;
use crate::project::Project;
use crate::project::cache::{ContentHash, EmbeddingCache};
use crate::project::last_scan::LastScan;
use crate::ranking::matches::{DUPLICATE_NEIGHBOURS, DUPLICATE_SIMILARITY};
use crate::stats;

/// What every strategy reads: the project, its cache and last scan, each generation's top-1
/// similarity, the report's threshold and options.
pub(crate) struct Input<'a> {
    pub(crate) project: &'a Project,
    pub(crate) cache: &'a EmbeddingCache,
    pub(crate) last: &'a LastScan,
    pub(crate) generation_top1: &'a [f32],
    pub(crate) threshold: f32,
    pub(crate) options: &'a AuditOptions,
}

/// What a strategy made of a project.
pub(crate) enum BaselineOutcome {
    /// The figures, baseline included.
    Figures(Box<TrainingFigures>),
    /// The strategy serves this project but could not make a baseline, for this reason.
    Unavailable(String),
    /// The strategy does not serve this project, for this reason (the next one is asked).
    NotMine(String),
}

/// One way to make the baseline. The report asks each in turn ([`figures`]); the first that
/// serves the project gives the figures. An error fails the report.
pub(crate) trait TrainingBaseline {
    fn figures(&self, input: &Input<'_>) -> Result<BaselineOutcome, AuditError>;
}

/// The figures of the first strategy that serves the project; without one, no baseline, for
/// the first strategy's reason, and the duplicate counts the scan wrote.
pub(crate) fn figures(
    strategies: &[&dyn TrainingBaseline],
    input: &Input<'_>,
) -> Result<TrainingFigures, AuditError> {
    let mut first_why = None;
    for strategy in strategies {
        match strategy.figures(input)? {
            BaselineOutcome::Figures(figures) => return Ok(*figures),
            BaselineOutcome::Unavailable(why) => {
                return Ok(TrainingFigures::unavailable_for(why, input));
            }
            BaselineOutcome::NotMine(why) => {
                first_why.get_or_insert(why);
            }
        }
    }
    let why = first_why.unwrap_or_else(|| "no baseline strategy serves this project".into());
    Ok(TrainingFigures::unavailable_for(why, input))
}

/// A sampled baseline of a training side without its own full-SSCD vectors of the matches:
/// the duplicate counts of the matches come from the scan, those of all images from the
/// sample.
pub(crate) struct Sampled {
    pub(crate) baseline: Baseline,
    /// Each sampled image's duplicate count.
    pub(crate) counts: Vec<f64>,
    pub(crate) training_blake3: Option<String>,
    /// The index, in words, for the provenance.
    pub(crate) index_text: String,
    pub(crate) training_images: usize,
}

impl Sampled {
    /// The report's figures from this sample and the scan's duplicate counts.
    pub(crate) fn into_figures(self, input: &Input<'_>) -> TrainingFigures {
        let mut counts = scan_duplicate_counts(input.last, input.threshold, input.options);
        if let Some(counts) = &mut counts {
            counts.all_mean = stats::mean(&self.counts);
            counts.all_ci95 = stats::bootstrap_mean_ci(&self.counts, RESAMPLES, input.options.seed);
        }
        TrainingFigures {
            baseline: Some(self.baseline),
            unavailable: None,
            counts,
            training_blake3: self.training_blake3,
            index_text: self.index_text,
            training_images: self.training_images,
        }
    }
}

/// Bootstrap resamples for the duplicate counts' intervals.
pub(crate) const RESAMPLES: usize = 2_000;

/// What the training side gives the report: the baseline (or why none), the duplicate
/// counts, and what the provenance says of it.
pub(crate) struct TrainingFigures {
    pub(crate) baseline: Option<Baseline>,
    pub(crate) unavailable: Option<String>,
    pub(crate) counts: Option<DuplicateCounts>,
    pub(crate) training_blake3: Option<String>,
    pub(crate) index_text: String,
    pub(crate) training_images: usize,
}

impl TrainingFigures {
    /// No baseline, for `why`; the duplicate counts the scan wrote.
    pub(crate) fn unavailable(
        why: String,
        last: &LastScan,
        threshold: f32,
        options: &AuditOptions,
    ) -> Self {
        Self {
            baseline: None,
            unavailable: Some(why.clone()),
            counts: scan_duplicate_counts(last, threshold, options),
            training_blake3: None,
            index_text: why,
            training_images: 0,
        }
    }

    fn unavailable_for(why: String, input: &Input<'_>) -> Self {
        Self::unavailable(why, input.last, input.threshold, input.options)
    }
}

/// A seeded sample of `keys` (at most `options.baseline_sample`), in key order.
pub(crate) fn draw_sample(keys: &[u64], options: &AuditOptions) -> Vec<u64> {
    let mut sample = keys.to_vec();
    let mut rng = rand::rngs::StdRng::seed_from_u64(options.seed);
    sample.shuffle(&mut rng);
    sample.truncate(options.baseline_sample.max(1));
    sample.sort_unstable();
    sample
}

/// How a sampled training image's neighbours are found: given its key and vector, its
/// nearest training images, best first, with their similarities.
pub(crate) type Neighbours<'a> = dyn Fn(u64, &[f32]) -> Result<Vec<crate::index::Hit>, String> + 'a;

/// The baseline over a seeded sample of `keys` (recorded): each sampled training image's
/// most similar other training image among its `neighbours` (itself and byte-identical
/// copies, by `hash_of`, skipped), and its duplicate count among them. Keys without a vector
/// are left out of the sample.
pub(crate) fn sample_baseline(
    keys: &[u64],
    neighbours: &Neighbours<'_>,
    vector_of: &dyn Fn(u64) -> Result<Option<Vec<f32>>, String>,
    hash_of: &dyn Fn(u64) -> Result<Option<ContentHash>, String>,
    generation_top1: &[f32],
    options: &AuditOptions,
) -> Result<(Baseline, Vec<f64>), String> {
    let sample = draw_sample(keys, options);
    let mut top1 = Vec::with_capacity(sample.len());
    let mut counts = Vec::with_capacity(sample.len());
    for &key in &sample {
        let Some(vector) = vector_of(key)? else {
            continue;
        };
        let own = hash_of(key)?;
        let hits = neighbours(key, &vector)?;
        let mut other = None;
        for hit in hits.iter().filter(|h| h.key != key) {
            if own.is_none() || hash_of(hit.key)? != own {
                other = Some(hit.similarity);
                break;
            }
        }
        top1.push(other.unwrap_or(0.0));
        counts.push(
            hits.iter()
                .filter(|h| h.key != key && h.similarity >= DUPLICATE_SIMILARITY)
                .count() as f64,
        );
    }
    let train_train = stats::Percentiles::of(&top1)
        .ok_or_else(|| "the training index returned no vectors to sample".to_string())?;
    Ok((
        Baseline {
            sample: top1.len(),
            seed: options.seed,
            method: None,
            train_train,
            generation_train: stats::Percentiles::of(generation_top1),
            train_top1: top1,
        },
        counts,
    ))
}

/// An index's nearest [`DUPLICATE_NEIGHBOURS`] (and the image itself), as [`Neighbours`].
pub(crate) fn searched_in(
    index: &dyn TrainingIndex,
) -> impl Fn(u64, &[f32]) -> Result<Vec<crate::index::Hit>, String> + '_ {
    move |_, vector| {
        index
            .search(vector, DUPLICATE_NEIGHBOURS + 1)
            .map_err(|e| e.to_string())
    }
}

/// Without the training side's vectors (a prebuilt index), the duplicate counts the scan
/// wrote on its matches: the replicated matches' mean, with no sample of all training images
/// to compare it with.
pub(crate) fn scan_duplicate_counts(
    last: &LastScan,
    threshold: f32,
    options: &AuditOptions,
) -> Option<DuplicateCounts> {
    let counts: Vec<f64> = last
        .results
        .iter()
        .flat_map(|r| &r.matches)
        .filter(|m| m.similarity >= threshold)
        .map(|m| m.duplicates.map(|d| d as f64))
        .collect::<Option<Vec<f64>>>()?;
    Some(DuplicateCounts {
        replicated_mean: stats::mean(&counts),
        all_mean: None,
        ci95: stats::bootstrap_mean_ci(&counts, RESAMPLES, options.seed),
        all_ci95: None,
        replicated_matches: counts.len(),
        neighbours_searched: DUPLICATE_NEIGHBOURS,
    })
}
