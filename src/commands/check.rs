//! `switchyard check`: loads every model the way `serve` would and lists
//! every problem; exit 0 when the repository would serve without failures.
//! It also lists the execution providers the ONNX Runtime library offers,
//! which file configures each model, and the `config.pbtxt` fields that are
//! set but not honoured (as warnings).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use super::cli::CheckArgs;
use super::{fail, init_runtime, tokio_runtime};
use crate::config::{ConfigSource, RoutesError};
use crate::repository::{Loader, ModelState, ReloadOutcome, SETTLE_TIME, Snapshot};
use crate::routing::Route;
use crate::tensor::TensorSpec;

/// Longest `check` waits for files that are still being written, like `serve`.
const SETTLE_LIMIT: Duration = Duration::from_secs(10);

pub fn check(args: &CheckArgs) -> ExitCode {
    let runtime = match init_runtime(args.repository.ort_lib.as_deref()) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let repo = &args.repository.model_repo;
    if !repo.is_dir() {
        return fail(format!("model repository {} is not a directory", repo.display()));
    }
    let mut loader = Loader::new(runtime.clone(), repo.clone(), args.repository.routes_file());
    let settled_load = async {
        let give_up = Instant::now() + SETTLE_LIMIT;
        loop {
            let outcome = loader.reload().await?;
            if !outcome.unsettled || Instant::now() >= give_up {
                return Ok::<_, std::io::Error>(outcome);
            }
            tokio::time::sleep(SETTLE_TIME).await;
        }
    };
    let outcome = match tokio_runtime().and_then(|rt| rt.block_on(settled_load)) {
        Ok(outcome) => outcome,
        Err(error) => return fail(format!("cannot scan {}: {error}", repo.display())),
    };
    println!("model repository {}", repo.display());
    println!(
        "onnx runtime {}: execution providers {}",
        runtime.library.display(),
        runtime.providers.join(", ")
    );
    let report = Report::of(&outcome);
    report.print(&outcome);
    if report.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// What `check` found, as lines to print.
struct Report {
    errors: Vec<String>,
    /// Settings that are not applied, printed with their model and counted
    /// with the scan's layout problems.
    ignored: usize,
    ready_versions: usize,
}

impl Report {
    fn of(outcome: &ReloadOutcome) -> Self {
        let mut report = Self {
            errors: Vec::new(),
            ignored: 0,
            ready_versions: 0,
        };
        for (name, state) in &outcome.snapshot.models {
            report.model(name, state);
        }
        for route in outcome.snapshot.routes.values() {
            report.route(route, &outcome.snapshot);
        }
        match &outcome.routes_error {
            // One line per problem, so a long file's problems stay readable.
            Some(RoutesError::Invalid(problems)) => {
                let lines = problems.iter().map(|p| format!("routes file rejected: {p}"));
                report.errors.extend(lines);
            }
            Some(error) => report.errors.push(format!("routes file rejected: {error}")),
            None => {}
        }
        report
    }

    fn model(&mut self, name: &str, state: &ModelState) {
        println!("model {name}");
        // A model whose config is invalid has no settings in force to describe.
        if !state.ready.is_empty() || state.config.source.file.is_some() {
            self.config_source(&state.config.source);
        }
        for (version, loaded) in &state.ready {
            self.ready_versions += 1;
            let providers: Vec<&str> = loaded
                .settings
                .session
                .execution_providers
                .iter()
                .map(|p| p.kind.name())
                .collect();
            println!(
                "  version {version}: ready; providers: {}; inputs: {}; outputs: {}",
                providers.join(", "),
                describe(&loaded.inputs),
                describe(&loaded.outputs)
            );
        }
        for (version, reason) in &state.unavailable {
            println!("  version {version}: FAILED: {reason}");
            self.errors
                .push(format!("model {name} version {version}: {reason}"));
        }
        if state.ready.is_empty() && state.unavailable.is_empty() {
            println!("  no versions");
        }
    }

    /// Which file configures the model, and what of it is not applied.
    fn config_source(&mut self, source: &ConfigSource) {
        match &source.file {
            Some(file) => println!("  config: {}", file.display()),
            None => println!("  config: none (defaults)"),
        }
        if let Some(shadowed) = &source.shadowed {
            println!("  warning: config.yaml wins; {} is not read", shadowed.display());
            self.ignored += 1;
        }
        for field in &source.ignored {
            println!("  warning: ignored config.pbtxt field {field} (not honoured)");
            self.ignored += 1;
        }
    }

    fn route(&mut self, route: &Route, snapshot: &Snapshot) {
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
            .any(|t| t.weight > 0 && snapshot.target_version(t).is_some());
        if !ready {
            self.errors
                .push(format!("route {} has no ready target", route.name));
        }
    }

    fn print(&self, outcome: &ReloadOutcome) {
        for problem in &outcome.problems {
            println!("warning: {problem}");
        }
        for error in &self.errors {
            println!("error: {error}");
        }
        println!(
            "{} models, {} versions ready, {} errors, {} warnings",
            outcome.snapshot.models.len(),
            self.ready_versions,
            self.errors.len(),
            outcome.problems.len() + self.ignored
        );
    }
}

fn describe(specs: &[TensorSpec]) -> String {
    specs
        .iter()
        .map(|s| format!("{} {} {:?}", s.name, s.datatype, s.shape))
        .collect::<Vec<_>>()
        .join(", ")
}
