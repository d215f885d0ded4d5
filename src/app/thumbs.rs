//! Thumbnails for the list: decoded off the UI thread by the image loader
//! ([`crate::app::loader`]) and kept as egui textures in a bounded cache (least recently used first out).

use std::collections::{HashMap, VecDeque};

use crate::app::loader::ImageLoader;
use crate::app::loader::ImageRequest;
use crate::catalog::ImageLocation;
use crate::jobs::Waker;

/// Longest side of a list thumbnail in pixels.
pub const THUMB_SIDE_PX: u32 = 160;

/// What the cache has for a path.
pub enum Thumb {
    /// Ready to draw.
    Ready(egui::load::SizedTexture),
    /// Being decoded.
    Loading,
    /// Could not be decoded.
    Failed,
}

/// The texture cache.
pub struct ThumbnailCache {
    loader: ImageLoader,
    textures: HashMap<ImageLocation, egui::TextureHandle>,
    failed: HashMap<ImageLocation, String>,
    requested: std::collections::HashSet<ImageLocation>,
    recency: VecDeque<ImageLocation>,
    capacity: usize,
}

impl ThumbnailCache {
    /// A cache of at most `capacity` textures, decoding on two threads.
    pub fn new(capacity: usize, waker: Option<Waker>) -> Self {
        Self {
            loader: ImageLoader::thumbnails(2, waker),
            textures: HashMap::new(),
            failed: HashMap::new(),
            requested: Default::default(),
            recency: VecDeque::new(),
            capacity,
        }
    }

    /// The thumbnail of the image at `path` (a file or tar member), asking for it when it is
    /// not cached.
    pub fn get(&mut self, path: &ImageLocation) -> Thumb {
        if let Some(texture) = self.textures.get(path) {
            let sized = egui::load::SizedTexture::from_handle(texture);
            if let Some(pos) = self.recency.iter().position(|p| p == path)
                && let Some(p) = self.recency.remove(pos)
            {
                self.recency.push_back(p);
            }
            return Thumb::Ready(sized);
        }
        if self.failed.contains_key(path) {
            return Thumb::Failed;
        }
        if self.requested.insert(path.clone()) {
            let dropped = self.loader.request(ImageRequest {
                location: path.clone(),
                max_side: Some(THUMB_SIDE_PX),
            });
            // The loader's queue is bounded: requests it dropped will never be answered, so
            // they are forgotten here and asked again the next time their rows are drawn.
            for request in dropped {
                self.requested.remove(&request.location);
            }
        }
        Thumb::Loading
    }

    /// Thumbnails asked for and not yet delivered.
    pub fn loading(&self) -> usize {
        self.requested.len()
    }

    /// Turns decoded thumbnails into textures and evicts the oldest beyond capacity.
    pub fn poll(&mut self, ctx: &egui::Context) {
        for loaded in self.loader.ready() {
            let path = loaded.request.location.clone();
            self.requested.remove(&path);
            match loaded
                .result
                .as_ref()
                .ok()
                .and_then(|levels| levels.first())
            {
                Some(image) => {
                    let size = [image.width() as usize, image.height() as usize];
                    let color = egui::ColorImage::from_rgba_unmultiplied(size, image.as_raw());
                    let texture =
                        ctx.load_texture(path.display(), color, egui::TextureOptions::LINEAR);
                    self.textures.insert(path.clone(), texture);
                    self.recency.push_back(path);
                }
                None => {
                    let reason = loaded.result.err().unwrap_or_default();
                    self.failed.insert(path, reason);
                }
            }
        }
        while self.textures.len() > self.capacity {
            let Some(oldest) = self.recency.pop_front() else {
                break;
            };
            self.textures.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: thumbnails asked for while the loader's queue was full were dropped by the
    /// loader but still marked as asked, so their rows stayed "Loading" after a fast scroll.
    /// Asking again as the rows are drawn again must bring every one in.
    #[test]
    fn thumbnails_dropped_by_a_full_queue_are_asked_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let locations: Vec<ImageLocation> = (0..700u32)
            .map(|i| {
                let path = dir.path().join(format!("{i:04}.png"));
                image::RgbImage::from_pixel(8, 8, image::Rgb([(i % 256) as u8, 0, 0]))
                    .save(&path)
                    .expect("save");
                ImageLocation::File(path)
            })
            .collect();
        let ctx = egui::Context::default();
        let mut cache = ThumbnailCache::new(1000, None);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            // Every row drawn, as a scroll through the whole list does.
            let ready = locations
                .iter()
                .filter(|l| matches!(cache.get(l), Thumb::Ready(_)))
                .count();
            if ready == locations.len() {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{ready} of {} thumbnails arrived; the rest stay Loading",
                locations.len()
            );
            cache.poll(&ctx);
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(cache.loading(), 0);
    }
}
