//! Estimating a pair's alignment off the UI thread (it takes a few hundred milliseconds).

use std::thread::JoinHandle;

use crossbeam_channel::Receiver;
use image::RgbImage;

use super::Waker;
use crate::align::{Alignment, estimate, estimate_in_region};

/// A running alignment; its result arrives on `result`.
pub struct AlignJob {
    /// The result, once.
    pub result: Receiver<Alignment>,
    _thread: Option<JoinHandle<()>>,
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
    let thread = std::thread::Builder::new()
        .name("replicant-align".into())
        .spawn(move || {
            let alignment = match region {
                Some(region) => estimate_in_region(&generation, &train, region),
                None => estimate(&generation, &train),
            };
            if tx.send(alignment).is_ok() {
                if let Some(waker) = waker {
                    waker();
                }
            }
        })
        .ok();
    AlignJob {
        result: rx,
        _thread: thread,
    }
}
