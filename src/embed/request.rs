//! Finding the runtime and model for a scan (installing them with pip when allowed) and
//! loading the embedder.

use std::path::PathBuf;

use crate::embed::provision::{self, Found};
use crate::embed::{
    Device, EmbedError, ModelChoice, OnnxEmbedder, OrtEnvironment, PreprocessOverrides,
};

/// Which model to run, and where.
#[derive(Debug, Clone)]
pub struct ModelRequest {
    /// The model.
    pub choice: ModelChoice,
    /// Preprocessing overrides for custom models.
    pub overrides: PreprocessOverrides,
    /// The ONNX Runtime library, when given (`--ort-lib`).
    pub ort_lib: Option<PathBuf>,
    /// Where inference runs.
    pub device: Device,
    /// Threads for inference (0: one per core).
    pub intra_threads: usize,
    /// Whether a missing runtime or model may be installed with pip.
    pub auto_setup: bool,
}

impl Default for ModelRequest {
    fn default() -> Self {
        Self {
            choice: ModelChoice::default(),
            overrides: PreprocessOverrides::default(),
            ort_lib: None,
            device: Device::Auto,
            intra_threads: 0,
            auto_setup: true,
        }
    }
}

/// Finds the ONNX Runtime library and the model file, running `replicant setup` (pip) first
/// when they are missing and `auto_setup` allows it. `say` gets a line for each step taken.
pub fn resolve_runtime(
    request: &ModelRequest,
    say: &mut dyn FnMut(&str),
) -> Result<(Found, Found), String> {
    let prefer_gpu = request.device != Device::Cpu;
    let mut library = provision::find_ort_library(request.ort_lib.as_deref(), prefer_gpu);
    let mut model = match &request.choice {
        ModelChoice::File(path) => {
            if !path.is_file() {
                return Err(format!(
                    "model file {} does not exist; give an existing .onnx file, or --model sscd",
                    path.display()
                ));
            }
            Some(Found {
                path: path.clone(),
                origin: "--model",
            })
        }
        builtin => builtin
            .builtin_file_name()
            .and_then(provision::find_builtin_model),
    };
    if library.is_none() || model.is_none() {
        let missing = match (&library, &model) {
            (None, None) => "ONNX Runtime and the SSCD models",
            (None, Some(_)) => "ONNX Runtime",
            _ => "the SSCD models",
        };
        if !request.auto_setup {
            return Err(format!(
                "{missing} not found; run `replicant setup` (installs them with pip into {})",
                provision::data_dir().display()
            ));
        }
        if let Err(detail) = provision::pip_available() {
            return Err(format!(
                "{missing} not found and pip is not available ({detail}); install Python 3 with pip and run `replicant setup`, or pass --ort-lib FILE and --model FILE"
            ));
        }
        say(&format!(
            "{missing} not found: running `replicant setup` to install them with pip"
        ));
        provision::setup(provision::RuntimeKind::Cpu, false, say).map_err(|err| err.to_string())?;
        library = library.or_else(|| provision::find_ort_library(None, prefer_gpu));
        model = model.or_else(|| {
            request
                .choice
                .builtin_file_name()
                .and_then(provision::find_builtin_model)
        });
    }
    match (library, model) {
        (Some(library), Some(model)) => Ok((library, model)),
        _ => Err("setup finished but the runtime or model is still missing; run `replicant setup --force`".into()),
    }
}

/// Loads the embedder for `request` from the files found by [`resolve_runtime`].
pub fn load_embedder(
    request: &ModelRequest,
    library: &Found,
    model: &Found,
) -> Result<OnnxEmbedder, EmbedError> {
    let (env, threads) = prepare_runtime(request, library)?;
    OnnxEmbedder::load(
        &env,
        &request.choice,
        &model.path,
        &request.overrides,
        request.device,
        threads,
    )
}

/// As [`load_embedder`], with ONNX Runtime's profiler writing to a file named from
/// `profile_prefix` (see [`OnnxEmbedder::load_profiled`]).
pub fn load_embedder_profiled(
    request: &ModelRequest,
    library: &Found,
    model: &Found,
    profile_prefix: &std::path::Path,
) -> Result<OnnxEmbedder, EmbedError> {
    let (env, threads) = prepare_runtime(request, library)?;
    OnnxEmbedder::load_profiled(
        &env,
        &request.choice,
        &model.path,
        request.device,
        threads,
        profile_prefix,
    )
}

/// Loads the GPU libraries when a GPU is asked for, then the runtime; returns its
/// environment and the inference thread count.
fn prepare_runtime(
    request: &ModelRequest,
    library: &Found,
) -> Result<(ort::environment::Environment, usize), EmbedError> {
    if request.device != Device::Cpu {
        // NVIDIA's libraries from `replicant setup --gpu` are loaded before the CUDA provider
        // looks for them.
        if let Some(site) = crate::embed::gpu::site_of(&library.path)
            && !crate::embed::gpu::library_dirs(site).is_empty()
        {
            let report = crate::embed::gpu::preload(site, request.device == Device::TensorRt);
            tracing::info!(
                loaded = report.loaded.len(),
                missing = ?report.missing,
                failed = ?report.failed,
                "CUDA libraries from the GPU runtime's wheels"
            );
        }
    }
    let env = OrtEnvironment::get_or_init(&library.path)?;
    let threads = if request.intra_threads == 0 {
        std::thread::available_parallelism().map_or(1, usize::from)
    } else {
        request.intra_threads
    };
    Ok((env, threads))
}
