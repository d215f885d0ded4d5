//! The evidence report off the UI thread: computed for the desk's statistics panel, and
//! written to a file for File > Evidence report (HTML or JSON by the file's extension).

use std::cell::Cell;
use std::path::PathBuf;

use crate::audit::report_with_baseline;
use crate::audit::{AuditOptions, audit_report};
use crate::embed::request::ModelRequest;
use crate::export::report::AuditReport;
use crate::jobs::{Job, Waker};

/// A report being made.
pub struct ReportJob {
    /// Where it is written, when it is.
    pub out: Option<PathBuf>,
    /// The baseline's embedding progress (images done, in all), then the report or why it
    /// could not be made. Dropping it stops the baseline's embedding.
    job: Job<(usize, usize), Result<AuditReport, String>>,
    /// The latest progress read from the job.
    embedding: Cell<Option<(usize, usize)>>,
}

impl ReportJob {
    /// Images embedded for the baseline so far, and in all, while it embeds any.
    pub fn embedding(&self) -> Option<(usize, usize)> {
        if let Some(latest) = self.job.events.try_iter().last() {
            self.embedding
                .set(Some(latest).filter(|(_, total)| *total > 0));
        }
        self.embedding.get()
    }

    /// Asks the job to stop embedding; it ends with "cancelled".
    pub fn cancel(&self) {
        self.job.cancel();
    }

    /// The report once made, or why it could not be (never blocks).
    pub fn poll(&self) -> Option<Result<AuditReport, String>> {
        self.job.result.try_recv().ok()
    }
}

/// Starts making the report of the project in `project_dir` (and writing it to `out`).
pub fn spawn_report(
    project_dir: PathBuf,
    options: AuditOptions,
    out: Option<PathBuf>,
    waker: Option<Waker>,
) -> ReportJob {
    let target = out.clone();
    let job = Job::spawn("replicant-report", 64, waker, move |sink| {
        // Written to a file, the report is the evidence: a project scanned with the cascade
        // gets its baseline's full-SSCD embeddings first. The statistics panel only reads.
        let made = if target.is_some() {
            report_with_baseline(
                &project_dir,
                &options,
                &ModelRequest::default(),
                &mut |line| tracing::info!("{line}"),
                &mut |done, total| sink.offer((done, total)),
                sink.cancel_flag(),
            )
        } else {
            audit_report(&project_dir, &options).map_err(|err| err.to_string())
        };
        made.and_then(|report| {
            if let Some(path) = &target {
                write(&report, path)?;
            }
            Ok(report)
        })
    })
    .unwrap_or_else(|why| Job::ended(Vec::new(), Some(Err(why))));
    ReportJob {
        out,
        job,
        embedding: Cell::new(None),
    }
}

/// Writes `report` to `path`: one HTML page, or JSON when the name ends in `.json`.
pub fn write(report: &AuditReport, path: &std::path::Path) -> Result<(), String> {
    let json = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let body = if json {
        let mut bytes = serde_json::to_vec_pretty(report).map_err(|e| e.to_string())?;
        bytes.push(b'\n');
        bytes
    } else {
        crate::export::report_html(report).into_bytes()
    };
    crate::fsutil::write_atomically(path, &body).map_err(|err| {
        format!(
            "cannot write {}: {err}; {}",
            path.display(),
            crate::fsutil::io_remedy(&err, "choose a folder you can write to")
        )
    })
}
