//! Both sides of a scan as the coordinator tracks them: the training side (its records and
//! index) and the generations' records, and what becomes of each image.

use crate::catalog::ImageEntry;
use crate::project::cache::ContentHash;
use crate::ranking::matches::{Side, SkippedFile};
use crate::scan::sources::{ImageRecord, State};
use crate::scan::training::Training;
use crate::scan::workers::Slot;

pub(super) struct Sides {
    pub(super) training: Training,
    pub(super) generations: Vec<ImageRecord>,
}

impl Sides {
    /// Every image the scan embeds, training first (so the index can be built early).
    pub(super) fn images(&self) -> Vec<(Slot, &ImageEntry)> {
        self.training
            .records()
            .iter()
            .enumerate()
            .map(|(i, r)| (Slot::Training(i), &r.entry))
            .chain(
                self.generations
                    .iter()
                    .enumerate()
                    .map(|(i, r)| (Slot::Generation(i), &r.entry)),
            )
            .collect()
    }

    fn record(&mut self, slot: Slot) -> Option<&mut ImageRecord> {
        match slot {
            Slot::Training(i) => match &mut self.training {
                Training::Sources { catalogued, .. } => catalogued.records.get_mut(i),
                Training::Prebuilt(_) => None,
            },
            Slot::Generation(i) => self.generations.get_mut(i),
        }
    }

    /// Marks the image in `slot` read (with its content hash, its PNG prompt and what was
    /// noted about how it was read); returns the notes as files to list.
    pub(super) fn mark_ready(
        &mut self,
        slot: Slot,
        hash: ContentHash,
        png_prompt: Option<String>,
        notes: Vec<String>,
    ) -> Vec<SkippedFile> {
        let side = side_of(slot);
        let Some(record) = self.record(slot) else {
            return Vec::new();
        };
        record.hash = Some(hash);
        record.png_prompt = png_prompt;
        record.state = State::Ready;
        record.notes = notes.clone();
        notes
            .into_iter()
            .map(|reason| SkippedFile {
                side,
                path: record.display.clone(),
                reason,
            })
            .collect()
    }

    /// Marks the image in `slot` failed; returns it as a skipped file to list.
    pub(super) fn mark_failed(&mut self, slot: Slot, reason: String) -> Option<SkippedFile> {
        let side = side_of(slot);
        Some(failed(self.record(slot)?, side, reason))
    }
}

/// Marks generation `i` of `generations` failed (for a phase that holds the training side
/// apart); returns it as a skipped file to list.
pub(super) fn fail_generation(
    generations: &mut [ImageRecord],
    i: usize,
    reason: String,
) -> Option<SkippedFile> {
    Some(failed(generations.get_mut(i)?, Side::Generation, reason))
}

fn failed(record: &mut ImageRecord, side: Side, reason: String) -> SkippedFile {
    record.state = State::Failed;
    SkippedFile {
        side,
        path: record.display.clone(),
        reason,
    }
}

fn side_of(slot: Slot) -> Side {
    match slot {
        Slot::Training(_) => Side::Training,
        Slot::Generation(_) => Side::Generation,
    }
}
