//! The scan's last phase: what the summary counts, and the results saved in the project.

use crate::project::last_scan::LastScan;
use crate::project::{Project, write_atomically};
use crate::ranking::matches::GenerationMatches;

/// How many generations' best match is at or above `similarity`.
pub(super) fn at_or_above(results: &[GenerationMatches], similarity: f32) -> usize {
    results
        .iter()
        .filter(|r| r.top_similarity().is_some_and(|s| s >= similarity))
        .count()
}

/// Saves the project's folders, then `last` (one rename after the other: the scan's lock
/// keeps other writers out); why not, when they could not be saved.
pub(super) fn save_last_scan(project: &Project, last: &LastScan) -> Option<String> {
    let last_path = project.last_scan_path();
    project
        .save_spec()
        .map_err(|err| err.to_string())
        .and_then(|()| {
            serde_json::to_vec(last).map_err(|err| format!("{}: {err}", last_path.display()))
        })
        .and_then(|json| {
            write_atomically(&last_path, &json).map_err(|err| {
                format!(
                    "{}: {err}; {}",
                    last_path.display(),
                    crate::fsutil::io_remedy(&err, "check that the project folder is writable")
                )
            })
        })
        .err()
}
