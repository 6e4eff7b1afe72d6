//! The subcommands as the binary runs them: the command line, exit codes and
//! start-up. Exit codes: 0 success, 1 failure, 2 ONNX Runtime library missing
//! or broken.

mod check;
mod cli;
mod serve;
mod shutdown;

use std::process::ExitCode;
use std::sync::Arc;

pub use check::check;
pub use cli::{
    ArgError, CheckArgs, Cli, Command, HttpAddr, HttpListen, RepositoryArgs, ServeArgs, ServeConfig, TlsFiles,
};

use crate::backend::ort::OnnxRuntime;
use crate::telemetry;

/// Exit code for a missing or unusable ONNX Runtime library.
pub const EXIT_NO_RUNTIME: u8 = 2;

/// Runs the command the binary was started with.
pub fn run(cli: &Cli) -> ExitCode {
    match &cli.command {
        Command::Serve(args) => serve(args),
        Command::Check(args) => check(args),
    }
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("switchyard: error: {message}");
    ExitCode::FAILURE
}

fn init_runtime(ort_lib: Option<&std::path::Path>) -> Result<Arc<OnnxRuntime>, ExitCode> {
    crate::backend::ort::init(ort_lib).map(Arc::new).map_err(|error| {
        eprintln!("switchyard: error: {error}");
        ExitCode::from(EXIT_NO_RUNTIME)
    })
}

fn tokio_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("switchyard-io")
        .build()
}

/// `switchyard serve`.
pub fn serve(args: &ServeArgs) -> ExitCode {
    let config = match args.resolve() {
        Ok(config) => config,
        Err(message) => return fail(message),
    };
    let runtime = match init_runtime(args.repository.ort_lib.as_deref()) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let metrics = match telemetry::install_metrics() {
        Ok(handle) => handle,
        Err(error) => return fail(format!("cannot set up metrics: {error}")),
    };
    let result = tokio_runtime()
        .map_err(anyhow::Error::from)
        .and_then(|rt| rt.block_on(serve::serve(config, runtime, metrics, shutdown::signal())));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(format!("{error:#}")),
    }
}
