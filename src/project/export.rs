//! Exporting the review set off the UI thread: a named thread runs the export, reports its
//! progress through a bounded channel and stops when asked (dropping the job asks).

use std::path::PathBuf;

use crate::export::{
    CurrentNames, ExportError, ExportReport, ExportRequest, ReviewFormat, export_review_set,
};
use crate::jobs::{Job, Sink, Waker};
use crate::project::ProjectScope;
use crate::review::LabelRecord;

/// What an export job reports.
#[derive(Debug)]
pub enum ExportEvent {
    /// Pairs done of pairs in all.
    Progress {
        /// Pairs done.
        done: usize,
        /// Pairs in all.
        total: usize,
    },
    /// The export ended: what it wrote, or why not (cancelled included).
    Finished(Result<ExportReport, String>),
}

/// What to export.
pub struct ExportSpec {
    /// The records (all of them; unlabelled ones are left out).
    pub records: Vec<LabelRecord>,
    /// The file.
    pub out: PathBuf,
    /// Its format.
    pub format: ReviewFormat,
    /// Copy both images of each pair beside it.
    pub with_images: bool,
    /// Replace existing files.
    pub force: bool,
    /// The pairs' current names.
    pub names: CurrentNames,
    /// The project's folders: no image outside them is read.
    pub scope: ProjectScope,
    /// The label store, read (read-only, off the UI thread) for each reviewer's labels.
    pub review_path: PathBuf,
}

/// A running export: progress, then `Finished`. Dropping it cancels the export.
pub type ExportJob = Job<ExportEvent>;

fn run(spec: ExportSpec, sink: &Sink<ExportEvent>) {
    let mut last_sent = std::time::Instant::now();
    let mut progress = |done: usize, total: usize| {
        // Progress is dropped when the channel is full: only the final event must arrive.
        if last_sent.elapsed() >= std::time::Duration::from_millis(50) || done == total {
            sink.offer(ExportEvent::Progress { done, total });
            last_sent = std::time::Instant::now();
        }
        !sink.is_cancelled()
    };
    let readable = |location: &crate::catalog::ImageLocation| spec.scope.contains(location);
    // Each reviewer's labels come from the store's history; a store that cannot be read for
    // them still exports every pair's latest label as final.
    let store = crate::review::ReviewStore::open_read_only(&spec.review_path);
    let reviews = store
        .as_ref()
        .ok()
        .and_then(|s| s.reviews().ok())
        .unwrap_or_default();
    // Every pair's latest label from the store: the desk's own view may be one reviewer's
    // (blind review).
    let records = match store.as_ref().map(|s| s.all()) {
        Ok(Ok(mut all)) => {
            all.sort_by(|a, b| {
                (&a.generation, &a.training, &a.key).cmp(&(&b.generation, &b.training, &b.key))
            });
            all
        }
        _ => spec.records.clone(),
    };
    let outcome = export_review_set(
        &records,
        &spec.out,
        ExportRequest {
            format: spec.format,
            with_images: spec.with_images,
            force: spec.force,
            names: &spec.names,
            readable: &readable,
            progress: &mut progress,
            reviews: &reviews,
            with_unlabelled: false,
            // The desk exports files by their extension, never a review page.
            project_identity: None,
        },
    )
    .map_err(|err: ExportError| err.to_string());
    sink.send(ExportEvent::Finished(outcome));
}

/// Starts exporting on a named thread; `waker` is called as progress is made.
pub fn spawn_export(spec: ExportSpec, waker: Option<Waker>) -> ExportJob {
    Job::spawn("replicant-export", 64, waker, move |sink| run(spec, sink))
        .unwrap_or_else(|why| Job::ended(vec![ExportEvent::Finished(Err(why))], Some(())))
}
