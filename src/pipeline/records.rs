//! The images of a scan as the coordinator tracks them, and cataloguing both sides.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::cache::ContentHash;
use super::project::absolute;
use super::scan::ScanError;
use crate::catalog::{ImageEntry, PromptIndex, walk_images};
use crate::matches::{Side, SkippedFile};

/// One image of either side, as the coordinator tracks it.
pub(super) struct ImageRecord {
    pub entry: ImageEntry,
    pub display: String,
    /// Prompt (generations) or caption (training) from a sidecar or metadata file.
    pub text: Option<String>,
    pub hash: Option<ContentHash>,
    pub png_prompt: Option<String>,
    pub state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    Pending,
    Ready,
    Failed,
}

impl ImageRecord {
    pub(super) fn text(&self) -> Option<String> {
        self.text.clone().or_else(|| self.png_prompt.clone())
    }
}

/// Short names for the training folders, used as path prefixes when there are several.
pub(super) fn folder_names(folders: &[PathBuf]) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    folders
        .iter()
        .map(|folder| {
            let base = absolute(folder)
                .file_name()
                .map_or_else(|| "training".into(), |n| n.to_string_lossy().into_owned());
            let count = seen.entry(base.clone()).or_insert(0);
            *count += 1;
            if *count == 1 {
                base
            } else {
                format!("{base}~{count}")
            }
        })
        .collect()
}

pub(super) fn catalogue(
    root: &Path,
    side: Side,
    prefix: Option<&str>,
    skipped: &mut Vec<SkippedFile>,
    notes: &mut Vec<SkippedFile>,
) -> Result<Vec<ImageRecord>, ScanError> {
    let catalog = walk_images(root).map_err(|source| ScanError::Catalog { side, source })?;
    let rels: Vec<&str> = catalog.images.iter().map(|e| e.rel_path.as_str()).collect();
    let mut warnings = catalog.warnings.clone();
    let prompts = PromptIndex::load(root, &rels, &mut warnings);
    let shown = |rel: &str| prefix.map_or_else(|| rel.to_string(), |p| format!("{p}/{rel}"));
    for warning in warnings {
        let file = SkippedFile {
            side,
            path: shown(&warning.path),
            reason: warning.reason,
        };
        if warning.skipped {
            skipped.push(file)
        } else {
            notes.push(file)
        }
    }
    Ok(catalog
        .images
        .into_iter()
        .map(|entry| ImageRecord {
            display: shown(&entry.rel_path),
            text: prompts.get(&entry.rel_path).map(str::to_string),
            entry,
            hash: None,
            png_prompt: None,
            state: State::Pending,
        })
        .collect())
}
