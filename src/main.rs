use std::process::ExitCode;

use clap::Parser;
use switchyard::commands::{self, Cli};
use switchyard::telemetry;

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init_logging(cli.log_format);
    commands::run(&cli)
}
