//! `sieve`: parse, set up logging, hand over to the library, report failures.

use std::process::ExitCode;

use clap::Parser;
use sieve_cli::{Cli, run};
use sieve_kernel::Settings;

// glibc malloc took a fifth of a server's time on the read path; mimalloc does not
// (BENCHMARKS.md, read path run 9). The read-path bench uses the same allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut telemetry = settings.telemetry.clone();
    if !cli.command.runs_services() {
        // Client commands print results; only warnings belong between them.
        telemetry.filter = "warn".to_owned();
    }
    sieve_kernel::telemetry::init(&telemetry);
    match run(cli, settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
