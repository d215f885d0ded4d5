//! `replicant open` and `replicant demo`: the review desk, and its demo set.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

#[cfg(feature = "desk")]
use replicant::embed::request::ModelRequest;
#[cfg(feature = "desk")]
use replicant::ranking::cascade::Shortlist;

use super::args::{ModelArgs, ShortlistArgs};

/// `replicant open`.
#[derive(Debug, Args)]
pub struct OpenArgs {
    /// The folder of generated images.
    #[arg(long, value_name = "DIR", required_unless_present = "project")]
    pub generations: Option<PathBuf>,
    /// A training source (folder of images and/or .tar shards, or one .tar); repeat for
    /// several.
    #[arg(long, value_name = "SRC")]
    pub training: Vec<PathBuf>,
    /// A training index made by `replicant index build`, instead of training sources.
    #[arg(long, value_name = "INDEX", conflicts_with = "training")]
    pub training_index: Option<PathBuf>,
    /// The project folder (an existing one opens as it is).
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Match regions of each generation too (auto: when it costs at most 2.5x).
    #[arg(long, default_value = "auto", value_parser = clap::value_parser!(replicant::ranking::regions::RegionMode))]
    pub regions: replicant::ranking::regions::RegionMode,
    #[command(flatten)]
    pub shortlist: ShortlistArgs,
}

/// `replicant demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to make the demo set (default: `demo` in the data folder).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Only make the set and print its folders; do not open the desk.
    #[arg(long)]
    pub no_open: bool,
    /// Training images to make.
    #[arg(long, default_value_t = 200)]
    pub training: usize,
    /// Generations to make.
    #[arg(long, default_value_t = 60)]
    pub generations: usize,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Match regions of each generation too (on by default here: the demo has collages).
    #[arg(long, default_value = "on", value_parser = clap::value_parser!(replicant::ranking::regions::RegionMode))]
    pub regions: replicant::ranking::regions::RegionMode,
}

/// Runs `replicant demo`.
pub fn demo(args: &DemoArgs) -> anyhow::Result<ExitCode> {
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| replicant::embed::provision::data_dir().join("demo"));
    let spec = replicant::demo::DemoSpec {
        training: args.training,
        generations: args.generations,
        ..Default::default()
    };
    eprintln!(
        "replicant: making the demo set in {} ({} training images, {} generations)",
        dir.display(),
        spec.training,
        spec.generations
    );
    let set = replicant::demo::make_demo(&dir, &spec)
        .with_context(|| format!("cannot write the demo set into {}", dir.display()))?;
    if args.no_open {
        println!("{}", set.generations.display());
        println!("{}", set.training.display());
        return Ok(ExitCode::SUCCESS);
    }
    #[cfg(feature = "desk")]
    {
        let start = replicant::app::StartMode::Folders {
            generations: set.generations,
            training: vec![set.training],
            training_index: None,
            project: Some(dir.join("project")),
        };
        open_desk(
            start,
            Some(args.model.request()),
            args.regions,
            Shortlist::default(),
        )
    }
    #[cfg(not(feature = "desk"))]
    {
        println!("{}", set.generations.display());
        println!("{}", set.training.display());
        no_desk()
    }
}

/// The answer of a build without the desk to a command that needs it.
#[cfg(not(feature = "desk"))]
pub fn no_desk() -> anyhow::Result<ExitCode> {
    eprintln!(
        "replicant: this build has no review desk (built with --no-default-features); use `replicant scan`, `label` and `export`, or install the default build for the desk"
    );
    Ok(ExitCode::from(2))
}

/// Runs `replicant open`.
#[cfg(feature = "desk")]
pub fn open(args: &OpenArgs) -> anyhow::Result<ExitCode> {
    let start = match (&args.generations, &args.project) {
        (Some(generations), _) => {
            anyhow::ensure!(
                !args.training.is_empty() || args.training_index.is_some(),
                "give at least one --training SRC, or --training-index INDEX, with --generations"
            );
            replicant::app::StartMode::Folders {
                generations: generations.clone(),
                training: args.training.clone(),
                training_index: args.training_index.clone(),
                project: args.project.clone(),
            }
        }
        (None, Some(project)) => replicant::app::StartMode::Project(project.clone()),
        (None, None) => replicant::app::StartMode::Resume,
    };
    let shortlist = args.shortlist.settings();
    open_desk(start, Some(args.model.request()), args.regions, shortlist)
}

/// Runs `replicant open` in a build without the desk.
#[cfg(not(feature = "desk"))]
pub fn open(_args: &OpenArgs) -> anyhow::Result<ExitCode> {
    no_desk()
}

/// Opens the desk window.
#[cfg(feature = "desk")]
pub fn open_desk(
    start: replicant::app::StartMode,
    model: Option<ModelRequest>,
    regions: replicant::ranking::regions::RegionMode,
    shortlist: Shortlist,
) -> anyhow::Result<ExitCode> {
    replicant::app::run(start, model, regions, shortlist).map_err(|err| anyhow::anyhow!("cannot open the window: {err}. The desk needs a display (X11 or Wayland) and a GPU or software Vulkan/GL driver; `replicant scan` works without one"))?;
    Ok(ExitCode::SUCCESS)
}
