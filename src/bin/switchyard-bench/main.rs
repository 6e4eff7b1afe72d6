//! `switchyard-bench`: a perf_analyzer-like load generator speaking the v2
//! protocol over gRPC, a binary of its own (the server never imports it). Closed loop (`--concurrency`) or open loop (`--rate`,
//! latency from the intended send time), a warm-up that is not measured,
//! latency percentiles from per-worker HDR histograms, errors by gRPC code,
//! answers by model version, and its own CPU use so a saturated client is
//! not mistaken for a slow server.

mod args;
mod load;
mod report;
mod request;
mod stats;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use args::BenchArgs;
use clap::Parser;
use report::Report;

use load::Plan;
use request::Template;

/// Without `--timeout-ms`, how long requests may run past the window.
const DEFAULT_GRACE: Duration = Duration::from_secs(10);

/// Generate load against a v2 gRPC server and report throughput and latency (like perf_analyzer).
#[derive(Parser)]
#[command(name = "switchyard-bench", version, about)]
struct Cli {
    #[command(flatten)]
    bench: BenchArgs,
}

/// Runs the benchmark and prints its report on stdout. Exit 0 once the run
/// completed, whatever the requests answered (errors are in the report);
/// 1 when it could not start (bad options, no connection, no metadata).
fn main() -> ExitCode {
    let args = Cli::parse().bench;
    match measure(&args) {
        Ok(report) => {
            if args.json {
                println!("{}", report.to_json());
            } else {
                print!("{}", report.to_text());
            }
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("switchyard-bench: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Connects, builds the request, drives the load and gathers the figures.
fn measure(args: &BenchArgs) -> Result<Report, String> {
    let mode = args.mode()?;
    let (warmup, duration) = args.window()?;
    let threads = args.threads as usize;
    // A small runtime of its own, so the generator leaves cores to the server.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("bench-worker")
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the runtime: {error}"))?;
    runtime.block_on(async {
        let connections = args.connections as usize;
        let clients = load::connect(&args.url, connections).await?;
        let version = args.model_version.as_deref();
        let inputs = if args.inputs.is_empty() {
            let mut client = clients[0].clone();
            request::inputs_from_metadata(&mut client, &args.model, version, args.batch_size).await?
        } else {
            args.inputs.clone()
        };
        let template = Template::new(
            &args.model,
            version,
            &inputs,
            args.headers.clone(),
            args.timeout(),
        )?;
        let plan = Plan {
            mode,
            warmup,
            duration,
            // One worker task per thread or connection, whichever is more.
            workers: threads.max(connections),
            grace: args
                .timeout()
                .map_or(DEFAULT_GRACE, |t| t + Duration::from_secs(1)),
        };
        let outcome = load::drive(clients, Arc::new(template), &plan).await;
        Ok(Report::new(args, mode, &outcome))
    })
}

/// The name Prometheus and the report use for a gRPC code (`OK`, `UNAVAILABLE`, ...).
fn code_label(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::args::Mode;
    use super::*;

    fn parse(extra: &[&str]) -> Result<BenchArgs, clap::Error> {
        let argv = ["bench", "-m", "m"].iter().chain(extra);
        Cli::try_parse_from(argv).map(|cli| cli.bench)
    }

    #[test]
    fn defaults() {
        let args = parse(&[]).unwrap();
        assert_eq!(args.url, "http://127.0.0.1:8001");
        assert_eq!(args.mode().unwrap(), Mode::Closed { concurrency: 1 });
        assert_eq!(
            args.window().unwrap(),
            (Duration::from_secs(1), Duration::from_secs(10))
        );
        assert_eq!(
            (args.threads, args.connections, args.max_outstanding),
            (1, 1, 1024)
        );
    }

    #[test]
    fn modes_exclude_each_other_and_are_checked() {
        assert!(parse(&["--rate", "10", "--concurrency", "2"]).is_err());
        assert!(parse(&["--concurrency", "0"]).is_err());
        let open = parse(&["--rate", "250"]).unwrap();
        assert!(matches!(
            open.mode(),
            Ok(Mode::Open {
                max_outstanding: 1024,
                ..
            })
        ));
        assert!(parse(&["--rate", "0"]).unwrap().mode().is_err());
        assert!(parse(&["--duration", "0"]).unwrap().window().is_err());
    }

    #[test]
    fn unreachable_server_fails_fast() {
        let args = parse(&["--url", "http://127.0.0.1:1", "--duration", "1"]).unwrap();
        let error = measure(&args).unwrap_err();
        assert!(error.contains("cannot connect to http://127.0.0.1:1"), "{error}");
    }
}
