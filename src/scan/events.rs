//! Sending scan events to the UI or the command line.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::Sender;

use crate::jobs::Waker;
use crate::scan::ScanEvent;

/// Sends events and wakes the UI; a closed receiver cancels the scan.
pub(crate) struct EventSink {
    tx: Sender<ScanEvent>,
    waker: Option<Waker>,
    cancel: Arc<AtomicBool>,
}

impl EventSink {
    pub(crate) fn new(
        tx: Sender<ScanEvent>,
        waker: Option<Waker>,
        cancel: Arc<AtomicBool>,
    ) -> Self {
        Self { tx, waker, cancel }
    }

    pub(crate) fn send(&self, event: ScanEvent) {
        if self.tx.send(event).is_err() {
            self.cancel.store(true, Ordering::Relaxed);
        }
        if let Some(waker) = &self.waker {
            waker();
        }
    }

    pub(crate) fn info(&self, line: impl Into<String>) {
        let line = line.into();
        tracing::info!("{line}");
        self.send(ScanEvent::Info(line));
    }
}
