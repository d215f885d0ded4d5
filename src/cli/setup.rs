//! `replicant setup`: ONNX Runtime and the SSCD models, installed with pip.

use std::process::ExitCode;

use clap::Args;

/// `replicant setup`.
#[derive(Debug, Args)]
pub struct SetupArgs {
    /// Install the GPU build of ONNX Runtime (onnxruntime-gpu) with NVIDIA's CUDA 13 and
    /// cuDNN 9 libraries from PyPI (no system CUDA needed; only the GPU driver).
    #[arg(long)]
    pub gpu: bool,
    /// With --gpu: TensorRT 10's libraries too, for --device tensorrt.
    #[arg(long, requires = "gpu")]
    pub tensorrt: bool,
    /// Reinstall even if already installed.
    #[arg(long)]
    pub force: bool,
}

/// Runs `replicant setup`.
pub fn setup(args: &SetupArgs) -> anyhow::Result<ExitCode> {
    use replicant::embed::provision::RuntimeKind;
    let kind = match (args.gpu, args.tensorrt) {
        (false, _) => RuntimeKind::Cpu,
        (true, false) => RuntimeKind::Cuda,
        (true, true) => RuntimeKind::CudaTensorRt,
    };
    let report = replicant::embed::provision::setup(kind, args.force, &mut |line| {
        eprintln!("replicant: {line}")
    })?;
    eprintln!("replicant: ONNX Runtime: {}", report.ort_library.display());
    eprintln!("replicant: models:       {}", report.models.display());
    Ok(ExitCode::SUCCESS)
}
