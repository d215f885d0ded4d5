//! The results a scan leaves in its project, for opening it later without re-scanning.

use std::path::PathBuf;

use crate::project::Project;
use crate::ranking::matches::{GenerationMatches, SkippedFile};

/// The results a scan leaves in the project.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct LastScan {
    /// How the scan was run (absent in results saved before settings were recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<crate::ranking::matches::ScanSettings>,
    /// The model key of the similarities in the results.
    pub model_key: crate::embed::ModelKey,
    /// What the shortlist cascade did, when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cascade: Option<crate::ranking::cascade::CascadeSummary>,
    /// Matches kept per generation.
    pub top_k: usize,
    /// One entry per generation, sorted by top-1 similarity.
    pub results: Vec<GenerationMatches>,
    /// Files that could not be used.
    pub skipped: Vec<SkippedFile>,
}

/// Why the last scan's results cannot be read. Labels live elsewhere (`review.sqlite`) and are
/// never affected.
#[derive(Debug, thiserror::Error)]
pub enum LastScanError {
    /// The file exists but cannot be read.
    #[error(
        "the project's results {path} cannot be read ({source}); {remedy}",
        remedy = crate::fsutil::io_remedy(source, "check its permissions, or scan again to write it anew (labels are kept apart and are safe)")
    )]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not what a scan writes.
    #[error(
        "the project's results {path} are damaged ({detail}); scan again to rebuild them (labels are kept apart in review.sqlite and are safe), or restore the file from a backup"
    )]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        detail: String,
    },
}

impl LastScan {
    /// Reads the last scan of `project`: `None` before its first scan, an error naming the
    /// file and the remedy when it cannot be read or is damaged (never an empty result in
    /// its place).
    pub fn load(project: &Project) -> Result<Option<Self>, LastScanError> {
        let path = project.last_scan_path();
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(LastScanError::Unreadable { path, source }),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|err| LastScanError::Damaged {
                path,
                detail: err.to_string(),
            })
    }
}
