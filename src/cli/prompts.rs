//! `replicant prompts`: the prompt side of an audit.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use replicant::audit::caption_sample::{CaptionSource, sample_captions, write_prompt_set};

/// `replicant prompts`.
#[derive(Debug, Args)]
pub struct PromptsArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: PromptsCommand,
}

/// The `prompts` subcommands.
#[derive(Debug, Subcommand)]
pub enum PromptsCommand {
    /// Draw captions uniformly at random from a training set, as prompts to generate from (one
    /// JSON object a line: id, prompt, seed, and the caption's training image).
    Sample(SampleArgs),
}

/// `replicant prompts sample`.
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// Training sources: folders, folders of tar shards, or `.tar` shards (captions from
    /// sidecars, metadata files, or the shards' `KEY.txt` / `KEY.json`).
    #[arg(long, value_name = "SRC", num_args = 1.., required_unless_present = "training_index")]
    pub training: Vec<PathBuf>,
    /// A prebuilt training index (`replicant index build`): its rows' captions.
    #[arg(long, value_name = "INDEX", conflicts_with = "training")]
    pub training_index: Option<PathBuf>,
    /// How many captions to draw (all of them when the set has fewer).
    #[arg(long, default_value_t = 9000, value_parser = clap::value_parser!(u32).range(1..))]
    pub n: u32,
    /// The seed: the same seed and training set give the same prompts.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The prompt set to write (JSON Lines).
    #[arg(long, value_name = "FILE.jsonl")]
    pub out: PathBuf,
    /// Replace `--out` if it exists.
    #[arg(long)]
    pub force: bool,
}

/// Runs `replicant prompts`.
pub fn prompts(args: &PromptsArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        PromptsCommand::Sample(args) => sample(args),
    }
}

fn sample(args: &SampleArgs) -> anyhow::Result<ExitCode> {
    if args.out.exists() && !args.force {
        anyhow::bail!(
            "{} exists; give --force to replace it, or another --out",
            args.out.display()
        );
    }
    let source = match &args.training_index {
        Some(index) => CaptionSource::Index(index.clone()),
        None => CaptionSource::Sources(args.training.clone()),
    };
    let drawn = sample_captions(&source, args.n as usize, args.seed).map_err(anyhow::Error::msg)?;
    if drawn.lines.is_empty() {
        anyhow::bail!(
            "no training image has a caption ({} without one); captions come from <stem>.txt sidecars, metadata.jsonl / metadata.csv files, or a shard's KEY.txt / KEY.json",
            drawn.without_caption
        );
    }
    write_prompt_set(&drawn.lines, &args.out, args.force).map_err(anyhow::Error::msg)?;
    for line in &drawn.unreadable {
        eprintln!("replicant: skipped (unreadable, another drawn instead): {line}");
    }
    eprintln!(
        "replicant: {} prompts drawn with seed {} from {} captioned training images ({} without a caption skipped) -> {}",
        drawn.prompts,
        drawn.seed,
        drawn.captioned,
        drawn.without_caption,
        args.out.display()
    );
    if drawn.prompts < args.n as usize {
        eprintln!(
            "replicant: fewer than the {} asked for: the set holds only these",
            args.n
        );
    }
    println!("{}", serde_json::to_string(&drawn)?);
    Ok(ExitCode::SUCCESS)
}
