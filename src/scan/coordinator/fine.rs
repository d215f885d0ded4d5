//! The fine pass, coarse to fine: a generation that the whole image and the coarse windows
//! leave without a match at the threshold is embedded again in small windows (a training
//! image shown at 15-25% of the width, inside a screenshot, a web page or a poster, fills too
//! little of a coarse window for SSCD to see it), and matched over all its views. Generations
//! with a match are never held, so on an audit the pass costs only what is still unexplained.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::catalog::ImageEntry;
use crate::embed::ModelKey;
use crate::embed::provision::Found;
use crate::project::cache::EmbeddingCache;
use crate::ranking::regions::RegionPlan;
use crate::scan::ScanOptions;
use crate::scan::embedding::{self, EmbeddingRun, Needs, RunSettings, Step};
use crate::scan::error::ScanError;
use crate::scan::events::EventSink;
use crate::scan::workers::Slot;

/// What the fine pass reads and writes besides the generations it embeds.
pub(super) struct FineInputs<'a> {
    pub(super) options: &'a ScanOptions,
    pub(super) events: &'a EventSink,
    pub(super) cache: &'a mut EmbeddingCache,
    pub(super) model_key: &'a ModelKey,
    /// Files skipped so far (the workers number their skips after them).
    pub(super) already_skipped: usize,
    pub(super) library: &'a Found,
    pub(super) model_file: &'a Found,
}

/// Embeds the `fine` windows of the `held` generations (`entries`) into the cache, unless
/// cached already: false when cancelled. The views land in the cache; a generation that
/// fails now keeps its first-pass views (it decoded once, so this is rare).
pub(super) fn embed_fine_windows(
    fine: RegionPlan,
    entries: &[(Slot, ImageEntry)],
    inputs: FineInputs<'_>,
    cancel: &Arc<AtomicBool>,
) -> Result<bool, ScanError> {
    let needs = Needs {
        regions: Some(fine),
        sizes: false,
    };
    let plan = embedding::plan(
        inputs.cache,
        inputs.model_key,
        entries.iter().map(|(slot, e)| (*slot, e)),
        needs,
    )?;
    if plan.work.is_empty() {
        return Ok(true);
    }
    // The first pass's session went with its workers; a second costs about a second on a
    // CPU, against seconds of windows per generation.
    let embedder =
        (inputs.options.models).load(&inputs.options.model, inputs.library, inputs.model_file)?;
    let settings = RunSettings {
        batch_size: inputs.options.batch_size,
        decode_threads: inputs.options.decode_threads,
        already_skipped: inputs.already_skipped,
    };
    let mut run = EmbeddingRun::start(
        plan,
        entries.iter().map(|(slot, e)| (*slot, e)),
        embedder,
        &settings,
        cancel,
    )?;
    loop {
        match run.next(inputs.cache, inputs.model_key, inputs.events)? {
            Step::Outcomes(_) => {}
            Step::Done => break,
            Step::Cancelled => return Ok(false),
        }
    }
    run.finish(inputs.cache, inputs.model_key)?;
    Ok(true)
}

/// What the fine windows would cost a generation whose views include a layout thumbnail that
/// looks like a composite ([`crate::ranking::composite`]); `None` for any other.
pub(super) fn composite_cost(
    views: &super::Views,
    fine: crate::ranking::regions::RegionPlan,
) -> Option<usize> {
    let (_, luma) = views
        .iter()
        .find(|(name, _)| name == crate::ranking::layout::LAYOUT_VIEW)?;
    crate::ranking::composite::looks_composite(luma)
        .then(|| crate::ranking::regions::fine_cost(luma, fine))
}

/// Splits the `held` generations (each with its fine windows' cost, as [`composite_cost`]
/// estimated it) into those the fine windows are for and the rest: all of them without a
/// `budget`; with one, those that fit in it in the order given, the log saying how many did
/// not.
pub(super) fn split_by_budget(
    held: Vec<(usize, usize)>,
    budget: Option<usize>,
    events: &EventSink,
) -> (Vec<usize>, Vec<usize>) {
    let (mut spent, budget) = (0, budget.unwrap_or(usize::MAX));
    let within = held
        .iter()
        .take_while(|(_, cost)| {
            spent += cost;
            spent <= budget
        })
        .count();
    let mut held: Vec<usize> = held.into_iter().map(|(i, _)| i).collect();
    let rest = held.split_off(within);
    if !rest.is_empty() {
        events.info(format!(
            "fine windows for {within} of {} generations that look like screenshots, pages or figures (the cost limit; --regions on searches them all)",
            within + rest.len()
        ));
    }
    (held, rest)
}

/// Tells the scan's listeners that the fine pass begins, for how many generations.
pub(super) fn announce(events: &EventSink, fine: RegionPlan, generations: usize, threshold: f32) {
    events.send(crate::scan::ScanEvent::Phase(
        crate::scan::ScanPhase::FineWindows,
    ));
    events.info(format!(
        "fine windows ({g}x{g} of {:.0}%) for {generations} generations without a match at {threshold}",
        fine.window_share * 100.0,
        g = fine.grid,
    ));
}
