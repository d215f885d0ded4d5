//! Progress on stderr: a bar on a terminal, steady log lines elsewhere.

use std::io::IsTerminal;

use replicant::fsutil::printable;
use replicant::ranking::matches::{GenerationMatches, sort_by_top_similarity};
use replicant::scan::ScanEvent;
use replicant::scan::ScanOptions;
use replicant::scan::ScanPhase;
use replicant::scan::ScanSummary;
use replicant::scan::start_scan;

/// Runs a scan to the end, drawing a progress bar on stderr when it is a terminal. Returns
/// the results sorted by top-1 similarity, or `None` when cancelled.
pub fn run_scan_with_progress(
    options: ScanOptions,
) -> anyhow::Result<Option<(Vec<GenerationMatches>, ScanSummary)>> {
    let handle = start_scan(options, None);
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    let terminal = std::io::stderr().is_terminal();
    let mut log = ProgressLog::new();
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {msg} [{bar:30}] {pos}/{len} ({per_sec}, ETA {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let mut results = Vec::new();
    for event in handle.events.iter() {
        match event {
            ScanEvent::Phase(phase) => bar.set_message(phase_label(phase)),
            ScanEvent::Catalogued {
                generations,
                training,
                to_process,
            } => {
                bar.set_length(to_process as u64);
                bar.suspend(|| {
                    eprintln!("replicant: {generations} generations, {training} training images; {to_process} to read ({} cached)", generations + training - to_process);
                });
            }
            ScanEvent::Info(line) => bar.suspend(|| eprintln!("replicant: {}", printable(&line))),
            ScanEvent::Progress(progress) => {
                bar.set_position(progress.done as u64);
                if !terminal {
                    log.progress(&progress);
                }
            }
            ScanEvent::Skipped(_) | ScanEvent::Listed(_) => {}
            ScanEvent::Generation(result) => results.push(*result),
            ScanEvent::Finished(summary) => {
                bar.finish_and_clear();
                sort_by_top_similarity(&mut results);
                return Ok(Some((results, *summary)));
            }
            ScanEvent::Failed(message) => {
                bar.finish_and_clear();
                anyhow::bail!("scan failed: {message}");
            }
            ScanEvent::Cancelled => {
                bar.finish_and_clear();
                return Ok(None);
            }
        }
    }
    anyhow::bail!("the scan stopped without a result")
}

/// Progress as log lines, for a stderr that is not a terminal (a Slurm or Ray log, a pipe):
/// one line every [`ProgressLog::interval`] and one at the end, with done, total, rate and
/// ETA, so a long job shows life without a line per image.
pub struct ProgressLog {
    interval: std::time::Duration,
    last: Option<std::time::Instant>,
}

impl ProgressLog {
    /// Every 10 seconds, or every `REPLICANT_PROGRESS_SECS` seconds when set.
    pub fn new() -> Self {
        let secs = std::env::var("REPLICANT_PROGRESS_SECS")
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .unwrap_or(10.0);
        Self {
            interval: std::time::Duration::from_secs_f64(secs),
            last: None,
        }
    }

    /// Prints a line for `progress` when the interval has passed since the last (the first
    /// waits one interval too) or the work is done.
    pub fn progress(&mut self, progress: &replicant::scan::Progress) {
        let now = std::time::Instant::now();
        let last = *self.last.get_or_insert(now);
        let done = progress.done >= progress.total;
        if !done && now.duration_since(last) < self.interval {
            return;
        }
        self.last = Some(now);
        let share = if progress.total == 0 {
            100.0
        } else {
            progress.done as f64 * 100.0 / progress.total as f64
        };
        let eta = match (done, progress.eta_secs) {
            (true, _) => "done".to_string(),
            (false, Some(secs)) => format!(
                "ETA {}",
                humantime::format_duration(std::time::Duration::from_secs(secs.round() as u64))
            ),
            (false, None) => "ETA unknown".to_string(),
        };
        eprintln!(
            "replicant: embedded {}/{} ({share:.0}%) at {:.1} images/s, {eta}",
            progress.done, progress.total, progress.images_per_sec
        );
    }
}

impl Default for ProgressLog {
    fn default() -> Self {
        Self::new()
    }
}

/// The progress bar's word for a phase.
pub fn phase_label(phase: ScanPhase) -> &'static str {
    match phase {
        ScanPhase::Cataloguing => "cataloguing",
        ScanPhase::LoadingModel => "loading model",
        ScanPhase::Embedding => "embedding",
        ScanPhase::Indexing => "indexing",
        ScanPhase::Rescoring => "re-scoring shortlists",
        ScanPhase::FineWindows => "fine windows",
    }
}
