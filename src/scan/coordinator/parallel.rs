//! Matching the generations that wait for the training index, searched in parallel. The index
//! searches are most of a generation's matching (an exact search reads every training vector)
//! and touch nothing but the index, so a batch of generations is searched on every core, and so
//! are the duplicate counts of the training images they match (a search each); naming and
//! ranking the candidates reads the cache and stays on the coordinating thread. Without
//! this, matching 10,000 generations against 10,000 training images on one thread capped an
//! end-to-end scan near 1,000 images/s on a GPU (docs/scanning.md, "The GPU path").

use rayon::prelude::*;

use crate::index::{IndexError, TrainingIndex};
use crate::ranking::matching::{MatchSettings, Searched, search_views};

/// Generations searched together: enough to keep every core busy, few enough that their views
/// (up to 60 vectors each with fine windows) stay small.
pub(super) const BATCH: usize = 256;

/// A generation's views: the whole image (`""`), its layout thumbnail and its regions.
pub(super) type Views = Vec<(String, Vec<f32>)>;

/// Searches each generation's views in `batch` over `index` (and its layout thumbnail over
/// `structure`), on all cores, in `batch`'s order.
pub(super) fn search_batch(
    batch: &[(usize, Views)],
    index: &dyn TrainingIndex,
    structure: Option<&dyn TrainingIndex>,
    settings: MatchSettings,
) -> Vec<Result<Option<Searched>, IndexError>> {
    batch
        .par_iter()
        .map(|(_, views)| search_views(views, index, structure, settings))
        .collect()
}
