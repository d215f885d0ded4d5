//! The evidence report off the UI thread: computed for the desk's statistics panel, and
//! written to a file for File > Evidence report (HTML or JSON by the file's extension).

use std::path::PathBuf;

use crossbeam_channel::Receiver;

use super::Waker;
use super::audit::{AuditOptions, audit_report};
use crate::export::report::AuditReport;

/// A report being made.
pub struct ReportJob {
    /// Where it is written, when it is.
    pub out: Option<PathBuf>,
    result: Receiver<Result<AuditReport, String>>,
    _thread: Option<std::thread::JoinHandle<()>>,
}

impl ReportJob {
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
    let thread = std::thread::Builder::new()
        .name("replicant-report".into())
        .spawn(move || {
            let result = audit_report(&project_dir, &options)
                .map_err(|err| err.to_string())
                .and_then(|report| {
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
