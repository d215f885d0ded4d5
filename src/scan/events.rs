//! Sending scan events to the UI or the command line.

use crate::jobs::Sink;
use crate::scan::ScanEvent;

/// Sends the scan's events and wakes the UI; a closed receiver cancels the scan.
pub(crate) type EventSink = Sink<ScanEvent>;

impl Sink<ScanEvent> {
    /// Logs `line` and sends it as an info event.
    pub(crate) fn info(&self, line: impl Into<String>) {
        let line = line.into();
        tracing::info!("{line}");
        self.send(ScanEvent::Info(line));
    }
}
