//! Why a scan (or an embedding worker) could not go on: one error type for the engine, below
//! the coordinator and the modules it drives, so none of them imports the coordinator for it.

use crate::catalog::CatalogError;
use crate::embed::EmbedError;
use crate::index::IndexError;
use crate::ranking::matches::Side;

use crate::project::ProjectError;
use crate::project::cache::CacheError;

/// Why a scan could not go on.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// A folder could not be walked.
    #[error("{side} folder: {source}")]
    Catalog {
        /// Which folder.
        side: Side,
        /// The error.
        source: CatalogError,
    },
    /// The project folder failed.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// The cache failed.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// The runtime or model could not be found.
    #[error("{0}")]
    Runtime(String),
    /// The prompt set could not be read (its message names the file and the line).
    #[error("{0}")]
    PromptSet(String),
    /// The model failed.
    #[error(transparent)]
    Embed(#[from] EmbedError),
    /// The index failed.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// A worker thread could not start.
    #[error("cannot start worker threads: {0}")]
    Threads(std::io::Error),
    /// The prebuilt training index was made with another model or preprocessing.
    #[error(
        "the training index {index} was built with model {index_key}, but this scan runs {scan_key}; scan with the index's model (--model; an index of sscd-distilled embeddings is re-scored with full SSCD unless --shortlist off), or build an index with this one (`replicant embed --model ...`, then `replicant index build`)"
    )]
    ModelMismatch {
        /// The index folder.
        index: String,
        /// The index's model key.
        index_key: crate::embed::ModelKey,
        /// The scan's model key.
        scan_key: crate::embed::ModelKey,
    },
    /// The index's vectors were not made by the model its manifest names.
    #[error(
        "the training index {index} says its vectors were made with {model_key}, but its workers' embedding of the probe image does not match this model's (cosine {cosine:.3}, the same model gives above 0.97): its vectors come from another model; build the index again from parts embedded with this model"
    )]
    IndexNotOfModel {
        /// The index folder.
        index: String,
        /// The model key both claim.
        model_key: crate::embed::ModelKey,
        /// The probe embeddings' cosine.
        cosine: f32,
    },
}
