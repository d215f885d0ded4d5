//! The evidence report off the UI thread: computed for the desk's statistics panel, and
//! written to a file for File > Evidence report (HTML or JSON by the file's extension).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crossbeam_channel::Receiver;

use crate::audit::cascade::report_with_baseline;
use crate::audit::{AuditOptions, audit_report};
use crate::embed::request::ModelRequest;
use crate::export::report::AuditReport;
use crate::jobs::Waker;

/// A report being made.
pub struct ReportJob {
    /// Where it is written, when it is.
    pub out: Option<PathBuf>,
    result: Receiver<Result<AuditReport, String>>,
    /// Stops the baseline's embedding (asked, or when the job is dropped).
    cancel: Arc<AtomicBool>,
    /// The baseline's embedding: images done and in all (0 in all when there is none).
    progress: Arc<(AtomicUsize, AtomicUsize)>,
    _thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for ReportJob {
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

impl ReportJob {
    /// Images embedded for the baseline so far, and in all, while it embeds any.
    pub fn embedding(&self) -> Option<(usize, usize)> {
        let total = self.progress.1.load(Ordering::Relaxed);
        (total > 0).then(|| (self.progress.0.load(Ordering::Relaxed), total))
    }

    /// Asks the job to stop embedding; it ends with "cancelled".
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// The report once made, or why it could not be (never blocks).
    pub fn poll(&self) -> Option<Result<AuditReport, String>> {
        self.result.try_recv().ok()
    }
}

/// Starts making the report of the project in `project_dir` (and writing it to `out`).
pub fn spawn_report(
    project_dir: PathBuf,
    options: AuditOptions,
    out: Option<PathBuf>,
    waker: Option<Waker>,
) -> ReportJob {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let target = out.clone();
    let cancel = Arc::new(AtomicBool::new(false));
    let thread_cancel = cancel.clone();
    let progress = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0)));
    let thread_progress = progress.clone();
    let thread = std::thread::Builder::new()
        .name("replicant-report".into())
        .spawn(move || {
            // Written to a file, the report is the evidence: a project scanned with the
            // cascade gets its baseline's full-SSCD embeddings first. The statistics panel
            // only reads.
            let made = if target.is_some() {
                report_with_baseline(
                    &project_dir,
                    &options,
                    &ModelRequest::default(),
                    &mut |line| tracing::info!("{line}"),
                    &mut |done, total| {
                        thread_progress.0.store(done, Ordering::Relaxed);
                        thread_progress.1.store(total, Ordering::Relaxed);
                        if let Some(waker) = &waker {
                            waker();
                        }
                    },
                    &thread_cancel,
                )
            } else {
                audit_report(&project_dir, &options).map_err(|err| err.to_string())
            };
            let result = made.and_then(|report| {
                if let Some(path) = &target {
                    write(&report, path)?;
                }
                Ok(report)
            });
            let _ = tx.send(result);
            if let Some(waker) = waker {
                waker();
            }
        })
        .ok();
    ReportJob {
        out,
        result: rx,
        cancel,
        progress,
        _thread: thread,
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
