//! The ONNX Runtime embedder. ONNX Runtime is loaded at run time from a library found by
//! [`super::provision`]; one environment serves the whole process (ONNX Runtime allows one).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::{TensorElementType, ValueType};

use super::preprocess::pack_f32_nchw;

/// The largest input side fed to a model: a model declaring more is refused rather than
/// allocating gigabytes per image.
pub const MAX_INPUT_SIDE: i64 = 4096;
use super::{
    EmbedError, Embedder, ExecutionProvider, InputLayout, ModelChoice, ModelKey, Preprocess,
    PreprocessOverrides,
};

/// Where inference runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Device {
    /// CUDA when the runtime has it and it starts, else the CPU.
    #[default]
    Auto,
    /// The CPU only.
    Cpu,
    /// CUDA, or fail.
    Cuda,
    /// TensorRT (QDQ models as real int8, the rest in fp16), CUDA for what it cannot run, or
    /// fail. Needs `replicant setup --gpu --tensorrt`.
    TensorRt,
}

impl std::str::FromStr for Device {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "cuda" | "gpu" => Ok(Self::Cuda),
            "tensorrt" | "trt" => Ok(Self::TensorRt),
            other => Err(format!(
                "unknown device {other:?}; use auto, cpu, cuda or tensorrt"
            )),
        }
    }
}

/// The process-wide ONNX Runtime environment.
pub struct OrtEnvironment;

static ENVIRONMENT: Mutex<Option<(PathBuf, ort::environment::Environment)>> = Mutex::new(None);

impl OrtEnvironment {
    /// The environment, loading ONNX Runtime from `library` the first time. Later calls with
    /// another path reuse the library already loaded (a process can hold only one).
    pub fn get_or_init(library: &Path) -> Result<ort::environment::Environment, EmbedError> {
        let mut slot = ENVIRONMENT
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((loaded, env)) = slot.as_ref() {
            if loaded != library {
                tracing::warn!(
                    "ONNX Runtime is already loaded from {}; {} is not loaded",
                    loaded.display(),
                    library.display()
                );
            }
            return Ok(env.clone());
        }
        if !library.is_file() {
            return Err(EmbedError::Runtime {
                path: library.to_path_buf(),
                detail: "no such file".into(),
            });
        }
        let runtime_err = |detail: String| EmbedError::Runtime {
            path: library.to_path_buf(),
            detail,
        };
        // ort panics on a library that loads but will not give the API version it needs;
        // ask the library first, and catch any other panic while loading it.
        check_api(library).map_err(runtime_err)?;
        let loaded = std::panic::catch_unwind(|| {
            ort::init_from(library)
                .map_err(|err| err.to_string())?
                .with_name("replicant")
                .build()
                .map_err(|err| err.to_string())
        })
        .unwrap_or_else(|_| Err("loading it failed inside ONNX Runtime's bindings".into()));
        let env = loaded.map_err(runtime_err)?;
        *slot = Some((library.to_path_buf(), env.clone()));
        Ok(env)
    }
}

/// Checks that `library` is an ONNX Runtime that offers the C API version this program is
/// built for, without handing it to ort (which panics when it does not).
fn check_api(library: &Path) -> Result<(), String> {
    // SAFETY: loading a shared library runs its initialisers; the user named this file as
    // their ONNX Runtime, which ort would load the same way. `OrtGetApiBase` takes no
    // arguments and returns a pointer to a static table; both calls are ONNX Runtime's C API.
    unsafe {
        let lib = libloading::Library::new(library).map_err(|e| e.to_string())?;
        let get_base: libloading::Symbol<
            '_,
            unsafe extern "C" fn() -> *const ort::sys::OrtApiBase,
        > = lib.get(b"OrtGetApiBase").map_err(|_| {
            "it does not export `OrtGetApiBase`: it is not ONNX Runtime".to_string()
        })?;
        let base = get_base();
        if base.is_null() {
            return Err("its `OrtGetApiBase` returned nothing".into());
        }
        let version = std::ffi::CStr::from_ptr(((*base).GetVersionString)())
            .to_string_lossy()
            .into_owned();
        if ((*base).GetApi)(ort::sys::ORT_API_VERSION).is_null() {
            return Err(format!(
                "it is ONNX Runtime {version}, which does not offer API version {} that this program needs",
                ort::sys::ORT_API_VERSION
            ));
        }
        Ok(())
    }
}

/// An [`Embedder`] backed by an ONNX Runtime session.
pub struct OnnxEmbedder {
    session: Session,
    model_key: ModelKey,
    preprocess: Preprocess,
    dims: usize,
    provider: ExecutionProvider,
    path: PathBuf,
}

impl OnnxEmbedder {
    /// Loads `model_path` for `choice` on `device`, with `intra_threads` CPU threads for
    /// inference. Checks the model's input and output shapes and runs it once on a blank image,
    /// so a wrong model file fails here with a clear message rather than mid-scan.
    pub fn load(
        env: &ort::environment::Environment,
        choice: &ModelChoice,
        model_path: &Path,
        overrides: &PreprocessOverrides,
        device: Device,
        intra_threads: usize,
    ) -> Result<Self, EmbedError> {
        Self::load_with(
            env,
            choice,
            model_path,
            overrides,
            device,
            intra_threads,
            None,
        )
    }

    /// As [`OnnxEmbedder::load`], with ONNX Runtime's profiler on: every node run is recorded,
    /// with the execution provider that ran it, in a JSON file named from `profile_prefix`
    /// and written by [`OnnxEmbedder::end_profiling`]. For checking where a model's nodes run
    /// (`replicant bench placement`), not for scans.
    pub fn load_profiled(
        env: &ort::environment::Environment,
        choice: &ModelChoice,
        model_path: &Path,
        device: Device,
        intra_threads: usize,
        profile_prefix: &Path,
    ) -> Result<Self, EmbedError> {
        Self::load_with(
            env,
            choice,
            model_path,
            &PreprocessOverrides::default(),
            device,
            intra_threads,
            Some(profile_prefix),
        )
    }

    /// Stops the profiler started by [`OnnxEmbedder::load_profiled`] and returns the profile's
    /// path.
    pub fn end_profiling(&mut self) -> Result<PathBuf, EmbedError> {
        self.session
            .end_profiling()
            .map(PathBuf::from)
            .map_err(|err| EmbedError::Model {
                path: self.path.clone(),
                detail: format!("the profiler could not be stopped: {err}"),
            })
    }

    fn load_with(
        env: &ort::environment::Environment,
        choice: &ModelChoice,
        model_path: &Path,
        overrides: &PreprocessOverrides,
        device: Device,
        intra_threads: usize,
        profile_prefix: Option<&Path>,
    ) -> Result<Self, EmbedError> {
        let model_err = |detail: String| EmbedError::Model {
            path: model_path.to_path_buf(),
            detail,
        };
        let bytes = std::fs::read(model_path).map_err(|err| model_err(err.to_string()))?;
        let file_hash = blake3::hash(&bytes);
        drop(bytes);

        let (session, provider) =
            build_session(env, model_path, device, intra_threads, profile_prefix)?;
        let preprocess = preprocess_from_model(&session, choice, model_path, overrides)?;
        let model_key = ModelKey::new(&choice.name(), &file_hash, &preprocess);
        let mut embedder = Self {
            session,
            model_key,
            preprocess,
            dims: 0,
            provider,
            path: model_path.to_path_buf(),
        };
        // A grey ramp, not a blank image: any real image model gives it a non-zero embedding.
        let ramp: Vec<u8> = (0..embedder.preprocess.image_bytes())
            .map(|i| ((i / 3) % 251) as u8)
            .collect();
        let probe = embedder.embed_batch(&[&ramp])?;
        embedder.dims = probe.first().map_or(0, Vec::len);
        if embedder.dims == 0 {
            return Err(EmbedError::Unsupported {
                path: model_path.to_path_buf(),
                detail: "its first output is empty; expected an embedding of shape [batch, dims]"
                    .into(),
            });
        }
        tracing::info!(
            model = %embedder.model_key,
            provider = %embedder.provider,
            dims = embedder.dims,
            "model loaded"
        );
        Ok(embedder)
    }
}

/// Over 100 lines on purpose: ONNX Runtime's session options in the order the runtime wants them,
/// with each execution provider's settings and why beside it.
fn build_session(
    env: &ort::environment::Environment,
    model_path: &Path,
    device: Device,
    intra_threads: usize,
    profile_prefix: Option<&Path>,
) -> Result<(Session, ExecutionProvider), EmbedError> {
    let model_err = |detail: String| EmbedError::Model {
        path: model_path.to_path_buf(),
        detail,
    };
    let base = || -> Result<ort::session::builder::SessionBuilder, EmbedError> {
        let builder = Session::builder(env).map_err(|err| model_err(err.to_string()))?;
        let builder = match profile_prefix {
            Some(prefix) => builder
                .with_profiling(prefix)
                .map_err(|err| model_err(err.to_string()))?,
            None => builder,
        };
        builder
            .with_optimization_level(GraphOptimizationLevel::All)
            .map_err(|err| model_err(err.to_string()))?
            .with_intra_threads(intra_threads.max(1))
            .map_err(|err| model_err(err.to_string()))?
            // Idle inference threads sleep instead of spinning, leaving the cores to the
            // decoders that feed them.
            .with_config_entry(
                "session.intra_op.allow_spinning",
                if std::env::var_os("REPLICANT_SPIN").is_some() {
                    "1"
                } else {
                    "0"
                },
            )
            .map_err(|err| model_err(err.to_string()))
    };
    if device == Device::TensorRt {
        // No engine cache on disk: a TensorRT engine is a compiled form of the model, and the
        // SSCD package's licence allows its files to be used unmodified only, so the engine
        // is built anew in each process (seconds) and never written.
        let attempt = base()?
            .with_execution_providers([
                ort::ep::TensorRT::default()
                    .with_int8(true)
                    .with_fp16(true)
                    .with_engine_cache(false)
                    .build()
                    .error_on_failure(),
                cuda_provider().build(),
            ])
            .map_err(|err| err.to_string())
            .and_then(|mut builder| {
                builder
                    .commit_from_file(model_path)
                    .map_err(|err| err.to_string())
            });
        return match attempt {
            Ok(session) => Ok((session, ExecutionProvider::TensorRt)),
            Err(detail) => Err(EmbedError::CudaUnavailable(format!(
                "the TensorRT execution provider failed to start: {} (it needs `replicant setup --gpu --tensorrt`)",
                gpu_failure(&detail)
            ))),
        };
    }
    if device != Device::Cpu {
        let cuda_available =
            <ort::ep::CUDA as ort::ep::ExecutionProvider>::is_available().unwrap_or(false);
        if cuda_available {
            let attempt = base()?
                .with_config_entry("session.disable_quant_qdq", keep_qdq())
                .map_err(|err| model_err(err.to_string()))?
                .with_execution_providers([cuda_provider().build().error_on_failure()])
                .map_err(|err| err.to_string())
                .and_then(|mut builder| {
                    builder
                        .commit_from_file(model_path)
                        .map_err(|err| err.to_string())
                });
            match attempt {
                Ok(session) => return Ok((session, ExecutionProvider::Cuda)),
                Err(detail) if device == Device::Cuda => {
                    return Err(EmbedError::CudaUnavailable(format!(
                        "the CUDA execution provider failed to start: {}",
                        gpu_failure(&detail)
                    )));
                }
                Err(detail) => {
                    tracing::warn!(
                        "CUDA execution provider failed to start ({}); running on the CPU",
                        gpu_failure(&detail)
                    );
                }
            }
        } else if device == Device::Cuda {
            return Err(EmbedError::CudaUnavailable(
                "this ONNX Runtime library has no CUDA execution provider".into(),
            ));
        } else {
            tracing::info!("no CUDA execution provider in this ONNX Runtime; running on the CPU");
        }
    }
    let session = base()?
        .commit_from_file(model_path)
        .map_err(|err| model_err(err.to_string()))?;
    Ok((session, ExecutionProvider::Cpu))
}

/// The CUDA provider, with the layout and workspace options `REPLICANT_CUDA_NHWC` and
/// `REPLICANT_CUDA_MAX_WORKSPACE` ask for ("1" on, "0" off; unset: ONNX Runtime's default),
/// for measuring them with `replicant bench` on a GPU.
fn cuda_provider() -> ort::ep::CUDA {
    let flag = |name: &str| std::env::var(name).ok().map(|v| v != "0");
    let mut provider = ort::ep::CUDA::default();
    if let Some(on) = flag("REPLICANT_CUDA_NHWC") {
        provider = provider.with_prefer_nhwc(on);
    }
    if let Some(on) = flag("REPLICANT_CUDA_MAX_WORKSPACE") {
        provider = provider.with_conv_max_workspace(on);
    }
    provider
}

/// `session.disable_quant_qdq` for a CUDA session: "1" unless `REPLICANT_KEEP_QDQ` is set.
///
/// The CUDA provider has no int8 convolution, so it runs `sscd.onnx`'s QDQ form as float
/// convolutions fed by DequantizeLinear nodes; kept as QDQ, ONNX Runtime does not fold the
/// weights' DequantizeLinear (it keeps QDQ groups for quantised kernels), and the provider
/// leaves those nodes (53 in `sscd.onnx`) to the CPU, which dequantises every weight and copies
/// it to the GPU on every batch. Disabling the QDQ handling lets constant folding dequantise the
/// weights once, in memory, when the session loads: the model file is read unmodified and
/// nothing derived is written. Measured with `replicant bench placement --device cuda` (the
/// CPU fallback gone) and `replicant bench` on an H100 (docs/scanning.md, "The GPU path").
fn keep_qdq() -> &'static str {
    if std::env::var_os("REPLICANT_KEEP_QDQ").is_some() {
        "0"
    } else {
        "1"
    }
}

/// ONNX Runtime's message for a provider that did not start, trimmed, with the likeliest
/// cause named when it is a missing driver.
fn gpu_failure(detail: &str) -> String {
    let detail = detail.trim();
    if detail.contains("libcuda.so") {
        format!(
            "{detail} [no NVIDIA driver found: libcuda.so.1 comes with the GPU driver, not with the wheels]"
        )
    } else {
        detail.to_string()
    }
}

fn preprocess_from_model(
    session: &Session,
    choice: &ModelChoice,
    model_path: &Path,
    overrides: &PreprocessOverrides,
) -> Result<Preprocess, EmbedError> {
    let unsupported = |detail: String| EmbedError::Unsupported {
        path: model_path.to_path_buf(),
        detail,
    };
    let input = session
        .inputs()
        .first()
        .ok_or_else(|| unsupported("it has no inputs".into()))?;
    let ValueType::Tensor { ty, shape, .. } = input.dtype() else {
        return Err(unsupported(format!(
            "its input {:?} is not a tensor",
            input.name()
        )));
    };
    let dims: Vec<i64> = shape.iter().copied().collect();
    if dims.len() != 4 {
        return Err(unsupported(format!(
            "its input has shape {dims:?}; expected an image batch [batch, H, W, 3] (uint8) or [batch, 3, H, W] (float32)"
        )));
    }
    let builtin_size = choice.builtin_file_name().map(|_| 320);
    let size = |declared_h: i64, declared_w: i64| -> Result<(u32, u32), EmbedError> {
        if let Some(size) = overrides.size_px {
            return Ok((size, size));
        }
        if declared_h > 0 && declared_w > 0 {
            if declared_h > MAX_INPUT_SIDE || declared_w > MAX_INPUT_SIDE {
                return Err(unsupported(format!(
                    "it declares an input of {declared_w}x{declared_h} pixels; the largest this program feeds a model is {MAX_INPUT_SIDE}x{MAX_INPUT_SIDE} (an image model takes a few hundred pixels a side)"
                )));
            }
            return Ok((declared_w as u32, declared_h as u32));
        }
        builtin_size.map(|s| (s, s)).ok_or_else(|| {
            unsupported(
                "its input height and width are dynamic; give the size with --size PIXELS".into(),
            )
        })
    };
    match ty {
        TensorElementType::Uint8 if dims[3] == 3 => {
            let (width, height) = size(dims[1], dims[2])?;
            Ok(Preprocess {
                width,
                height,
                layout: InputLayout::U8Nhwc,
                alpha: overrides.alpha,
            })
        }
        TensorElementType::Float32 if dims[1] == 3 => {
            let (width, height) = size(dims[2], dims[3])?;
            let mean = overrides.mean.unwrap_or([0.485, 0.456, 0.406]);
            let std = overrides.std.unwrap_or([0.229, 0.224, 0.225]);
            if overrides.mean.is_none() || overrides.std.is_none() {
                tracing::info!("float32 model without --mean/--std: using ImageNet's mean and std");
            }
            Ok(Preprocess {
                width,
                height,
                layout: InputLayout::F32Nchw { mean, std },
                alpha: overrides.alpha,
            })
        }
        other => Err(unsupported(format!(
            "its input is {other:?} with shape {dims:?}; expected uint8 [batch, H, W, 3] or float32 [batch, 3, H, W]"
        ))),
    }
}

impl Embedder for OnnxEmbedder {
    fn model_key(&self) -> &ModelKey {
        &self.model_key
    }

    fn preprocess(&self) -> &Preprocess {
        &self.preprocess
    }

    fn dims(&self) -> usize {
        self.dims
    }

    fn execution_provider(&self) -> ExecutionProvider {
        self.provider
    }

    fn embed_batch(&mut self, images: &[&[u8]]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if images.is_empty() {
            return Ok(Vec::new());
        }
        let expected = self.preprocess.image_bytes();
        if let Some(bad) = images.iter().find(|image| image.len() != expected) {
            return Err(EmbedError::Inference(format!(
                "an image of {} bytes was given where {expected} were expected",
                bad.len()
            )));
        }
        let (w, h, batch) = (
            self.preprocess.width as usize,
            self.preprocess.height as usize,
            images.len(),
        );
        let inference = |err: ort::Error| EmbedError::Inference(err.to_string());
        let outputs = match &self.preprocess.layout {
            InputLayout::U8Nhwc => {
                let mut data = Vec::with_capacity(batch * expected);
                for image in images {
                    data.extend_from_slice(image);
                }
                let tensor =
                    ort::value::Tensor::from_array(([batch, h, w, 3], data)).map_err(inference)?;
                self.session.run(ort::inputs![tensor]).map_err(inference)?
            }
            InputLayout::F32Nchw { mean, std } => {
                let data = pack_f32_nchw(images, w as u32, h as u32, mean, std);
                let tensor =
                    ort::value::Tensor::from_array(([batch, 3, h, w], data)).map_err(inference)?;
                self.session.run(ort::inputs![tensor]).map_err(inference)?
            }
        };
        let (shape, values) =
            outputs[0]
                .try_extract_tensor::<f32>()
                .map_err(|err| EmbedError::Unsupported {
                    path: self.path.clone(),
                    detail: format!("its first output is not a float32 tensor ({err})"),
                })?;
        let dims: Vec<i64> = shape.iter().copied().collect();
        let per_image = values.len().checked_div(batch).unwrap_or(0);
        if dims.first().copied() != Some(batch as i64) || per_image == 0 {
            return Err(EmbedError::Unsupported {
                path: self.path.clone(),
                detail: format!("its first output has shape {dims:?}; expected [batch, dims]"),
            });
        }
        let mut embeddings = Vec::with_capacity(batch);
        for (i, chunk) in values.chunks_exact(per_image).enumerate() {
            // A broken or foreign model gives NaN or all zeros, which would make every
            // similarity null or 1.0; refuse it instead of reporting that.
            if chunk.iter().any(|v| !v.is_finite()) {
                return Err(EmbedError::BadOutput {
                    path: self.path.clone(),
                    detail: format!("image {} of a batch gave NaN or infinite values", i + 1),
                });
            }
            if chunk.iter().all(|v| *v == 0.0) {
                return Err(EmbedError::BadOutput {
                    path: self.path.clone(),
                    detail: format!("image {} of a batch gave an embedding of all zeros", i + 1),
                });
            }
            let mut v = chunk.to_vec();
            super::l2_normalise(&mut v);
            embeddings.push(v);
        }
        Ok(embeddings)
    }
}
