//! Loading images for display off the UI thread: thumbnails for the list (most recent request
//! first, so what is on screen comes first) and full-resolution images with mip levels for
//! the compare view (latest request wins).

use image::RgbaImage;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};

use crate::catalog::{ImageLocation, MAX_IMAGE_FILE_BYTES};
use crate::decode::{DecodeError, DecodeLimits, decode_image, resize_rgb, thumbnail};
use crate::jobs::{Job, Sink, Waker};

/// What to load.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRequest {
    /// The file, or the tar member (read by its offset).
    pub location: ImageLocation,
    /// Longest side wanted in pixels; `None` for full resolution (with mip levels).
    pub max_side: Option<u32>,
}

/// A loaded image, or why it could not be.
#[derive(Debug, Clone)]
pub struct LoadedImage {
    /// What was asked for.
    pub request: ImageRequest,
    /// The image and its mip levels (level 0 first; one level for thumbnails), or the reason.
    pub result: Result<Arc<Vec<RgbaImage>>, String>,
    /// The decoded image's size before any scaling.
    pub original_size: (u32, u32),
}

struct Queue {
    jobs: VecDeque<ImageRequest>,
    closed: bool,
}

/// Background image loading on named threads: one [`Job`] whose worker threads take requests
/// from a shared queue (most recent first) and send each loaded image as an event. It is a
/// job that lives as long as the desk's view rather than one that ends with an outcome;
/// dropping it closes the queue and cancels the job, and the workers stop.
pub struct ImageLoader {
    queue: Arc<(Mutex<Queue>, Condvar)>,
    job: Job<LoadedImage>,
    /// Keep at most this many waiting requests; older ones are dropped.
    max_waiting: usize,
    latest_wins: bool,
}

/// The largest texture side the compare view uploads; larger images are scaled to fit.
pub const MAX_TEXTURE_SIDE: u32 = 8192;

impl ImageLoader {
    /// A loader for list thumbnails: `threads` workers, newest request first.
    pub fn thumbnails(threads: usize, waker: Option<Waker>) -> Self {
        Self::spawn("replicant-thumbs", threads, 512, false, waker)
    }

    /// A loader for full-resolution images: one worker, only the newest requests kept.
    pub fn full_size(waker: Option<Waker>) -> Self {
        Self::spawn("replicant-image", 1, 2, true, waker)
    }

    fn spawn(
        name: &str,
        threads: usize,
        max_waiting: usize,
        latest_wins: bool,
        waker: Option<Waker>,
    ) -> Self {
        let queue = Arc::new((
            Mutex::new(Queue {
                jobs: VecDeque::new(),
                closed: false,
            }),
            Condvar::new(),
        ));
        let shared = queue.clone();
        let worker_name = name.to_string();
        let job = Job::spawn(name, 64, waker, move |sink| {
            std::thread::scope(|scope| {
                for i in 0..threads.max(1) {
                    let started = std::thread::Builder::new()
                        .name(format!("{worker_name}-{i}"))
                        .spawn_scoped(scope, || worker(&shared, sink));
                    if let Err(err) = started {
                        tracing::warn!("cannot start an image loading thread: {err}");
                    }
                }
            });
        })
        .unwrap_or_else(|why| {
            // Without its thread no image loads; each panel says it is still loading, and
            // the log says why.
            tracing::warn!("{why}");
            Job::ended(Vec::new(), None)
        });
        Self {
            queue,
            job,
            max_waiting,
            latest_wins,
        }
    }

    /// Asks for an image; a request already waiting moves to the front. Returns the oldest
    /// requests dropped to keep the queue bounded: they will never be answered, so a caller
    /// that remembers what it asked for must forget them and ask again when needed.
    #[must_use = "dropped requests will never be answered; forget them or ask again"]
    pub fn request(&self, request: ImageRequest) -> Vec<ImageRequest> {
        let (lock, condvar) = &*self.queue;
        let mut queue = lock.lock().unwrap_or_else(|p| p.into_inner());
        queue.jobs.retain(|r| r != &request);
        queue.jobs.push_front(request);
        let dropped = if queue.jobs.len() > self.max_waiting {
            queue.jobs.split_off(self.max_waiting).into()
        } else {
            Vec::new()
        };
        condvar.notify_one();
        dropped
    }

    /// Forgets every waiting request (those in progress still finish) and returns them.
    pub fn clear(&self) -> Vec<ImageRequest> {
        let (lock, _) = &*self.queue;
        lock.lock()
            .unwrap_or_else(|p| p.into_inner())
            .jobs
            .drain(..)
            .collect()
    }

    /// Whether only the newest requests are kept.
    pub fn is_latest_wins(&self) -> bool {
        self.latest_wins
    }

    /// Results ready now (never blocks).
    pub fn ready(&self) -> Vec<LoadedImage> {
        self.job.events.try_iter().collect()
    }
}

impl Drop for ImageLoader {
    fn drop(&mut self) {
        // Wakes the idle workers to see the queue closed; the job, dropped next, closes its
        // channel, so a worker blocked sending a result stops too.
        let (lock, condvar) = &*self.queue;
        lock.lock().unwrap_or_else(|p| p.into_inner()).closed = true;
        condvar.notify_all();
        self.job.cancel();
    }
}

fn worker(queue: &(Mutex<Queue>, Condvar), results: &Sink<LoadedImage>) {
    loop {
        let request = {
            let (lock, condvar) = queue;
            let mut guard = lock.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                if guard.closed || results.is_cancelled() {
                    return;
                }
                if let Some(request) = guard.jobs.pop_front() {
                    break request;
                }
                guard = condvar.wait(guard).unwrap_or_else(|p| p.into_inner());
            }
        };
        // Sends, then wakes the desk; a closed channel cancels, and the next turn returns.
        results.send(load(request));
    }
}

/// Decodes and scales one image (see [`ImageRequest`]).
pub fn load(request: ImageRequest) -> LoadedImage {
    let decoded = request
        .location
        .read(MAX_IMAGE_FILE_BYTES)
        .map_err(DecodeError::Io)
        .and_then(|bytes| decode_image(&bytes, &DecodeLimits::default()));
    match decoded {
        Ok(decoded) => {
            let original_size = decoded.rgb.dimensions();
            let levels = match request.max_side {
                Some(side) => vec![rgba(&thumbnail(&decoded.rgb, side))],
                None => mip_chain(&thumbnail(&decoded.rgb, MAX_TEXTURE_SIDE)),
            };
            LoadedImage {
                request,
                result: Ok(Arc::new(levels)),
                original_size,
            }
        }
        Err(err) => LoadedImage {
            request,
            result: Err(err.to_string()),
            original_size: (0, 0),
        },
    }
}

fn rgba(image: &image::RgbImage) -> RgbaImage {
    image::DynamicImage::ImageRgb8(image.clone()).into_rgba8()
}

/// The image and its mip levels down to 1x1 (each level half the size, antialiased).
pub fn mip_chain(image: &image::RgbImage) -> Vec<RgbaImage> {
    let mut levels = vec![rgba(image)];
    let (mut w, mut h) = image.dimensions();
    let mut current = image.clone();
    while w > 1 || h > 1 {
        w = (w / 2).max(1);
        h = (h / 2).max(1);
        current = resize_rgb(&current, w, h);
        levels.push(rgba(&current));
    }
    levels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mip_chain_halves_down_to_one_pixel() {
        let image = image::RgbImage::from_pixel(10, 4, image::Rgb([9, 8, 7]));
        let sizes: Vec<(u32, u32)> = mip_chain(&image)
            .iter()
            .map(RgbaImage::dimensions)
            .collect();
        assert_eq!(sizes, [(10, 4), (5, 2), (2, 1), (1, 1)]);
    }

    #[test]
    fn loader_delivers_thumbnails_and_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = dir.path().join("a.png");
        image::RgbImage::from_pixel(400, 200, image::Rgb([1, 2, 3]))
            .save(&good)
            .expect("save");
        let bad = dir.path().join("b.png");
        std::fs::write(&bad, b"nope").expect("write");
        let loader = ImageLoader::thumbnails(2, None);
        let mut dropped = loader.request(ImageRequest {
            location: good.clone().into(),
            max_side: Some(100),
        });
        dropped.extend(loader.request(ImageRequest {
            location: bad.clone().into(),
            max_side: Some(100),
        }));
        assert!(dropped.is_empty());
        let mut got = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while got.len() < 2 && std::time::Instant::now() < deadline {
            got.extend(loader.ready());
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let ok = got
            .iter()
            .find(|l| l.request.location == ImageLocation::File(good.clone()))
            .expect("good loaded");
        let levels = ok.result.as_ref().expect("decoded");
        assert_eq!(levels[0].dimensions(), (100, 50));
        assert_eq!(ok.original_size, (400, 200));
        assert!(
            got.iter()
                .find(|l| l.request.location == ImageLocation::File(bad.clone()))
                .expect("bad reported")
                .result
                .is_err()
        );
    }
}
