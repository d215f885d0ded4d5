//! Estimating a pair's alignment off the UI thread (it takes a few hundred milliseconds).

use image::RgbImage;

use crate::align::{Alignment, estimate_in_region_unless, estimate_unless};
use crate::jobs::{Job, Waker};

/// A running alignment; its result arrives on `result` (`None` when it was cancelled or no
/// alignment was found). Dropping it cancels the estimate (latest wins: the desk drops the
/// job of a pair the reviewer has left).
pub type AlignJob = Job<(), Option<Alignment>>;

/// A fine window (under a third of the width) grown by half its size on each side, within the
/// image: it may hold only part of a small paste (the windows overlap by their stride, not by
/// a paste's size), and the paste must be whole for the training image to line up. Coarse
/// windows, which a collage tile fills, are kept as they are.
fn grown_if_small([x, y, w, h]: [u32; 4], (width, height): (u32, u32)) -> [u32; 4] {
    if w.saturating_mul(3) >= width {
        return [x, y, w, h];
    }
    let (left, top) = (x.saturating_sub(w / 2), y.saturating_sub(h / 2));
    let right = (x + w + w / 2).min(width);
    let bottom = (y + h + h / 2).min(height);
    [
        left,
        top,
        right.saturating_sub(left),
        bottom.saturating_sub(top),
    ]
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
    Job::spawn("replicant-align", 1, waker, move |sink| {
        let cancelled = || sink.is_cancelled();
        match region {
            Some(region) => {
                let region = grown_if_small(region, generation.dimensions());
                estimate_in_region_unless(&generation, &train, region, &cancelled)
            }
            None => estimate_unless(&generation, &train, &cancelled),
        }
    })
    .unwrap_or_else(|_| Job::ended(Vec::new(), None))
}

#[cfg(test)]
mod tests {
    use super::grown_if_small;

    #[test]
    fn only_small_windows_grow_and_never_past_the_image() {
        // A fine window of 230 x 144 at the right edge of 1280 x 800.
        assert_eq!(
            grown_if_small([1050, 109, 230, 144], (1280, 800)),
            [935, 37, 345, 288]
        );
        // A coarse window (45% of the width) is kept.
        assert_eq!(
            grown_if_small([0, 0, 576, 360], (1280, 800)),
            [0, 0, 576, 360]
        );
    }
}
