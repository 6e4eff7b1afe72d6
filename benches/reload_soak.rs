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

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
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

// ---------------------------------------------------------------------------
// The server under test
// ---------------------------------------------------------------------------

/// A running `switchyard serve` on ephemeral loopback ports.
struct Server {
    child: Child,
    grpc_addr: SocketAddr,
    /// The ONNX Runtime library it loaded, from its `listening` line.
    onnxruntime: String,
    logs: Arc<Mutex<VecDeque<String>>>,
}

/// What the `listening` log line tells: the gRPC address and the ONNX Runtime library.
type Listening = (SocketAddr, String);

impl Server {
    fn start(binary: &Path, repo: &Path) -> Result<Self> {
        let mut child = Command::new(binary)
            .args([
                "serve",
                "--grpc-addr",
                "127.0.0.1:0",
                "--metrics-addr",
                "127.0.0.1:0",
            ])
            .arg("--model-repo")
            .arg(repo)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("start {}", binary.display()))?;
        let stderr = child.stderr.take().context("stderr not piped")?;
        let logs = Arc::new(Mutex::new(VecDeque::new()));
        let (found_tx, found) = mpsc::channel();
        let sink = logs.clone();
        // The pipe must be drained for the whole run or the server blocks on logging.
        std::thread::spawn(move || read_logs(stderr, &sink, found_tx));
        match found.recv_timeout(Duration::from_secs(30)) {
            Ok((grpc_addr, onnxruntime)) => Ok(Self {
                child,
                grpc_addr,
                onnxruntime,
                logs,
            }),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(anyhow!("server never logged `listening`").context(tail(&logs)))
            }
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    async fn connect(&self) -> Result<Client> {
        let channel = Channel::from_shared(format!("http://{}", self.grpc_addr))?
            .connect()
            .await
            .context("connect")?;
        Ok(GrpcInferenceServiceClient::new(channel))
    }

    async fn wait_ready(&self) -> Result<Client> {
        let mut client = self.connect().await?;
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(response) = client.server_ready(ServerReadyRequest {}).await
                && response.into_inner().ready
            {
                return Ok(client);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(anyhow!("server not ready after 60 s").context(self.log_tail()))
    }

    fn log_tail(&self) -> String {
        tail(&self.logs)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Keeps the last [`LOG_TAIL`] lines for error messages and reports the
/// `listening` line once it is logged.
fn read_logs(stderr: impl std::io::Read, sink: &Mutex<VecDeque<String>>, found: mpsc::Sender<Listening>) {
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        if let Some(listening) = parse_listening(&line) {
            let _ = found.send(listening);
        }
        let mut logs = lock(sink);
        logs.push_back(line);
        if logs.len() > LOG_TAIL {
            logs.pop_front();
        }
    }
}

fn parse_listening(line: &str) -> Option<Listening> {
    let event = serde_json::from_str::<serde_json::Value>(line).ok()?;
    if event["message"] != "listening" {
        return None;
    }
    let grpc_addr = event["grpc_addr"].as_str()?.parse().ok()?;
    // Only the file name: the report is committed, machine paths are not.
    let onnxruntime = event["onnxruntime"].as_str().unwrap_or_default();
    let onnxruntime = onnxruntime.rsplit('/').next().unwrap_or_default().to_string();
    Some((grpc_addr, onnxruntime))
}

fn tail(logs: &Mutex<VecDeque<String>>) -> String {
    let lines: Vec<String> = lock(logs).iter().cloned().collect();
    format!("last server log lines:\n{}", lines.join("\n"))
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Both models' answers to the benchmark's input, so that every answer
/// during the soak can be attributed: A from the served model, B from the
/// probe copy, which is then removed.
async fn learn_answers(server: &Server, repo: &Path) -> Result<[Vec<f32>; 2]> {
    let mut client = server.wait_ready().await?;
    let outputs = [
        infer_once(&mut client, infer_request(MODEL)).await?,
        infer_once(&mut client, infer_request(PROBE)).await?,
    ];
    ensure!(
        !close(&outputs[0], &outputs[1]),
        "the two models answer the same; generate them with different seeds"
    );
    std::fs::remove_dir_all(repo.join(PROBE)).context("remove the probe model")?;
    wait_for_unload(&mut client).await?;
    Ok(outputs)
}

/// Once the probe is gone the server holds what a single served model needs.
async fn wait_for_unload(client: &mut Client) -> Result<()> {
    let deadline = Instant::now() + SWAP_TIMEOUT;
    while client.model_infer(infer_request(PROBE)).await.is_ok() {
        ensure!(Instant::now() < deadline, "the probe model was never unloaded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// Memory and threads of a process, from /proc/<pid>/status.
#[derive(Clone, Copy, Default)]
struct ProcessStatus {
    vm_rss_kib: u64,
    rss_anon_kib: u64,
    /// Peak RSS so far: shows the moments when two versions are loaded at once.
    peak_kib: u64,
    threads: u64,
}

fn process_status(pid: u32) -> Result<ProcessStatus> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).context("read /proc status")?;
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|value| value.parse().ok())
            .with_context(|| format!("no {name} in /proc/{pid}/status"))
    };
    Ok(ProcessStatus {
        vm_rss_kib: field("VmRSS:")?,
        rss_anon_kib: field("RssAnon:")?,
        peak_kib: field("VmHWM:")?,
        threads: field("Threads:")?,
    })
}

// ---------------------------------------------------------------------------
// Requests and the load
// ---------------------------------------------------------------------------

/// A batch-1 request with a fixed, non-trivial input.
fn infer_request(model: &str) -> ModelInferRequest {
    let x: Vec<u8> = (0..INPUT_WIDTH)
        .flat_map(|i| (i as f32 * 0.37).sin().to_le_bytes())
        .collect();
    ModelInferRequest {
        model_name: model.into(),
        inputs: vec![InferInputTensor {
            name: "x".into(),
            datatype: "FP32".into(),
            shape: vec![1, INPUT_WIDTH as i64],
            ..Default::default()
        }],
        raw_input_contents: vec![x.into()],
        ..Default::default()
    }
}

async fn infer_once(client: &mut Client, request: ModelInferRequest) -> Result<Vec<f32>> {
    let response = client.model_infer(request).await?.into_inner();
    output_values(&response.raw_output_contents)
}

fn output_values(raw: &[bytes::Bytes]) -> Result<Vec<f32>> {
    let first = raw.first().context("no output in the answer")?;
    Ok(first
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// Equal up to float noise: the same model file may be run by another session.
fn close(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= 1e-4 * (1.0 + y.abs()))
}

/// One request as a client saw it.
struct Sample {
    start: Instant,
    latency: Duration,
    /// Which model answered (0 = A, 1 = B), or why the request failed.
    outcome: Result<usize, String>,
}

impl Sample {
    fn end(&self) -> Instant {
        self.start + self.latency
    }
}

/// State the clients share with the swap driver.
struct Shared {
    epoch: Instant,
    stop: AtomicBool,
    /// Per variant: the latest request start (µs after `epoch`) that it answered.
    answered_at: [AtomicU64; 2],
}

impl Shared {
    fn micros_since_epoch(&self, at: Instant) -> u64 {
        u64::try_from(at.duration_since(self.epoch).as_micros()).unwrap_or(u64::MAX)
    }
}

/// [`CLIENTS`] tasks sending requests back to back until stopped.
struct Clients {
    shared: Arc<Shared>,
    tasks: Vec<tokio::task::JoinHandle<Vec<Sample>>>,
}

impl Clients {
    async fn start(server: &Server, request: ModelInferRequest, outputs: [Vec<f32>; 2]) -> Result<Self> {
        let shared = Arc::new(Shared {
            epoch: Instant::now(),
            stop: AtomicBool::new(false),
            answered_at: [AtomicU64::new(0), AtomicU64::new(0)],
        });
        let outputs = Arc::new(outputs);
        let mut tasks = Vec::new();
        for _ in 0..CLIENTS {
            let client = server.connect().await?;
            tasks.push(tokio::spawn(client_loop(
                client,
                request.clone(),
                outputs.clone(),
                shared.clone(),
            )));
        }
        Ok(Self { shared, tasks })
    }

    async fn stop(self) -> Result<Vec<Sample>> {
        self.shared.stop.store(true, Ordering::Relaxed);
        let mut samples = Vec::new();
        for task in self.tasks {
            samples.extend(task.await?);
        }
        samples.sort_by_key(|s| s.start);
        Ok(samples)
    }
}

async fn client_loop(
    mut client: Client,
    request: ModelInferRequest,
    outputs: Arc<[Vec<f32>; 2]>,
    shared: Arc<Shared>,
) -> Vec<Sample> {
    let mut samples = Vec::new();
    while !shared.stop.load(Ordering::Relaxed) {
        let start = Instant::now();
        let answer = tokio::time::timeout(REQUEST_TIMEOUT, client.model_infer(request.clone())).await;
        let latency = start.elapsed();
        let outcome = classify(answer, &outputs);
        if let Ok(variant) = outcome {
            shared.answered_at[variant].fetch_max(shared.micros_since_epoch(start), Ordering::Relaxed);
        }
        samples.push(Sample {
            start,
            latency,
            outcome,
        });
    }
    samples
}

type Answer = Result<
    Result<tonic::Response<switchyard::proto::inference::ModelInferResponse>, tonic::Status>,
    tokio::time::error::Elapsed,
>;

/// Which variant answered, or why the answer is a failure.
fn classify(answer: Answer, outputs: &[Vec<f32>; 2]) -> Result<usize, String> {
    let response = match answer {
        Err(_) => return Err(format!("no answer within {REQUEST_TIMEOUT:?}")),
        Ok(Err(status)) => return Err(format!("{:?}: {}", status.code(), status.message())),
        Ok(Ok(response)) => response.into_inner(),
    };
    let y = output_values(&response.raw_output_contents).map_err(|e| e.to_string())?;
    outputs
        .iter()
        .position(|expected| close(&y, expected))
        .ok_or_else(|| format!("answer matches neither model: {y:?}"))
}

// ---------------------------------------------------------------------------
// The swap cycles
// ---------------------------------------------------------------------------

/// One reload cycle as the driver saw it.
struct Cycle {
    /// The staged file started to be written: the swap's own work begins.
    started: Instant,
    renamed: Instant,
    /// A request sent after the rename was answered by the new model.
    visible: Instant,
    /// The server at the end of the cycle, just before the next one starts.
    status: ProcessStatus,
}

impl Cycle {
    /// Requests in flight at any time inside this window count as "during swap".
    fn swap_window(&self) -> (Instant, Instant) {
        (self.started, self.visible + SWAP_TAIL)
    }
}

/// When things happened, to attribute each request afterwards.
struct Timeline {
    first_window: (Instant, Instant),
    last_window: (Instant, Instant),
    cycles: Vec<Cycle>,
    before: ProcessStatus,
    after: ProcessStatus,
}

async fn run_cycles(
    settings: &Settings,
    server: &Server,
    clients: &Clients,
    repo: &Path,
    models: [Vec<u8>; 2],
) -> Result<Timeline> {
    let models = Arc::new(models);
    let target = repo.join(MODEL).join("1").join("model.onnx");
    let first_window = steady_window(settings.steady).await;
    let before = process_status(server.pid())?;
    let mut cycles = Vec::new();
    for number in 1..=settings.cycles {
        let variant = usize::try_from(number % 2)?;
        let (started, renamed, visible) = swap(&clients.shared, &target, &models, variant).await?;
        // The tail belongs to the swap; the gap after it is steady state, so
        // steady and swap samples are spread over the same minutes and any
        // other work on the machine weighs on both alike.
        tokio::time::sleep(SWAP_TAIL + STEADY_GAP).await;
        let status = process_status(server.pid())?;
        if number % 10 == 0 {
            eprintln!("cycle {number}: new model answered after {:?}", visible - renamed);
        }
        cycles.push(Cycle {
            started,
            renamed,
            visible,
            status,
        });
    }
    let last_window = steady_window(settings.steady).await;
    let after = process_status(server.pid())?;
    Ok(Timeline {
        first_window,
        last_window,
        cycles,
        before,
        after,
    })
}

async fn steady_window(length: Duration) -> (Instant, Instant) {
    let start = Instant::now();
    tokio::time::sleep(length).await;
    (start, Instant::now())
}

/// Swaps the served file to `variant`; returns when the write started, when
/// the rename happened, and when a request sent after it was answered by the
/// new model.
async fn swap(
    shared: &Shared,
    target: &Path,
    models: &Arc<[Vec<u8>; 2]>,
    variant: usize,
) -> Result<(Instant, Instant, Instant)> {
    let (path, files) = (target.to_path_buf(), models.clone());
    let started = Instant::now();
    // Off the async workers: a 40 MB write would stall the clients sharing them.
    let renamed = tokio::task::spawn_blocking(move || {
        replace_atomically(&path, &files[variant]).map(|()| Instant::now())
    })
    .await?
    .context("replace the model file")?;
    let after = shared.micros_since_epoch(renamed);
    while shared.answered_at[variant].load(Ordering::Relaxed) <= after {
        if renamed.elapsed() > SWAP_TIMEOUT {
            bail!("the new model never answered within {SWAP_TIMEOUT:?} of the rename");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok((started, renamed, Instant::now()))
}

// ---------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------

struct Results {
    total: usize,
    failures: Vec<String>,
    /// Every request from the first steady window to the last one that
    /// overlapped no swap window.
    steady: Latencies,
    swap: Latencies,
    first_window: Latencies,
    last_window: Latencies,
    visible: Latencies,
    before: ProcessStatus,
    /// The server at the end of each cycle, in order.
    cycles: Vec<ProcessStatus>,
    after: ProcessStatus,
    wall: Duration,
    /// At start and at end: other work on the machine skews the latencies.
    load_average: [String; 2],
}

/// Sorted latencies of one class of requests.
struct Latencies(Vec<Duration>);

impl Latencies {
    fn new(mut values: Vec<Duration>) -> Self {
        values.sort();
        Self(values)
    }

    /// Nearest-rank percentile, in milliseconds.
    fn percentile_ms(&self, p: f64) -> f64 {
        let rank = ((p / 100.0) * self.0.len() as f64).ceil() as usize;
        self.0
            .get(rank.saturating_sub(1))
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
    }
}

impl Results {
    fn new(samples: &[Sample], timeline: &Timeline, wall: Duration) -> Self {
        let latencies = |keep: &dyn Fn(&Sample) -> bool| {
            Latencies::new(samples.iter().filter(|s| keep(s)).map(|s| s.latency).collect())
        };
        let inside = |(from, to): (Instant, Instant)| move |s: &Sample| s.start >= from && s.end() <= to;
        let windows: Vec<_> = timeline.cycles.iter().map(Cycle::swap_window).collect();
        let measured = inside((timeline.first_window.0, timeline.last_window.1));
        Self {
            total: samples.len(),
            failures: samples.iter().filter_map(|s| s.outcome.clone().err()).collect(),
            steady: latencies(&|s| measured(s) && !overlaps_any(s, &windows)),
            swap: latencies(&|s| overlaps_any(s, &windows)),
            first_window: latencies(&inside(timeline.first_window)),
            last_window: latencies(&inside(timeline.last_window)),
            visible: Latencies::new(timeline.cycles.iter().map(|c| c.visible - c.renamed).collect()),
            before: timeline.before,
            cycles: timeline.cycles.iter().map(|c| c.status).collect(),
            after: timeline.after,
            wall,
            load_average: Default::default(),
        }
    }

    fn p99_ratio(&self) -> f64 {
        self.swap.percentile_ms(99.0) / self.steady.percentile_ms(99.0)
    }

    /// RSS after the last cycle over RSS after the first, as the target is stated.
    fn rss_ratio(&self) -> f64 {
        let (Some(first), Some(last)) = (self.cycles.first(), self.cycles.last()) else {
            return f64::NAN;
        };
        last.vm_rss_kib as f64 / first.vm_rss_kib as f64
    }

    /// Median RSS of the last ten cycles over that of the first ten: the
    /// trend, without the few-MiB steps single readings take.
    fn rss_trend(&self) -> f64 {
        let span = self.cycles.len().min(10);
        let median = |cycles: &[ProcessStatus]| {
            let mut rss: Vec<u64> = cycles.iter().map(|c| c.vm_rss_kib).collect();
            rss.sort_unstable();
            rss.get(rss.len() / 2).map_or(f64::NAN, |&kib| kib as f64)
        };
        median(&self.cycles[self.cycles.len() - span..]) / median(&self.cycles[..span])
    }
}

/// Whether the request was in flight at any time inside one of the windows
/// (sorted and disjoint).
fn overlaps_any(sample: &Sample, windows: &[(Instant, Instant)]) -> bool {
    let first_ending_after = windows.partition_point(|(_, end)| *end < sample.start);
    windows
        .get(first_ending_after)
        .is_some_and(|(start, _)| *start <= sample.end())
}

// ---------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------

fn report(settings: &Settings, results: &Results, onnxruntime: &str) -> String {
    let mut out = String::from("# Hot-reload soak benchmark\n\n");
    out += "Generated by `benches/reload_soak.rs`; rerun with\n\n```sh\nscripts/soak-reload.sh\n```\n\n";
    out += &setup_section(settings, results, onnxruntime);
    out += &summary_table(results);
    out += &rss_table(results);
    out += &failure_section(results);
    out
}

fn setup_section(settings: &Settings, results: &Results, onnxruntime: &str) -> String {
    let model_mib = std::fs::metadata(&settings.model_a).map_or(0.0, |m| m.len() as f64 / 1048576.0);
    let arena = std::env::var("MALLOC_ARENA_MAX").unwrap_or_else(|_| "unset".into());
    format!(
        "Machine: {}. ONNX Runtime: `{onnxruntime}`. Server and clients share the machine.\n\n\
         Setup: one model ({model_mib:.1} MiB MLP from `scripts/make_models.py --big-model`) served \
         with the default config (1 session, 1 intra-op thread); {CLIENTS} concurrent gRPC clients \
         send batch-1 requests back to back. {} reload cycles: each writes the other model file as \
         a dot-file beside `m/1/model.onnx`, renames it over, waits until the new model answers, \
         then {} ms more (still the swap), then {} ms of steady state. A request is *during swap* \
         when it was in flight between the start of a write and {} ms after the new model first \
         answered; *steady* otherwise, from the {} s window before the first cycle to the {} s \
         window after the last. RSS is read from `/proc/<pid>/status` at the end of each cycle. \
         Run label: {}; `MALLOC_ARENA_MAX`: {arena}. Load average (1, 5, 15 min) {} at start, \
         {} at end.\n\n",
        machine(),
        settings.cycles,
        SWAP_TAIL.as_millis(),
        STEADY_GAP.as_millis(),
        SWAP_TAIL.as_millis(),
        settings.steady.as_secs(),
        settings.steady.as_secs(),
        settings.label.as_deref().unwrap_or("default build"),
        results.load_average[0],
        results.load_average[1],
    )
}

fn summary_table(results: &Results) -> String {
    let mut out = String::from("| measure | value | note |\n| --- | --- | --- |\n");
    for (measure, value, note) in latency_rows(results).into_iter().chain(memory_rows(results)) {
        out += &format!("| {measure} | {value} | {note} |\n");
    }
    out + "\n"
}

type Row = (String, String, String);

fn latency_rows(results: &Results) -> Vec<Row> {
    let p50_p99 = |l: &Latencies| {
        format!(
            "{:.2} ms / {:.2} ms",
            l.percentile_ms(50.0),
            l.percentile_ms(99.0)
        )
    };
    let requests = |l: &Latencies| format!("{} requests", l.0.len());
    let failed = results.failures.len();
    vec![
        row("requests", results.total, ""),
        row(
            "failed requests",
            failed,
            &format!("target 0: {}", verdict(failed == 0)),
        ),
        row(
            "steady p50 / p99",
            p50_p99(&results.steady),
            &requests(&results.steady),
        ),
        row(
            "during swap p50 / p99",
            p50_p99(&results.swap),
            &requests(&results.swap),
        ),
        row(
            "p99 during swap / steady",
            format!("{:.2}×", results.p99_ratio()),
            &format!("target ≤ 1.5×: {}", verdict(results.p99_ratio() <= 1.5)),
        ),
        row(
            "first / last steady window p99",
            format!(
                "{:.2} ms / {:.2} ms",
                results.first_window.percentile_ms(99.0),
                results.last_window.percentile_ms(99.0)
            ),
            "before the first cycle / after the last",
        ),
        row(
            "new model answers after, p50 / max",
            format!(
                "{:.0} ms / {:.0} ms",
                results.visible.percentile_ms(50.0),
                results.visible.percentile_ms(100.0)
            ),
            "rename → first answer: event debounce, 500 ms settle time, load",
        ),
    ]
}

fn memory_rows(results: &Results) -> Vec<Row> {
    let first = results.cycles.first().copied().unwrap_or_default();
    let last = results.cycles.last().copied().unwrap_or_default();
    let rss_ratio = results.rss_ratio();
    vec![
        row(
            &format!("RSS after cycle 1 / {}", results.cycles.len()),
            format!("{} / {}", mib(first.vm_rss_kib), mib(last.vm_rss_kib)),
            "",
        ),
        row(
            &format!("RSS cycle {} / cycle 1", results.cycles.len()),
            format!("{rss_ratio:.3}×"),
            &format!("target ≤ 1.1×: {}", verdict(rss_ratio <= 1.1)),
        ),
        row(
            &format!("RSS over cycles 1–{}: min / median / max", results.cycles.len()),
            rss_spread(&results.cycles),
            "read at the end of every cycle",
        ),
        row(
            "median RSS, last 10 cycles / first 10",
            format!("{:.3}×", results.rss_trend()),
            "the trend, without the steps of single readings",
        ),
        row(
            "peak RSS (VmHWM)",
            mib(results.after.peak_kib),
            "two versions loaded at once during a swap",
        ),
        row("wall time", format!("{:.0} s", results.wall.as_secs_f64()), ""),
    ]
}

fn rss_spread(cycles: &[ProcessStatus]) -> String {
    let mut rss: Vec<u64> = cycles.iter().map(|c| c.vm_rss_kib).collect();
    rss.sort_unstable();
    let at = |i: usize| rss.get(i).map_or_else(|| "-".into(), |&kib| mib(kib));
    format!(
        "{} / {} / {}",
        at(0),
        at(rss.len() / 2),
        at(rss.len().saturating_sub(1))
    )
}

fn row(measure: &str, value: impl ToString, note: &str) -> Row {
    (measure.to_string(), value.to_string(), note.to_string())
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**missed**" }
}

fn rss_table(results: &Results) -> String {
    let mut out = String::from("| when | VmRSS | RssAnon | threads |\n| --- | --- | --- | --- |\n");
    let last = results.cycles.len();
    let readings = std::iter::once(("before cycle 1".to_string(), &results.before))
        .chain(results.cycles.iter().enumerate().filter_map(|(i, status)| {
            let cycle = i + 1;
            (cycle == 1 || cycle % 10 == 0 || cycle == last).then(|| (format!("after cycle {cycle}"), status))
        }))
        .chain(std::iter::once((
            "after the last steady window".to_string(),
            &results.after,
        )));
    for (when, status) in readings {
        out += &format!(
            "| {when} | {} | {} | {} |\n",
            mib(status.vm_rss_kib),
            mib(status.rss_anon_kib),
            status.threads
        );
    }
    out + "\n"
}

fn failure_section(results: &Results) -> String {
    if results.failures.is_empty() {
        return String::new();
    }
    let mut out = format!("Failed requests ({}), first 20:\n\n", results.failures.len());
    for failure in results.failures.iter().take(20) {
        out += &format!("- {failure}\n");
    }
    out + "\n"
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// `nproc`, CPU model and memory, as a one-line description.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = proc_field(&cpuinfo, "model name").unwrap_or_else(|| "unknown CPU".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = proc_field(&meminfo, "MemTotal")
        .and_then(|v| v.trim_end_matches(" kB").parse::<u64>().ok())
        .map_or_else(
            || "unknown".into(),
            |kib| format!("{:.1} GiB", kib as f64 / 1048576.0),
        );
    format!("{cores} cores (`nproc`), {cpu}, {memory} RAM")
}

/// The 1, 5 and 15 minute load averages from /proc/loadavg.
fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

fn proc_field(text: &str, name: &str) -> Option<String> {
    text.lines()
        .find(|line| line.starts_with(name))
        .and_then(|line| line.split_once(':'))
        .map(|(_, value)| value.trim().to_string())
}

/// Writes the report, keeping the hand-written notes of an existing file.
fn write_report(path: &Path, report: &str) -> Result<()> {
    let notes = std::fs::read_to_string(path)
        .ok()
        .and_then(|old| old.find(NOTES_MARKER).map(|at| old[at..].to_string()))
        .unwrap_or_else(|| format!("{NOTES_MARKER}\n"));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, format!("{report}{notes}")).with_context(|| format!("write {}", path.display()))
}
