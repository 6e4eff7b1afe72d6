//! Hot-reload soak benchmark: a command, not a test.
//!
//! Serves a ~40 MB model under steady load from concurrent clients and swaps
//! its file 100 times, then reports failed requests, p99 latency during swaps
//! against steady state, and the server's RSS across the cycles. Run it with
//! `scripts/soak-reload.sh`, which builds the two model files and then calls
//!
//! ```sh
//! SOAK_MODEL_A=a.onnx SOAK_MODEL_B=b.onnx cargo bench --bench reload_soak
//! ```
//!
//! Environment: `SOAK_MODEL_A`, `SOAK_MODEL_B` (required: two models with input
//! `x` FP32 [-1, 256] whose outputs differ), `SWITCHYARD_BIN` (default: the
//! release binary cargo built), `SOAK_CYCLES` (100), `SOAK_STEADY_SECS` (10: the
//! steady windows before the first cycle and after the last),
//! `SOAK_REPORT` (default `docs/SOAK.md`), `SOAK_LABEL` (free text naming the
//! run, e.g. the allocator). The server inherits the environment, so
//! `MALLOC_ARENA_MAX=2` and similar reach it.

mod cycles;
mod load;
mod report;
mod results;
mod server;

use cycles::*;
use load::*;
use report::*;
use results::*;
use server::*;

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitCode};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use switchyard::proto::inference::grpc_inference_service_client::GrpcInferenceServiceClient;
use switchyard::proto::inference::model_infer_request::InferInputTensor;
use switchyard::proto::inference::{ModelInferRequest, ServerReadyRequest};
use tonic::transport::Channel;

type Client = GrpcInferenceServiceClient<Channel>;

/// Concurrent clients, each on its own connection, sending batch-1 requests.
const CLIENTS: usize = 4;
const INPUT_WIDTH: usize = 256;
/// The served model, and a second one used once to learn variant B's answer.
const MODEL: &str = "m";
const PROBE: &str = "probe";
/// Requests that answered within this long after a swap became visible still
/// count as "during swap": the old version drains and is freed meanwhile.
const SWAP_TAIL: Duration = Duration::from_millis(200);
/// Steady state between two cycles, after a swap's tail.
const STEADY_GAP: Duration = Duration::from_millis(500);
/// A swap that is not visible after this long is a failure of the benchmark.
const SWAP_TIMEOUT: Duration = Duration::from_secs(30);
/// A single request slower than this counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Lines of server log kept for error messages.
const LOG_TAIL: usize = 200;
/// Everything from this line on in the report file is hand-written and kept.
const NOTES_MARKER: &str =
    "<!-- notes: everything below this line is kept when the benchmark rewrites the file -->";

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and a
    // soak of several minutes has no place in a test run.
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("reload_soak: run it with `cargo bench --bench reload_soak` (see scripts/soak-reload.sh)");
        return ExitCode::SUCCESS;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build();
    let outcome = match runtime {
        Ok(runtime) => runtime.block_on(soak()),
        Err(error) => Err(error.into()),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("reload_soak: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the whole soak; `Ok(false)` when requests failed.
async fn soak() -> Result<bool> {
    let settings = Settings::from_env()?;
    let started = Instant::now();
    let load_at_start = load_average();
    let repo = tempfile::tempdir().context("temp dir")?;
    let models = [read_model(&settings.model_a)?, read_model(&settings.model_b)?];
    write_model(&repo.path().join(MODEL).join("1"), &models[0])?;
    write_model(&repo.path().join(PROBE).join("1"), &models[1])?;

    let server = Server::start(&settings.binary, repo.path())?;
    let outputs = learn_answers(&server, repo.path()).await?;

    let clients = Clients::start(&server, infer_request(MODEL), outputs).await?;
    let timeline = run_cycles(&settings, &server, &clients, repo.path(), models).await;
    let samples = clients.stop().await?;
    let timeline = timeline.map_err(|e| e.context(server.log_tail()))?;
    let mut results = Results::new(&samples, &timeline, started.elapsed());
    results.load_average = [load_at_start, load_average()];
    let report = report(&settings, &results, &server.onnxruntime);
    println!("\n{report}");
    write_report(&settings.report, &report)?;
    println!("written to {}", settings.report.display());
    Ok(results.failures.is_empty())
}

/// What the environment asked for.
struct Settings {
    model_a: PathBuf,
    model_b: PathBuf,
    binary: PathBuf,
    cycles: u32,
    steady: Duration,
    report: PathBuf,
    label: Option<String>,
}

impl Settings {
    fn from_env() -> Result<Self> {
        let required = |name: &str| {
            std::env::var_os(name)
                .map(PathBuf::from)
                .ok_or_else(|| anyhow!("{name} is not set; run scripts/soak-reload.sh"))
        };
        let optional = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let number = |name: &str, default: u64| -> Result<u64> {
            optional(name).map_or(Ok(default), |v| v.parse().with_context(|| format!("{name}={v}")))
        };
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        Ok(Self {
            model_a: required("SOAK_MODEL_A")?,
            model_b: required("SOAK_MODEL_B")?,
            binary: optional("SWITCHYARD_BIN")
                .map_or_else(|| env!("CARGO_BIN_EXE_switchyard").into(), PathBuf::from),
            cycles: u32::try_from(number("SOAK_CYCLES", 100)?)?.max(1),
            steady: Duration::from_secs(number("SOAK_STEADY_SECS", 10)?.max(1)),
            report: optional("SOAK_REPORT").map_or_else(|| manifest.join("docs/SOAK.md"), PathBuf::from),
            label: optional("SOAK_LABEL"),
        })
    }
}

fn read_model(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("read model {}", path.display()))
}

fn write_model(version_dir: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::create_dir_all(version_dir)?;
    std::fs::write(version_dir.join("model.onnx"), bytes)
        .with_context(|| format!("write {}", version_dir.display()))
}

/// Replaces the served file the recommended way: write a dot-file beside it
/// (ignored by the server), then rename it over the old one.
fn replace_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let staged = path.with_file_name(".model.onnx.staged");
    std::fs::write(&staged, bytes)?;
    std::fs::rename(&staged, path)
}
