//! Estimating a pair's alignment off the UI thread (it takes a few hundred milliseconds).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use crossbeam_channel::Receiver;
use image::RgbImage;

use super::Waker;
use crate::align::{Alignment, estimate_in_region_unless, estimate_unless};

/// A running alignment; its result arrives on `result`. Dropping it cancels the estimate
/// (latest wins: the desk drops the job of a pair the reviewer has left).
pub struct AlignJob {
    /// The result, once.
    pub result: Receiver<Alignment>,
    cancel: Arc<AtomicBool>,
    _thread: Option<JoinHandle<()>>,
}

impl AlignJob {
    /// Whether the estimate was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

impl Drop for AlignJob {
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

/// Starts estimating the alignment of `generation` and `train` on a named thread: within
/// `region` of the generation (`[x, y, w, h]` in `generation`'s pixels) when the match was
/// found by a region, else over the whole image.
pub fn spawn_alignment(
    generation: RgbImage,
    train: RgbImage,
    region: Option<[u32; 4]>,
    waker: Option<Waker>,
) -> AlignJob {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    let thread = std::thread::Builder::new()
        .name("replicant-align".into())
        .spawn(move || {
            let cancelled = || flag.load(Ordering::Relaxed);
            let alignment = match region {
                Some(region) => estimate_in_region_unless(&generation, &train, region, &cancelled),
                None => estimate_unless(&generation, &train, &cancelled),
            };
            if let Some(alignment) = alignment {
                if tx.send(alignment).is_ok() {
                    if let Some(waker) = waker {
                        waker();
                    }
                }
            }
        })
        .ok();
    AlignJob {
        result: rx,
        cancel,
        _thread: thread,
    }
}
