//! `replicant bench placement`: which execution provider ran each node of the models, from
//! ONNX Runtime's profiler, so a GPU run shows whether any compute node fell back to the CPU.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use replicant::embed::placement::{CPU_PROVIDER, NodePlacement};
use replicant::embed::request::load_embedder_profiled;
use replicant::embed::request::resolve_runtime;
use replicant::embed::{Device, Embedder, ModelChoice};

use crate::cli::args::ModelArgs;

/// `replicant bench placement`.
#[derive(Debug, Args)]
pub struct PlacementArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Check only the model given with --model (default: both built-in models).
    #[arg(long)]
    pub only: bool,
    /// Images per batch in the profiled runs.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
}

/// Profiles each model for a few batches and prints its nodes by provider and operator.
/// Exit 1 when a GPU ran the model and a compute node fell back to the CPU.
pub fn run(args: &PlacementArgs) -> anyhow::Result<ExitCode> {
    let base = args.model.request();
    let choices = if args.only {
        vec![base.choice.clone()]
    } else {
        ModelChoice::BUILT_IN.to_vec()
    };
    let work = tempfile::tempdir().context("temporary folder")?;
    let mut fallback = false;
    for (i, choice) in choices.into_iter().enumerate() {
        let mut request = base.clone();
        request.choice = choice;
        let (library, model) =
            resolve_runtime(&request, &mut |line| eprintln!("replicant: {line}"))
                .map_err(anyhow::Error::msg)?;
        let prefix = work.path().join(format!("profile-{i}"));
        let mut embedder = load_embedder_profiled(&request, &library, &model, &prefix)?;
        let bytes = embedder.preprocess().image_bytes();
        let images: Vec<Vec<u8>> = (0..args.batch.max(1))
            .map(|k| (0..bytes).map(|j| ((j / 3 + k * 7) % 251) as u8).collect())
            .collect();
        let refs: Vec<&[u8]> = images.iter().map(Vec::as_slice).collect();
        for _ in 0..3 {
            embedder.embed_batch(&refs)?;
        }
        let on_gpu = embedder.execution_provider().is_gpu();
        let key = embedder.model_key().to_string();
        let provider = embedder.execution_provider().to_string();
        let profile = embedder.end_profiling()?;
        let placement = NodePlacement::from_profile(&profile).map_err(anyhow::Error::msg)?;
        println!("{key} on {provider} ({})", model.path.display());
        for (name, ops) in &placement.by_provider {
            let list: Vec<String> = ops.iter().map(|(op, n)| format!("{op} {n}")).collect();
            println!(
                "  {name:<28} {:5} nodes: {}",
                placement.nodes_on(name),
                list.join(", ")
            );
        }
        let compute = placement.compute_on_cpu();
        if on_gpu {
            if compute.is_empty() {
                println!("  no compute node fell back to {CPU_PROVIDER}");
            } else {
                fallback = true;
                let list: Vec<String> = compute.iter().map(|(op, n)| format!("{op} {n}")).collect();
                println!(
                    "  FALLBACK: compute nodes on {CPU_PROVIDER}: {}",
                    list.join(", ")
                );
            }
        } else if request.device != Device::Cpu {
            println!("  (no GPU provider started; every node ran on the CPU)");
        }
    }
    Ok(if fallback {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
