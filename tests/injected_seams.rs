//! The scan's seams are injected, not hard-wired: a scan given its own model registry and
//! vector store runs end to end through them (no ONNX Runtime, no usearch file of the default
//! store's making unless the given store makes it), and the cascade takes its student from
//! the registry.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use replicant::embed::provision::Found;
use replicant::embed::registry::{ModelRegistry, Models};
use replicant::embed::request::ModelRequest;
use replicant::embed::{
    EmbedError, Embedder, ExecutionProvider, InputLayout, ModelChoice, ModelKey, Preprocess,
};
use replicant::index::{IndexError, IndexParams, IndexStore, TrainingIndex, VectorStore};
use replicant::ranking::cascade::{Shortlist, ShortlistMode};
use replicant::ranking::regions::RegionMode;
use replicant::scan::{ScanEvent, ScanOptions, ScanSummary, start_scan};

/// An embedder without a model file: an image's vector is its 4x4 grid of mean colours
/// (48 values) and a constant, normalised. Byte-identical images get identical vectors.
struct GridColour {
    key: ModelKey,
    preprocess: Preprocess,
}

impl Embedder for GridColour {
    fn model_key(&self) -> &ModelKey {
        &self.key
    }
    fn preprocess(&self) -> &Preprocess {
        &self.preprocess
    }
    fn dims(&self) -> usize {
        49
    }
    fn embed_batch(&mut self, images: &[&[u8]]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(images
            .iter()
            .map(|pixels| {
                let mut v = vec![0f32; 49];
                v[48] = 1.0;
                for (i, px) in pixels.chunks_exact(3).enumerate() {
                    let (x, y) = (i % 16, i / 16);
                    let cell = (y / 4) * 4 + x / 4;
                    for c in 0..3 {
                        v[cell * 3 + c] += f32::from(px[c]) / 255.0 / 16.0;
                    }
                }
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.iter_mut().for_each(|x| *x /= norm);
                v
            })
            .collect())
    }
    fn execution_provider(&self) -> ExecutionProvider {
        ExecutionProvider::Cpu
    }
}

/// A registry of two made-up models, `grid` and its student `grid-student`, counting loads.
struct TestModels {
    loads: Arc<AtomicUsize>,
}

fn name_of(model: &ModelChoice) -> String {
    match model {
        ModelChoice::File(path) => path.to_string_lossy().into_owned(),
        _ => "not-a-test-model".into(),
    }
}

impl ModelRegistry for TestModels {
    fn default_model(&self) -> ModelChoice {
        ModelChoice::File(PathBuf::from("grid"))
    }
    fn name(&self, model: &ModelChoice) -> String {
        name_of(model)
    }
    fn student(&self, model: &ModelChoice) -> Option<ModelChoice> {
        (name_of(model) == "grid").then(|| ModelChoice::File(PathBuf::from("grid-student")))
    }
    fn resolve(
        &self,
        request: &ModelRequest,
        _say: &mut dyn FnMut(&str),
    ) -> Result<(Found, Found), String> {
        Ok((
            Found {
                path: PathBuf::from("no-runtime"),
                origin: "test",
            },
            Found {
                path: PathBuf::from(name_of(&request.choice)),
                origin: "test",
            },
        ))
    }
    fn load(
        &self,
        request: &ModelRequest,
        _library: &Found,
        _model: &Found,
    ) -> Result<Box<dyn Embedder>, EmbedError> {
        self.loads.fetch_add(1, Ordering::Relaxed);
        Ok(Box::new(GridColour {
            key: ModelKey(format!("{}@test/16x16", name_of(&request.choice))),
            preprocess: Preprocess {
                width: 16,
                height: 16,
                layout: InputLayout::U8Nhwc,
                alpha: replicant::decode::Alpha::CompositeOnWhite,
            },
        }))
    }
}

/// The default store, counting the indexes made through it.
struct CountingStore {
    inner: VectorStore,
    created: Arc<AtomicUsize>,
}

impl IndexStore for CountingStore {
    fn create(&self, params: IndexParams) -> Result<Box<dyn TrainingIndex>, IndexError> {
        self.created.fetch_add(1, Ordering::Relaxed);
        self.inner.create(params)
    }
    fn open(&self, path: &Path) -> Result<Box<dyn TrainingIndex>, IndexError> {
        self.inner.open(path)
    }
    fn view(&self, path: &Path) -> Result<Box<dyn TrainingIndex>, IndexError> {
        self.inner.view(path)
    }
    fn exact(
        &self,
        dims: usize,
        vectors: Vec<(u64, Vec<f32>)>,
    ) -> Result<Box<dyn TrainingIndex>, IndexError> {
        self.created.fetch_add(1, Ordering::Relaxed);
        self.inner.exact(dims, vectors)
    }
}

/// Eight training images of distinct colour patterns; generations are exact copies of
/// training images 1, 4 and 6, and one pattern of its own.
fn images(root: &Path) -> (PathBuf, PathBuf) {
    let training = root.join("training");
    let generations = root.join("generations");
    std::fs::create_dir_all(&training).expect("mkdir");
    std::fs::create_dir_all(&generations).expect("mkdir");
    let pattern = |seed: u32| {
        image::RgbImage::from_fn(64, 64, |x, y| {
            let v = |k: u32| (((x / 16 + k) * 53 + (y / 16) * 97 + seed * 71 + k * 29) % 251) as u8;
            image::Rgb([v(seed), v(seed + 1), v(seed + 2)])
        })
    };
    for i in 0..8 {
        pattern(i)
            .save(training.join(format!("t{i}.png")))
            .expect("save");
    }
    for i in [1, 4, 6] {
        std::fs::copy(
            training.join(format!("t{i}.png")),
            generations.join(format!("copy-of-t{i}.png")),
        )
        .expect("copy");
    }
    pattern(40).save(generations.join("own.png")).expect("save");
    (generations, training)
}

fn run(
    options: ScanOptions,
) -> (
    Vec<replicant::ranking::matches::GenerationMatches>,
    ScanSummary,
) {
    let handle = start_scan(options, None);
    let mut results = Vec::new();
    for event in handle.events.iter() {
        match event {
            ScanEvent::Generation(result) => results.push(*result),
            ScanEvent::Finished(summary) => return (results, *summary),
            ScanEvent::Failed(message) => panic!("scan failed: {message}"),
            ScanEvent::Cancelled => panic!("scan cancelled"),
            _ => {}
        }
    }
    panic!("scan ended without a final event")
}

fn options(root: &Path, loads: &Arc<AtomicUsize>, created: &Arc<AtomicUsize>) -> ScanOptions {
    let (generations, training) = images(root);
    let mut options = ScanOptions::new(generations, vec![training]);
    options.project_dir = Some(root.join("project"));
    options.model = ModelRequest {
        choice: ModelChoice::File(PathBuf::from("grid")),
        // Nothing may be installed: the registry finds everything.
        auto_setup: false,
        ..ModelRequest::default()
    };
    options.matching.regions = RegionMode::Off;
    options.models = Models::new(TestModels {
        loads: loads.clone(),
    });
    options.store = VectorStore::new(CountingStore {
        inner: VectorStore::default(),
        created: created.clone(),
    });
    options
}

fn assert_copies_found(results: &[replicant::ranking::matches::GenerationMatches]) {
    assert_eq!(results.len(), 4);
    for i in [1, 4, 6] {
        let result = results
            .iter()
            .find(|r| r.generation == format!("copy-of-t{i}.png"))
            .expect("scanned");
        assert_eq!(result.matches[0].training, format!("t{i}.png"));
        assert!(
            result.matches[0].similarity > 0.999,
            "{}",
            result.matches[0].similarity
        );
    }
}

#[test]
fn a_scan_runs_on_the_registry_and_store_it_is_given() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (loads, created) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (results, summary) = run(options(dir.path(), &loads, &created));
    assert_copies_found(&results);
    assert_eq!(summary.model_key.0, "grid@test/16x16");
    assert_eq!(
        summary.settings.model,
        std::path::absolute("grid").expect("abs").to_string_lossy()
    );
    assert!(summary.cascade.is_none());
    assert_eq!(results[0].matches[0].ranked_by.as_deref(), Some("grid"));
    assert_eq!(loads.load(Ordering::Relaxed), 1, "one model, loaded once");
    assert_eq!(
        created.load(Ordering::Relaxed),
        2,
        "the training index and its structure index were made in the given store"
    );
}

#[test]
fn the_cascade_takes_its_student_from_the_registry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (loads, created) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut options = options(dir.path(), &loads, &created);
    options.shortlist = Shortlist {
        mode: ShortlistMode::On,
        size: Some(3),
    };
    let (results, summary) = run(options);
    assert_copies_found(&results);
    let cascade = summary.cascade.expect("the cascade ran");
    assert_eq!(cascade.shortlist_model.0, "grid-student@test/16x16");
    assert_eq!(summary.model_key.0, "grid@test/16x16");
    assert_eq!(
        results[0].matches[0].ranked_by.as_deref(),
        Some("grid-student+grid")
    );
    assert_eq!(
        loads.load(Ordering::Relaxed),
        2,
        "the model and its student"
    );
    // The student's training index and the structure index, then one exact index per
    // generation's re-scored shortlist.
    assert_eq!(created.load(Ordering::Relaxed), 2 + 4);
}
