//! The `replicant` binary: the command line, and the review desk when run without a command.

mod cli;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        // Colour codes only where a terminal reads them, not in a log file or a pipe.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let cli = cli::Cli::parse();
    let result = match cli.command {
        Some(cli::Command::Scan(args)) => cli::scan::scan(args),
        Some(cli::Command::Setup(args)) => cli::setup::setup(&args),
        Some(cli::Command::Bench(args)) => cli::bench::run(&args),
        Some(cli::Command::Open(args)) => cli::desk::open(&args),
        Some(cli::Command::Demo(args)) => cli::desk::demo(&args),
        Some(cli::Command::Label(args)) => cli::label::label(&args),
        Some(cli::Command::Export(args)) => cli::export::export(&args),
        Some(cli::Command::Embed(args)) => cli::training::embed(&args),
        Some(cli::Command::Index(args)) => cli::training::index(&args),
        Some(cli::Command::Eval(args)) => cli::eval::eval(&args),
        Some(cli::Command::Report(args)) => cli::report::report(&args),
        Some(cli::Command::Plan(args)) => cli::report::plan(&args),
        Some(cli::Command::Prompts(args)) => cli::prompts::prompts(&args),
        #[cfg(feature = "desk")]
        None => cli::desk::open_desk(
            replicant::app::StartMode::Resume,
            None,
            replicant::ranking::regions::RegionMode::Auto,
            replicant::ranking::cascade::Shortlist::default(),
        ),
        #[cfg(not(feature = "desk"))]
        None => cli::desk::no_desk(),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            let message = format!("{err:#}");
            eprintln!(
                "replicant: error: {}",
                replicant::fsutil::printable(&message)
            );
            ExitCode::from(1)
        }
    }
}
