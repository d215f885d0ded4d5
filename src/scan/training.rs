//! The training side of a scan: either sources the scan embeds and indexes itself (kept in the
//! project), or a prebuilt training index shared by many projects (`--training-index`).

use std::collections::HashMap;
use std::path::Path;

use crate::catalog::ImageEntry;
use crate::embed::ModelKey;
use crate::index::prebuilt::{PrebuiltIndex, RowStore};
use crate::index::{IndexStore, TrainingIndex};
use crate::project::cache::EmbeddingCache;
use crate::ranking::layout::LAYOUT_VIEW;
use crate::ranking::matching::{
    MatchSettings, Matched, Searched, TrainingImage, TrainingLookup, assemble,
};
use crate::scan::error::ScanError;
use crate::scan::sources::{Catalogued, ImageRecord, State};

/// Where a scan's training images come from.
pub(crate) enum Training {
    /// Sources the scan embeds itself; keys are positions in `catalogued.records`.
    Sources {
        catalogued: Catalogued,
        /// Whole-image embeddings made by this scan, kept until the index is built.
        pending: HashMap<usize, Vec<f32>>,
        /// The index, once every training image is resolved.
        index: Option<Box<dyn TrainingIndex>>,
    },
    /// A prebuilt index; keys are its rows.
    Prebuilt(Box<PrebuiltIndex>),
}

impl Training {
    /// Opens the prebuilt index in `dir`.
    pub(crate) fn prebuilt(dir: &Path, store: &dyn IndexStore) -> Result<Self, ScanError> {
        Ok(Self::Prebuilt(Box::new(PrebuiltIndex::open(dir, store)?)))
    }

    /// The index, when it is ready.
    pub(crate) fn index(&self) -> Option<&dyn TrainingIndex> {
        match self {
            Self::Sources { index, .. } => index.as_deref(),
            Self::Prebuilt(prebuilt) => Some(prebuilt.index.as_ref()),
        }
    }

    /// The records of the training images the scan embeds (none with a prebuilt index).
    pub(crate) fn records(&self) -> &[ImageRecord] {
        match self {
            Self::Sources { catalogued, .. } => &catalogued.records,
            Self::Prebuilt(_) => &[],
        }
    }

    /// Training images the scan knows of: catalogued, or rows of the prebuilt index.
    pub(crate) fn count(&self) -> usize {
        match self {
            Self::Sources { catalogued, .. } => catalogued.records.len(),
            Self::Prebuilt(prebuilt) => prebuilt.manifest.rows as usize,
        }
    }

    /// Training images ready to match: read by this scan (or from the cache), or rows of the
    /// prebuilt index.
    pub(crate) fn ready_count(&self) -> usize {
        match self {
            Self::Sources { catalogued, .. } => catalogued
                .records
                .iter()
                .filter(|r| r.state == State::Ready)
                .count(),
            Self::Prebuilt(prebuilt) => prebuilt.manifest.rows as usize,
        }
    }

    /// Whether training images are still waiting to be embedded.
    pub(crate) fn is_pending(&self) -> bool {
        self.records().iter().any(|r| r.state == State::Pending)
    }

    /// A generation's matches from its searched views, naming training images (and reading
    /// their layout thumbnails) from this side: the records and `model_key`'s embeddings in
    /// `cache`, or the prebuilt index's rows. `mean` is the training images' mean embedding
    /// when ranking centres on it.
    pub(crate) fn assemble(
        &self,
        views: &[(String, Vec<f32>)],
        searched: Searched,
        cache: &EmbeddingCache,
        model_key: &ModelKey,
        mean: Option<&[f32]>,
        settings: MatchSettings,
    ) -> Result<Option<Matched>, ScanError> {
        match self {
            Self::Sources { catalogued, .. } => {
                let lookup = SourcesLookup {
                    records: &catalogued.records,
                    cache,
                    model_key,
                    mean,
                };
                assemble(views, searched, &lookup, settings)
            }
            Self::Prebuilt(prebuilt) => {
                assemble(views, searched, &PrebuiltLookup(&prebuilt.rows), settings)
            }
        }
    }
}

/// Training images of a scan's own sources: names from the records, layout thumbnails from
/// the cache.
pub(crate) struct SourcesLookup<'a> {
    pub records: &'a [ImageRecord],
    pub cache: &'a EmbeddingCache,
    pub model_key: &'a ModelKey,
    /// The mean of the training images' whole-image embeddings, when ranking centres on it.
    pub mean: Option<&'a [f32]>,
}

impl TrainingLookup for SourcesLookup<'_> {
    type Error = ScanError;

    fn image(&self, key: u64) -> Result<Option<TrainingImage>, ScanError> {
        let Some(record) = usize::try_from(key).ok().and_then(|i| self.records.get(i)) else {
            return Ok(None);
        };
        let luma = match record.hash {
            Some(hash) => self.cache.vector(self.model_key, &hash, LAYOUT_VIEW)?,
            None => None,
        };
        Ok(Some(TrainingImage {
            name: record.display.clone(),
            location: record.entry.location.clone(),
            caption: record.text(),
            sample: record.entry.sample.clone(),
            luma,
            hash: record.hash,
        }))
    }

    fn whole_vector(&self, key: u64) -> Result<Option<Vec<f32>>, ScanError> {
        let hash = usize::try_from(key)
            .ok()
            .and_then(|i| self.records.get(i))
            .and_then(|r| r.hash);
        match hash {
            Some(hash) => Ok(self.cache.vector(self.model_key, &hash, "")?),
            None => Ok(None),
        }
    }

    fn mean(&self) -> Option<&[f32]> {
        self.mean
    }
}

/// Training images of a prebuilt index: everything from its rows.
pub(crate) struct PrebuiltLookup<'a>(pub &'a RowStore);

impl TrainingLookup for PrebuiltLookup<'_> {
    type Error = ScanError;

    fn image(&self, key: u64) -> Result<Option<TrainingImage>, ScanError> {
        Ok(self.0.row(key)?.map(|row| TrainingImage {
            name: row.name,
            location: row.location,
            caption: row.caption,
            sample: row.sample,
            luma: row
                .luma
                .map(|luma| luma.iter().map(|&v| f32::from(v)).collect()),
            hash: Some(row.blake3),
        }))
    }
}

/// The catalogue entry of a prebuilt index's row, so that the workers can read its image
/// again: with the size and time the catalogue would record, so that the cache's file
/// records stay truthful.
pub(crate) fn row_entry(row: crate::index::prebuilt::TrainingRow) -> ImageEntry {
    let meta = std::fs::metadata(row.location.file()).ok();
    let size_bytes = match &row.location {
        crate::catalog::ImageLocation::Member(member) => member.size,
        crate::catalog::ImageLocation::File(_) => meta.as_ref().map_or(0, std::fs::Metadata::len),
    };
    let mtime_ns = meta
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    ImageEntry {
        location: row.location,
        rel_path: row.name,
        size_bytes,
        mtime_ns,
        sniffed: false,
        caption: row.caption,
        sample: row.sample,
        shard: None,
    }
}
