//! Matching the generations that wait for the training index, searched in parallel. The index
//! searches are most of a generation's matching (an exact search reads every training vector)
//! and touch nothing but the index, so a batch of generations is searched on every core, and so
//! are the duplicate counts of the training images they match (a search each); naming and
//! ranking the candidates reads the cache and stays on the coordinating thread. Without
//! this, matching 10,000 generations against 10,000 training images on one thread capped an
//! end-to-end scan near 1,000 images/s on a GPU (docs/scanning.md, "The GPU path").

use rayon::prelude::*;

use super::Coordinator;
use crate::index::IndexError;
use crate::ranking::matching::{MatchSettings, Searched, search_views};
use crate::scan::error::ScanError;

/// Generations searched together: enough to keep every core busy, few enough that their views
/// (up to 60 vectors each with fine windows) stay small.
const BATCH: usize = 256;

impl Coordinator<'_> {
    /// Matches `waiting` generations (whose embeddings are ready) over the training index;
    /// with `hold`, one left without a match at the threshold is held for the fine windows
    /// (when they are on) instead of emitted.
    pub(super) fn match_in_parallel(
        &mut self,
        waiting: &[usize],
        settings: MatchSettings,
        hold: bool,
    ) -> Result<(), ScanError> {
        for batch in waiting.chunks(BATCH) {
            let mut views = Vec::with_capacity(batch.len());
            for &i in batch {
                views.push((i, self.generation_views(i)?));
            }
            let Some(index) = self.training.index() else {
                break;
            };
            let searched: Vec<Result<Option<Searched>, IndexError>> = views
                .par_iter()
                .map(|(_, views)| search_views(views, index, settings))
                .collect();
            let mut assembled = Vec::with_capacity(views.len());
            for ((i, views), searched) in views.into_iter().zip(searched) {
                let Some(searched) = searched? else {
                    continue;
                };
                if let Some(matched) = self.assemble_views(&views, searched, settings)? {
                    assembled.push((i, matched));
                }
            }
            // Each matched training image's duplicate count is a search too.
            self.state.neighbours.count_duplicates(
                &self.training,
                self.cascade.is_some(),
                assembled
                    .iter()
                    .flat_map(|(_, m)| m.matches.iter().filter_map(|m| m.training_key)),
            );
            for (i, matched) in assembled {
                if hold {
                    self.matched(i, matched);
                } else {
                    self.emit(i, matched);
                }
            }
        }
        Ok(())
    }
}
