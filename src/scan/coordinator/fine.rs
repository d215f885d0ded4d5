//! The fine pass, coarse to fine: a generation that the whole image and the coarse windows
//! leave without a match at the threshold is embedded again in small windows (a training
//! image shown at 15-25% of the width, inside a screenshot, a web page or a poster, fills too
//! little of a coarse window for SSCD to see it), and matched over all its views. Generations
//! with a match are never held, so on an audit the pass costs only what is still unexplained.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::Coordinator;
use crate::catalog::ImageEntry;
use crate::embed::provision::Found;
use crate::embed::request::load_embedder;
use crate::scan::ScanEvent;
use crate::scan::ScanPhase;
use crate::scan::embedding::{self, EmbeddingRun, Needs, RunSettings, Step};
use crate::scan::error::ScanError;
use crate::scan::workers::Slot;

impl Coordinator<'_> {
    /// Embeds the fine windows of every held generation (unless cached), then matches each
    /// over all its views: false when cancelled.
    pub(super) fn refine(
        &mut self,
        cancel: &Arc<AtomicBool>,
        library: &Found,
        model_file: &Found,
    ) -> Result<bool, ScanError> {
        let Some(fine) = self.regions.fine else {
            return Ok(true);
        };
        let held = std::mem::take(&mut self.state.held_for_fine);
        if held.is_empty() {
            return Ok(true);
        }
        self.events.send(ScanEvent::Phase(ScanPhase::FineWindows));
        self.events.info(format!(
            "fine windows ({g}x{g} of {:.0}%) for {} generations without a match at {}",
            fine.window_share * 100.0,
            held.len(),
            self.options.matching.threshold,
            g = fine.grid,
        ));
        let entries: Vec<(Slot, ImageEntry)> = held
            .iter()
            .map(|&i| (Slot::Generation(i), self.generations[i].entry.clone()))
            .collect();
        let needs = Needs {
            regions: Some(fine),
            sizes: false,
        };
        let plan = embedding::plan(
            &self.cache,
            &self.keys.model_key,
            entries.iter().map(|(slot, e)| (*slot, e)),
            needs,
        )?;
        if !plan.work.is_empty() {
            // The first pass's session went with its workers; a second costs about a second
            // on a CPU, against seconds of windows per generation.
            let embedder = load_embedder(&self.options.model, library, model_file)?;
            let settings = RunSettings {
                batch_size: self.options.batch_size,
                decode_threads: self.options.decode_threads,
                already_skipped: self.tally.skipped.len(),
            };
            let mut run = EmbeddingRun::start(
                plan,
                entries.iter().map(|(slot, e)| (*slot, e)),
                Box::new(embedder),
                &settings,
                cancel,
            )?;
            loop {
                // Views land in the cache; a generation that fails now keeps its first-pass
                // views (it decoded once, so this is rare).
                match run.next(&mut self.cache, &self.keys.model_key, self.events)? {
                    Step::Outcomes(_) => {}
                    Step::Done => break,
                    Step::Cancelled => return Ok(false),
                }
            }
            run.finish(&mut self.cache, &self.keys.model_key)?;
        }
        // All their views now come from the cache, fine windows included; each is emitted
        // whatever it finds.
        let settings = self.match_settings();
        self.match_in_parallel(&held, settings, false)?;
        Ok(true)
    }
}
