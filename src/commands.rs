//! The subcommands as the binary runs them: exit codes and start-up errors.
//! Exit codes: 0 success, 1 failure, 2 ONNX Runtime library missing or broken.

use std::process::ExitCode;

use crate::config::{CheckArgs, ServeArgs};
use crate::onnx_runtime::{self, OnnxRuntime};
use crate::repository::{Loader, SETTLE_TIME};
use crate::{app, shutdown, telemetry};

/// Exit code for a missing or unusable ONNX Runtime library.
pub const EXIT_NO_RUNTIME: u8 = 2;

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("switchyard: error: {message}");
    ExitCode::FAILURE
}

fn init_runtime(ort_lib: Option<&std::path::Path>) -> Result<OnnxRuntime, ExitCode> {
    onnx_runtime::init(ort_lib).map_err(|error| {
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
        .and_then(|rt| rt.block_on(app::serve(config, runtime, metrics, shutdown::signal())));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(format!("{error:#}")),
    }
}

/// `switchyard check`: loads every model the way `serve` would and lists
/// every problem; exit 0 when the repository would serve without failures.
pub fn check(args: &CheckArgs) -> ExitCode {
    let runtime = match init_runtime(args.repository.ort_lib.as_deref()) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let repo = &args.repository.model_repo;
    if !repo.is_dir() {
        return fail(format!("model repository {} is not a directory", repo.display()));
    }
    let mut loader = Loader::new(runtime, repo.clone(), args.repository.routes_file());
    // Like `serve`, wait (boundedly) for files that are still being written.
    let settled_load = async {
        let give_up = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let outcome = loader.reload().await?;
            if !outcome.unsettled || std::time::Instant::now() >= give_up {
                return Ok::<_, std::io::Error>(outcome);
            }
            tokio::time::sleep(SETTLE_TIME).await;
        }
    };
    let outcome = match tokio_runtime().and_then(|rt| rt.block_on(settled_load)) {
        Ok(outcome) => outcome,
        Err(error) => return fail(format!("cannot scan {}: {error}", repo.display())),
    };

    let mut errors = Vec::new();
    let mut ready_versions = 0;
    println!("model repository {}", repo.display());
    for (name, state) in &outcome.snapshot.models {
        println!("model {name}");
        for (version, loaded) in &state.ready {
            ready_versions += 1;
            let describe = |specs: &[crate::model::TensorSpec]| {
                specs
                    .iter()
                    .map(|s| format!("{} {} {:?}", s.name, s.datatype, s.shape))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            println!(
                "  version {version}: ready; inputs: {}; outputs: {}",
                describe(&loaded.inputs),
                describe(&loaded.outputs)
            );
        }
        for (version, reason) in &state.unavailable {
            println!("  version {version}: FAILED: {reason}");
            errors.push(format!("model {name} version {version}: {reason}"));
        }
        if state.ready.is_empty() && state.unavailable.is_empty() {
            println!("  no versions");
        }
    }
    for route in outcome.snapshot.routes.values() {
        let targets: Vec<String> = route
            .targets
            .iter()
            .map(|t| format!("{} weight {}", t.label(), t.weight))
            .collect();
        println!("route {}: {}", route.name, targets.join(", "));
        if let Some(shadow) = &route.shadow {
            let label = shadow
                .version
                .map_or(shadow.model.clone(), |v| format!("{}/{v}", shadow.model));
            println!("  shadow {label} fraction {}", shadow.fraction);
        }
        let ready = route
            .targets
            .iter()
            .any(|t| t.weight > 0 && outcome.snapshot.target_version(t).is_some());
        if !ready {
            errors.push(format!("route {} has no ready target", route.name));
        }
    }
    if let Some(error) = &outcome.routes_error {
        errors.push(format!("routes file rejected: {error}"));
    }
    for problem in &outcome.problems {
        println!("warning: {problem}");
    }
    for error in &errors {
        println!("error: {error}");
    }
    println!(
        "{} models, {ready_versions} versions ready, {} errors, {} warnings",
        outcome.snapshot.models.len(),
        errors.len(),
        outcome.problems.len()
    );
    if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
