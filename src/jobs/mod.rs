//! Background jobs: the one handle every job uses (the scan, a shard worker, the report, an
//! export, an alignment, opening a project, the desk's image loaders). A job runs on a named thread, reports through a
//! bounded channel of its own typed events, ends with one outcome, and is cancelled when its
//! handle is dropped or asked; the waker tells the desk to repaint after each event.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

/// Called after events are sent, to wake the UI (the desk passes `ctx.request_repaint`).
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// What a job's thread sends through: its events, the waker, and the cancel flag.
pub struct Sink<E> {
    tx: Sender<E>,
    waker: Option<Waker>,
    cancel: Arc<AtomicBool>,
}

impl<E> Sink<E> {
    /// A sink that sends to `tx`; a closed receiver sets `cancel`.
    pub fn new(tx: Sender<E>, waker: Option<Waker>, cancel: Arc<AtomicBool>) -> Self {
        Self { tx, waker, cancel }
    }

    /// Sends `event`, waiting while the channel is full (events that must arrive), then wakes
    /// the UI. A closed receiver cancels the job: nobody is left to read its results.
    pub fn send(&self, event: E) {
        if self.tx.send(event).is_err() {
            self.cancel.store(true, Ordering::Relaxed);
        }
        self.wake();
    }

    /// Sends `event` unless the channel is full (progress, of which only the latest matters),
    /// then wakes the UI.
    pub fn offer(&self, event: E) {
        let _ = self.tx.try_send(event);
        self.wake();
    }

    /// Wakes the UI.
    pub fn wake(&self) {
        if let Some(waker) = &self.waker {
            waker();
        }
    }

    /// Whether the job was asked to stop (or its handle dropped).
    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// The cancel flag, for work that takes one (the embedding run, the report's baseline).
    pub fn cancel_flag(&self) -> &Arc<AtomicBool> {
        &self.cancel
    }
}

/// A running job: `events` while it runs, then one `result`. Dropping it cancels the job.
pub struct Job<E, R = ()> {
    /// The job's events, in order; closed when it ends.
    pub events: Receiver<E>,
    /// The outcome, once, after the last event.
    pub result: Receiver<R>,
    cancel: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl<E: Send + 'static, R: Send + 'static> Job<E, R> {
    /// Runs `work` on a thread named `name`, with room for `capacity` events in flight.
    /// Fails when the thread cannot be started (the message says so).
    pub fn spawn(
        name: &str,
        capacity: usize,
        waker: Option<Waker>,
        work: impl FnOnce(&Sink<E>) -> R + Send + 'static,
    ) -> Result<Self, String> {
        let (tx, events) = crossbeam_channel::bounded(capacity);
        let (result_tx, result) = crossbeam_channel::bounded(1);
        let cancel = Arc::new(AtomicBool::new(false));
        let sink = Sink::new(tx, waker.clone(), cancel.clone());
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let outcome = work(&sink);
                // The events close before the result arrives, so a reader that drains the
                // events first then waits for the result never waits forever.
                drop(sink);
                let _ = result_tx.send(outcome);
                if let Some(waker) = waker {
                    waker();
                }
            })
            .map_err(|err| format!("cannot start the {name} thread: {err}"))?;
        Ok(Self {
            events,
            result,
            cancel,
            thread: Some(thread),
        })
    }

    /// A job that never ran: `events` are all it says, then `result` when there is one (how a
    /// job that could not start reports why).
    pub fn ended(events: Vec<E>, result: Option<R>) -> Self {
        let (tx, rx) = crossbeam_channel::bounded(events.len().max(1));
        for event in events {
            let _ = tx.send(event);
        }
        let (result_tx, result_rx) = crossbeam_channel::bounded(1);
        if let Some(result) = result {
            let _ = result_tx.send(result);
        }
        Self {
            events: rx,
            result: result_rx,
            cancel: Arc::new(AtomicBool::new(true)),
            thread: None,
        }
    }
}

impl<E, R> Job<E, R> {
    /// Asks the job to stop at its next check.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// Whether the job was asked to stop.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// Whether its thread has ended (or never started).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }
}

impl<E, R> Drop for Job<E, R> {
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_then_the_result_arrive_and_dropping_cancels() {
        let job: Job<u32, &str> = Job::spawn("test-job", 4, None, |sink| {
            sink.send(1);
            sink.send(2);
            "done"
        })
        .expect("spawn");
        let events: Vec<u32> = job.events.iter().collect();
        assert_eq!(events, vec![1, 2]);
        assert_eq!(job.result.recv(), Ok("done"));

        let (started_tx, started) = crossbeam_channel::bounded(1);
        let job: Job<(), bool> = Job::spawn("test-job", 1, None, move |sink| {
            let _ = started_tx.send(());
            while !sink.is_cancelled() {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            true
        })
        .expect("spawn");
        started.recv().expect("started");
        let result = job.result.clone();
        drop(job);
        assert_eq!(result.recv(), Ok(true), "the dropped job saw its cancel");
    }

    #[test]
    fn a_job_that_never_ran_says_why() {
        let job: Job<&str, u8> = Job::ended(vec!["could not start"], Some(7));
        assert_eq!(
            job.events.iter().collect::<Vec<_>>(),
            vec!["could not start"]
        );
        assert_eq!(job.result.recv(), Ok(7));
        assert!(job.is_finished());
    }
}
