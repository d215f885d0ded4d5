//! Thumbnails for the list: decoded off the UI thread by the pipeline's loader and kept as
//! egui textures in a bounded cache (least recently used first out).

use std::collections::{HashMap, VecDeque};

use crate::catalog::ImageLocation;
use crate::pipeline::{ImageLoader, ImageRequest, Waker};

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
            if let Some(pos) = self.recency.iter().position(|p| p == path) {
                if let Some(p) = self.recency.remove(pos) {
                    self.recency.push_back(p);
                }
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
