//! The baseline from a prebuilt training index of the scan's model: a sample of its rows,
//! each searched in the index.

use crate::audit::baseline::{
    BaselineOutcome, Input, Sampled, TrainingBaseline, sample_baseline, searched_in,
};
use crate::audit::options::{AuditError, AuditOptions};
use crate::export::report::Baseline;
use crate::project::Project;
use crate::project::last_scan::LastScan;

/// A prebuilt index of the scan's model (not after a cascade scan: that index holds the
/// student's vectors; see [`crate::audit::cascade`]).
pub(crate) struct PrebuiltVectors;

impl TrainingBaseline for PrebuiltVectors {
    fn figures(&self, input: &Input<'_>) -> Result<BaselineOutcome, AuditError> {
        if input.last.cascade.is_some() {
            return Ok(BaselineOutcome::NotMine(
                "the last scan ran the shortlist cascade".into(),
            ));
        }
        Ok(
            match prebuilt_baseline(
                input.project,
                input.last,
                input.generation_top1,
                input.options,
            ) {
                None => {
                    BaselineOutcome::NotMine("the project has no prebuilt training index".into())
                }
                Some(Err(why)) => BaselineOutcome::Unavailable(why),
                Some(Ok((baseline, counts, index_text, training_images))) => {
                    BaselineOutcome::Figures(Box::new(
                        Sampled {
                            baseline,
                            counts,
                            training_blake3: None,
                            index_text,
                            training_images,
                        }
                        .into_figures(input),
                    ))
                }
            },
        )
    }
}

/// The baseline over a prebuilt index of the scan's model: a seeded sample of its keys (rows
/// are keyed 0 to N-1), each one's vector as the index stores it, searched in the index
/// itself (approximately, above the exact-search limit), skipping the image itself and
/// byte-identical copies by the rows' blake3. `None` when the project has no prebuilt index.
#[allow(clippy::type_complexity)]
fn prebuilt_baseline(
    project: &Project,
    last: &LastScan,
    generation_top1: &[f32],
    options: &AuditOptions,
) -> Option<Result<(Baseline, Vec<f64>, String, usize), String>> {
    let dir = project.spec.training_index.as_ref()?;
    Some((|| {
        let prebuilt = crate::index::prebuilt::PrebuiltIndex::open(dir, &*options.store)
            .map_err(|e| e.to_string())?;
        if prebuilt.manifest.model_key != last.model_key {
            return Err(format!(
                "the training index holds {} embeddings, not the scan's {}: a baseline in the scan's model needs them",
                prebuilt.manifest.model_key, last.model_key
            ));
        }
        let keys: Vec<u64> = (0..prebuilt.manifest.rows).collect();
        let (baseline, counts) = sample_baseline(
            &keys,
            &searched_in(prebuilt.index.as_ref()),
            &|key| prebuilt.index.vector(key).map_err(|e| e.to_string()),
            &|key| {
                Ok(prebuilt
                    .rows
                    .row(key)
                    .map_err(|e| e.to_string())?
                    .map(|r| r.blake3))
            },
            generation_top1,
            options,
        )?;
        Ok((
            baseline,
            counts,
            format!(
                "prebuilt {} ({} training images, {} search)",
                dir.display(),
                prebuilt.manifest.rows,
                if prebuilt.manifest.build.exact {
                    "exact"
                } else {
                    "approximate (HNSW)"
                }
            ),
            prebuilt.index.len(),
        ))
    })())
}
