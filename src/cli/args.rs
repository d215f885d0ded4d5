//! Argument types and parsers shared by several commands.

use std::path::PathBuf;

use clap::Args;

use replicant::embed::request::ModelRequest;
use replicant::embed::{Device, ModelChoice, PreprocessOverrides};
use replicant::ranking::cascade::{Shortlist, ShortlistMode};

/// The shortlist cascade's choices, shared by `scan` and `open`.
#[derive(Debug, Args, Clone)]
pub struct ShortlistArgs {
    /// The shortlist cascade: index training images with sscd-distilled and re-score each
    /// generation's shortlist with full SSCD (auto: on a CPU when training images outnumber
    /// generations 20 to 1, or when the training index holds sscd-distilled embeddings).
    #[arg(long, default_value = "auto", value_parser = clap::value_parser!(ShortlistMode))]
    pub shortlist: ShortlistMode,
    /// Training images re-scored with full SSCD per generation (default 16).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub shortlist_size: Option<u16>,
}

impl ShortlistArgs {
    /// The cascade's settings as the command line gives them.
    pub fn settings(&self) -> Shortlist {
        Shortlist {
            mode: self.shortlist,
            size: self.shortlist_size.map(usize::from),
        }
    }
}

/// Model and runtime choices shared by the commands that embed images.
#[derive(Debug, Args, Clone)]
pub struct ModelArgs {
    /// Model: sscd, sscd-distilled, or a path to an ONNX image model.
    #[arg(long, default_value_t = replicant::embed::ModelChoice::default().name(), value_name = "NAME|FILE.onnx")]
    pub model: String,
    /// Input size in pixels for models with dynamic height and width.
    #[arg(long, value_name = "PIXELS", value_parser = clap::value_parser!(u32).range(16..=4096))]
    pub size: Option<u32>,
    /// Per-channel mean for float32 NCHW models, e.g. 0.485,0.456,0.406.
    #[arg(long, value_name = "R,G,B", value_parser = parse_triple)]
    pub mean: Option<[f32; 3]>,
    /// Per-channel standard deviation for float32 NCHW models, e.g. 0.229,0.224,0.225.
    #[arg(long, value_name = "R,G,B", value_parser = parse_triple)]
    pub std: Option<[f32; 3]>,
    /// Where inference runs: auto (CUDA when available), cpu, cuda or tensorrt.
    #[arg(long, default_value = "auto", value_parser = clap::value_parser!(Device))]
    pub device: Device,
    /// The ONNX Runtime library (libonnxruntime.so); also REPLICANT_ORT_LIB.
    #[arg(long, value_name = "FILE")]
    pub ort_lib: Option<PathBuf>,
    /// Never install missing files with pip; fail instead.
    #[arg(long)]
    pub no_setup: bool,
    /// Threads for inference (0: one per core; at most 256).
    #[arg(long, default_value_t = 0, value_name = "N", value_parser = parse_threads)]
    pub threads: usize,
}

impl ModelArgs {
    /// The request these arguments make.
    pub fn request(&self) -> ModelRequest {
        ModelRequest {
            choice: ModelChoice::parse(&self.model),
            overrides: PreprocessOverrides {
                size_px: self.size,
                mean: self.mean,
                std: self.std,
                alpha: replicant::decode::Alpha::default(),
            },
            ort_lib: self.ort_lib.clone(),
            device: self.device,
            intra_threads: self.threads,
            auto_setup: !self.no_setup,
        }
    }
}

fn parse_triple(text: &str) -> Result<[f32; 3], String> {
    let parts: Vec<f32> = text
        .split(',')
        .map(|p| p.trim().parse::<f32>().map_err(|e| format!("{p:?}: {e}")))
        .collect::<Result<_, _>>()?;
    <[f32; 3]>::try_from(parts)
        .map_err(|_| "give three comma-separated numbers, e.g. 0.5,0.5,0.5".into())
}

/// The most threads a command takes: beyond this a typo (100000) would start so many threads
/// that the machine stalls.
pub const MAX_THREADS: usize = 256;

/// Parses a thread count: 0 (one per core) to [`MAX_THREADS`].
pub fn parse_threads(text: &str) -> Result<usize, String> {
    let n: usize = text.trim().parse().map_err(|e| format!("{e}"))?;
    if n > MAX_THREADS {
        return Err(format!(
            "at most {MAX_THREADS} threads (0 means one per core)"
        ));
    }
    Ok(n)
}

pub(crate) fn parse_similarity(text: &str) -> Result<f32, String> {
    let value: f32 = text.parse().map_err(|e| format!("{e}"))?;
    if (-1.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err("a cosine similarity between -1 and 1".into())
    }
}
