use std::process::ExitCode;

use clap::Parser;
use switchyard::config::{Cli, Command};
use switchyard::{commands, telemetry};

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init_logging(cli.log_format);
    match &cli.command {
        Command::Serve(args) => commands::serve(args),
        Command::Check(args) => commands::check(args),
        Command::Bench(args) => switchyard::bench::run(args),
    }
}
