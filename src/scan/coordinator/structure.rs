//! The training side's structure index ([`crate::ranking::structure`]): every ready training
//! image's structure vector, under the key the training index gives it, built once that index is
//! ready from the layout thumbnails already stored (the cache's, or the prebuilt index's rows).
//! It is built in memory each scan: a thumbnail is 1,024 values and the vector 450, so building
//! costs a read of the thumbnails and no image is decoded again.

use std::time::Instant;

use crate::embed::ModelKey;
use crate::index::{Dtype, IndexParams, TrainingIndex};
use crate::project::cache::EmbeddingCache;
use crate::ranking::layout::{LAYOUT_VIEW, Ranking};
use crate::ranking::structure::{structure_dims, structure_vector};
use crate::scan::ScanOptions;
use crate::scan::error::ScanError;
use crate::scan::events::EventSink;
use crate::scan::sources::State;
use crate::scan::training::Training;

/// The structure index of `training`, when the ranking draws structure candidates; `None`
/// when it does not or no training image has a usable thumbnail. `model_key` is the key the
/// cache holds the training images' thumbnails under (the training index's model).
pub(super) fn build(
    training: &Training,
    cache: &EmbeddingCache,
    model_key: &ModelKey,
    options: &ScanOptions,
    events: &EventSink,
) -> Result<Option<Box<dyn TrainingIndex>>, ScanError> {
    let ranking: Ranking = options.matching.ranking;
    if !options.matching.layout_rerank || ranking.structure_candidates == 0 {
        return Ok(None);
    }
    let started = Instant::now();
    let grid = ranking.structure_grid;
    let mut vectors: Vec<(u64, Vec<f32>)> = Vec::new();
    match training {
        Training::Sources { catalogued, .. } => {
            for (i, record) in catalogued.records.iter().enumerate() {
                let Some(hash) = record.hash.filter(|_| record.state == State::Ready) else {
                    continue;
                };
                let luma = cache.vector(model_key, &hash, LAYOUT_VIEW)?;
                if let Some(vector) = luma.and_then(|luma| structure_vector(&luma, grid)) {
                    vectors.push((i as u64, vector));
                }
            }
        }
        Training::Prebuilt(prebuilt) => {
            for key in 0..prebuilt.manifest.rows {
                let luma = prebuilt.rows.row(key)?.and_then(|row| row.luma);
                let luma = luma.map(|l| l.iter().map(|&v| f32::from(v)).collect::<Vec<_>>());
                if let Some(vector) = luma.and_then(|luma| structure_vector(&luma, grid)) {
                    vectors.push((key, vector));
                }
            }
        }
    }
    if vectors.is_empty() {
        return Ok(None);
    }
    let refs: Vec<(u64, &[f32])> = vectors.iter().map(|(k, v)| (*k, v.as_slice())).collect();
    // f16 keeps the small values of a 450-long unit vector; i8 would round most to a few levels.
    let params = IndexParams {
        dims: structure_dims(grid),
        dtype: Dtype::F16,
    };
    let built = crate::index::build(&*options.store, params, &refs)?;
    events.info(format!(
        "structure index built: {} training images in {:.1} s",
        built.len(),
        started.elapsed().as_secs_f64()
    ));
    Ok(Some(built))
}
