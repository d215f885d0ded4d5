//! The scan's index phase: the project's own training index, reloaded when a saved one
//! matches the training images' embeddings (checked against its checksum), else built from
//! them and saved beside a checksum.

use std::path::Path;

use crate::embed::ModelKey;
use crate::index::IndexParams;
use crate::index::prebuilt::FileCheck;
use crate::project::cache::EmbeddingCache;
use crate::project::{Project, write_atomically};
use crate::scan::error::ScanError;
use crate::scan::events::EventSink;
use crate::scan::sources::State;
use crate::scan::training::Training;
use crate::scan::{ScanEvent, ScanOptions, ScanPhase};

/// What the index phase reads.
pub(super) struct Inputs<'a> {
    pub(super) options: &'a ScanOptions,
    pub(super) events: &'a EventSink,
    pub(super) project: &'a Project,
    pub(super) cache: &'a EmbeddingCache,
    /// The key of the training index's embeddings.
    pub(super) model_key: &'a ModelKey,
}

/// A key for the project's index: the model, the dtype, and every ready training image's
/// position and content.
fn training_fingerprint(training: &Training, inputs: &Inputs<'_>) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(inputs.model_key.as_bytes());
    hasher.update(inputs.options.dtype.as_str().as_bytes());
    for (i, record) in training.records().iter().enumerate() {
        if let (State::Ready, Some(hash)) = (record.state, record.hash) {
            hasher.update(&(i as u64).to_le_bytes());
            hasher.update(&hash);
        }
    }
    hasher.finalize().to_hex()[..16].to_string()
}

/// Builds (or reloads) the project's index once no training image is pending.
pub(super) fn build_or_reload(
    training: &mut Training,
    inputs: &Inputs<'_>,
) -> Result<(), ScanError> {
    if training.index().is_some() || training.is_pending() {
        return Ok(());
    }
    inputs.events.send(ScanEvent::Phase(ScanPhase::Indexing));
    let fingerprint = training_fingerprint(training, inputs);
    let path = inputs
        .project
        .index_dir()
        .join(format!("training-{fingerprint}.usearch"));
    let Training::Sources {
        catalogued,
        pending,
        index,
    } = training
    else {
        return Ok(());
    };
    let check_path = path.with_extension("usearch.check");
    if path.is_file() {
        match reopen_checked(&*inputs.options.store, &path, &check_path) {
            Ok(reopened) => {
                inputs
                    .events
                    .info(format!("training index reloaded from {}", path.display()));
                *index = Some(reopened);
                pending.clear();
                return Ok(());
            }
            Err(why) => inputs.events.info(format!(
                "the project's training index {} {why}; it is rebuilt from the cached embeddings",
                path.display()
            )),
        }
    }
    let mut vectors: Vec<(u64, Vec<f32>)> = Vec::new();
    for (i, record) in catalogued.records.iter().enumerate() {
        if record.state != State::Ready {
            continue;
        }
        let vector = match pending.remove(&i) {
            Some(v) => Some(v),
            None => match record.hash {
                Some(hash) => inputs.cache.vector(inputs.model_key, &hash, "")?,
                None => None,
            },
        };
        if let Some(vector) = vector {
            vectors.push((i as u64, vector));
        }
    }
    let dims = vectors.first().map_or(1, |(_, v)| v.len());
    let refs: Vec<(u64, &[f32])> = vectors.iter().map(|(k, v)| (*k, v.as_slice())).collect();
    let params = IndexParams {
        dims,
        dtype: inputs.options.dtype,
    };
    let built = crate::index::build(&*inputs.options.store, params, &refs)?;
    let saved = built.save(&path).map_err(|e| e.to_string()).and_then(|()| {
        let check = FileCheck::of(&path).map_err(|e| e.to_string())?;
        let json = serde_json::to_vec(&check).map_err(|e| e.to_string())?;
        write_atomically(&check_path, &json).map_err(|e| e.to_string())
    });
    if let Err(err) = saved {
        inputs.events.info(format!(
            "could not save the training index ({err}); it will be rebuilt next time"
        ));
    } else {
        remove_other_indexes(&inputs.project.index_dir(), &path);
    }
    inputs.events.info(format!(
        "training index built: {} images, {} search",
        built.len(),
        if built.is_exact() {
            "exact"
        } else {
            "approximate (HNSW)"
        }
    ));
    if vectors.is_empty() {
        inputs
            .events
            .info("the training set has no usable images: generations get no matches");
    }
    *index = Some(built);
    Ok(())
}

/// Reopens the project's saved index after checking it against the checksum saved beside it
/// (whole up to 256 MiB, by samples beyond); says why not otherwise.
fn reopen_checked(
    store: &dyn crate::index::IndexStore,
    path: &Path,
    check_path: &Path,
) -> Result<Box<dyn crate::index::TrainingIndex>, String> {
    let check: FileCheck = std::fs::read(check_path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or("has no checksum beside it")?;
    match check.quick_check(path) {
        Ok(true) => crate::index::reopen(store, path).map_err(|e| e.to_string()),
        Ok(false) => Err("does not match its checksum (damaged)".into()),
        Err(err) => Err(format!("cannot be read ({err})")),
    }
}

fn remove_other_indexes(dir: &Path, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let keep_name = keep.file_name();
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        let keep_check = keep.with_extension("usearch.check");
        if Some(name.as_os_str()) != keep_name
            && Some(name.as_os_str()) != keep_check.file_name()
            && name.to_string_lossy().starts_with("training-")
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
