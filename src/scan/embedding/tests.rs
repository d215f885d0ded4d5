//! Tests of [`super`] (`src/scan/embedding.rs`).

use super::*;
use crate::embed::{EmbedError, InputLayout, ModelKey, Preprocess};
use crate::ranking::matches::Side;
use crate::scan::sources::catalogue;

/// An embedder without a model: each image's vector is its mean colour (and a constant),
/// normalised; enough to follow images through the phase.
struct MeanColour {
    key: ModelKey,
    preprocess: Preprocess,
}

impl MeanColour {
    fn new() -> Self {
        Self {
            key: ModelKey("mean-colour@test/skew8x8".into()),
            preprocess: Preprocess {
                width: 8,
                height: 8,
                layout: InputLayout::U8Nhwc,
                alpha: crate::decode::Alpha::CompositeOnWhite,
            },
        }
    }
}

impl Embedder for MeanColour {
    fn model_key(&self) -> &ModelKey {
        &self.key
    }
    fn preprocess(&self) -> &Preprocess {
        &self.preprocess
    }
    fn dims(&self) -> usize {
        4
    }
    fn embed_batch(&mut self, images: &[&[u8]]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(images
            .iter()
            .map(|pixels| {
                let mut sums = vec![0f32, 0.0, 0.0, 100.0];
                for px in pixels.chunks_exact(3) {
                    for c in 0..3 {
                        sums[c] += f32::from(px[c]) / 64.0;
                    }
                }
                crate::embed::l2_normalise(&mut sums);
                sums
            })
            .collect())
    }
    fn execution_provider(&self) -> crate::embed::ExecutionProvider {
        crate::embed::ExecutionProvider::Cpu
    }
}

/// [`MeanColour`] that counts the images it is given.
struct Counting {
    inner: MeanColour,
    seen: Arc<std::sync::atomic::AtomicUsize>,
}

impl Embedder for Counting {
    fn model_key(&self) -> &ModelKey {
        self.inner.model_key()
    }
    fn preprocess(&self) -> &Preprocess {
        self.inner.preprocess()
    }
    fn dims(&self) -> usize {
        self.inner.dims()
    }
    fn embed_batch(&mut self, images: &[&[u8]]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.seen
            .fetch_add(images.len(), std::sync::atomic::Ordering::Relaxed);
        self.inner.embed_batch(images)
    }
    fn execution_provider(&self) -> crate::embed::ExecutionProvider {
        crate::embed::ExecutionProvider::Cpu
    }
}

/// The images under `root`, as one side of a scan.
fn walk(root: &std::path::Path, side: Side) -> crate::scan::sources::Catalogued {
    let (mut skipped, mut notes) = (Vec::new(), Vec::new());
    catalogue(
        std::slice::from_ref(&root.to_path_buf()),
        side,
        &mut skipped,
        &mut notes,
    )
    .expect("walk")
}

fn events() -> (EventSink, crossbeam_channel::Receiver<ScanEvent>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    (
        EventSink::new(tx, None, Arc::new(AtomicBool::new(false))),
        rx,
    )
}

#[test]
fn embeds_what_the_cache_lacks_records_sizes_and_failures_and_knows_them_next_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("train");
    std::fs::create_dir_all(&root).expect("mkdir");
    for (name, colour) in [("a.png", [200u8, 10, 10]), ("b.png", [10, 10, 200])] {
        image::RgbImage::from_pixel(30, 20, image::Rgb(colour))
            .save(root.join(name))
            .expect("save");
    }
    std::fs::write(root.join("c.png"), b"\x89PNG\r\n\x1a\n broken").expect("write");
    let catalogued = walk(&root, Side::Training);
    let images = || {
        catalogued
            .records
            .iter()
            .enumerate()
            .map(|(i, r)| (Slot::Training(i), &r.entry))
    };
    let mut cache = EmbeddingCache::open(&dir.path().join("cache.sqlite")).expect("cache");
    let embedder = MeanColour::new();
    let key = embedder.key.clone();
    let needs = Needs {
        regions: None,
        sizes: true,
    };
    let first = plan(&cache, &key, images(), needs).expect("plan");
    assert!(first.ready.is_empty());
    assert_eq!(first.work.len(), 3);
    let (sink, _rx) = events();
    let cancel = Arc::new(AtomicBool::new(false));
    let settings = RunSettings {
        batch_size: 2,
        decode_threads: 1,
        already_skipped: 0,
    };
    let mut run = EmbeddingRun::start(first, images(), Box::new(embedder), &settings, &cancel)
        .expect("start");
    let mut embedded = Vec::new();
    let mut failed = Vec::new();
    loop {
        match run.next(&mut cache, &key, &sink).expect("step") {
            Step::Outcomes(outcomes) => {
                for outcome in outcomes {
                    match outcome {
                        Outcome::Embedded { slot, hash, .. } => embedded.push((slot, hash)),
                        Outcome::Failed { slot, reason } => failed.push((slot, reason)),
                        Outcome::Cached { .. } => panic!("nothing is cached yet"),
                    }
                }
            }
            Step::Done => break,
            Step::Cancelled => panic!("not cancelled"),
        }
    }
    run.finish(&mut cache, &key).expect("finish");
    assert_eq!(embedded.len(), 2);
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].0, Slot::Training(2));
    for (_, hash) in &embedded {
        assert_eq!(cache.dimensions(hash).expect("size"), Some((30, 20)));
        let vector = cache.vector(&key, hash, "").expect("read").expect("vector");
        assert_eq!(vector.len(), 4);
        let luma = cache
            .vector(&key, hash, LAYOUT_VIEW)
            .expect("read")
            .expect("layout");
        assert_eq!(luma.len(), 1024);
    }
    // The next plan knows all three without reading them.
    let again = plan(&cache, &key, images(), needs).expect("plan");
    assert!(again.work.is_empty(), "{} to read", again.work.len());
    let cached = again
        .ready
        .iter()
        .filter(|o| matches!(o, Outcome::Cached { .. }))
        .count();
    let known_failures = again
        .ready
        .iter()
        .filter(|o| matches!(o, Outcome::Failed { .. }))
        .count();
    assert_eq!((cached, known_failures), (2, 1));
}

#[test]
fn blank_windows_are_not_embedded_yet_count_as_known() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("generations");
    std::fs::create_dir_all(&root).expect("mkdir");
    // White on the left 60%; on the right a ramp from white to black and stripes, so
    // the coarse plan's left column (0-45% of the width) is blank and no other is.
    let image = image::RgbImage::from_fn(400, 300, |x, y| {
        if x < 240 {
            image::Rgb([255, 255, 255])
        } else {
            let ramp = 255 - ((x - 240) * 255 / 160) as u8;
            let stripe = if (y / 20) % 2 == 0 { ramp } else { ramp / 2 };
            image::Rgb([stripe, ramp, 128])
        }
    });
    image.save(root.join("page.png")).expect("save");
    let catalogued = walk(&root, Side::Generation);
    let images = || {
        catalogued
            .records
            .iter()
            .enumerate()
            .map(|(i, r)| (Slot::Generation(i), &r.entry))
    };
    let mut cache = EmbeddingCache::open(&dir.path().join("cache.sqlite")).expect("cache");
    let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut inner = MeanColour::new();
    inner.preprocess.width = 64;
    inner.preprocess.height = 64;
    let key = inner.key.clone();
    let embedder = Counting {
        inner,
        seen: seen.clone(),
    };
    let regions = crate::ranking::regions::RegionPlan::default();
    let needs = Needs {
        regions: Some(regions),
        sizes: false,
    };
    let first = plan(&cache, &key, images(), needs).expect("plan");
    let (sink, _rx) = events();
    let cancel = Arc::new(AtomicBool::new(false));
    let settings = RunSettings {
        batch_size: 4,
        decode_threads: 1,
        already_skipped: 0,
    };
    let mut run = EmbeddingRun::start(first, images(), Box::new(embedder), &settings, &cancel)
        .expect("start");
    while let Step::Outcomes(_) = run.next(&mut cache, &key, &sink).expect("step") {}
    run.finish(&mut cache, &key).expect("finish");

    let hash = cache
        .known_file(
            &catalogued.records[0].entry.location,
            catalogued.records[0].entry.size_bytes,
            catalogued.records[0].entry.mtime_ns,
        )
        .expect("read")
        .expect("known")
        .hash;
    let views = cache.views(&key, &hash).expect("views");
    let windows: Vec<_> = views
        .iter()
        .filter_map(|(name, vector)| Some((regions.cell_of_view(name)?, vector)))
        .collect();
    assert_eq!(windows.len(), regions.cell_count());
    let blank: Vec<[u32; 4]> = windows
        .iter()
        .filter(|(_, vector)| vector.is_empty())
        .map(|(cell, _)| *cell)
        .collect();
    // The left column, and only it, is stored without a vector, and never reached the model:
    // the whole image and the six other windows did.
    assert_eq!(blank.len(), 3, "blank windows: {blank:?}");
    assert!(blank.iter().all(|cell| cell[0] == 0), "{blank:?}");
    assert_eq!(seen.load(std::sync::atomic::Ordering::Relaxed), 1 + 6);
    // The next plan knows the generation with its regions: nothing to read again.
    let again = plan(&cache, &key, images(), needs).expect("plan");
    assert!(again.work.is_empty(), "{} to read", again.work.len());
}
