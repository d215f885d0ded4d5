//! The results a scan leaves in its project, for opening it later without re-scanning.

use super::project::Project;
use crate::matches::{GenerationMatches, SkippedFile};

/// The results a scan leaves in the project.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct LastScan {
    /// The model key the results were made with.
    pub model_key: String,
    /// Matches kept per generation.
    pub top_k: usize,
    /// One entry per generation, sorted by top-1 similarity.
    pub results: Vec<GenerationMatches>,
    /// Files that could not be used.
    pub skipped: Vec<SkippedFile>,
}

impl LastScan {
    /// Reads the last scan of `project`, if there is one.
    pub fn load(project: &Project) -> Option<Self> {
        let bytes = std::fs::read(project.last_scan_path()).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}
