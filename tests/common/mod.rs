//! Test helpers: start the real `switchyard` binary on ephemeral loopback
//! ports, learn its addresses from its "listening" log line, wait on its
//! readiness, talk gRPC to it, read its metrics, and stop it with a signal.

#![allow(dead_code)]

mod metrics_text;
mod serve_command;

pub use metrics_text::Exposition;
pub use serve_command::serve_command;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchyard::proto::inference::grpc_inference_service_client::GrpcInferenceServiceClient;
use switchyard::proto::inference::model_infer_request::InferInputTensor;
use switchyard::proto::inference::{ModelInferRequest, ServerReadyRequest};
use tonic::transport::Channel;

pub type Client = GrpcInferenceServiceClient<Channel>;

/// Directory of the committed fixture models.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/models")
}

/// A temporary model repository built from fixture models.
pub struct TestRepo {
    pub dir: tempfile::TempDir,
}

impl TestRepo {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A repository holding copies of the named fixture models.
    pub fn with_models(models: &[&str]) -> Self {
        let repo = Self::new();
        for model in models {
            repo.add_fixture(model, model);
        }
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Copies fixture model `fixture` (all its versions) in as model `name`.
    pub fn add_fixture(&self, fixture: &str, name: &str) {
        copy_dir(&fixtures().join(fixture), &self.path().join(name));
    }

    /// Copies version 1 of fixture `fixture` in as `name/version`.
    pub fn add_version(&self, fixture: &str, name: &str, version: u64) {
        let dest = self.path().join(name).join(version.to_string());
        std::fs::create_dir_all(&dest).unwrap();
        std::fs::copy(
            fixtures().join(fixture).join("1/model.onnx"),
            dest.join("model.onnx"),
        )
        .unwrap();
    }

    /// Writes `<name>/config.yaml`.
    pub fn write_config(&self, name: &str, yaml: &str) {
        std::fs::create_dir_all(self.path().join(name)).unwrap();
        std::fs::write(self.path().join(name).join("config.yaml"), yaml).unwrap();
    }
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A running `switchyard serve` process.
pub struct TestServer {
    child: Child,
    pub grpc_addr: SocketAddr,
    pub metrics_addr: SocketAddr,
    logs: Arc<Mutex<Vec<String>>>,
}

impl TestServer {
    /// Starts the binary on `repo` with extra arguments; returns once it
    /// listens (not necessarily ready: see [`TestServer::wait_ready`]).
    pub fn start(repo: &Path, extra_args: &[&str]) -> Self {
        let mut child = serve_command(Path::new(env!("CARGO_BIN_EXE_switchyard")), repo)
            .args(extra_args)
            .spawn()
            .expect("start switchyard");
        let stderr = child.stderr.take().expect("stderr piped");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (addresses, found) = mpsc::channel();
        let sink = logs.clone();
        std::thread::spawn(move || {
            let mut addresses = Some(addresses);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if std::env::var_os("SWITCHYARD_TEST_LOGS").is_some() {
                    eprintln!("{line}");
                }
                if let Ok(event) = serde_json::from_str::<serde_json::Value>(&line)
                    && event["message"] == "listening"
                    && let Some(sender) = addresses.take()
                {
                    let parse =
                        |field: &str| event[field].as_str().and_then(|s| s.parse::<SocketAddr>().ok());
                    let _ = sender.send((parse("grpc_addr"), parse("metrics_addr")));
                }
                sink.lock().unwrap().push(line);
            }
        });
        match found.recv_timeout(Duration::from_secs(30)) {
            Ok((Some(grpc_addr), Some(metrics_addr))) => Self {
                child,
                grpc_addr,
                metrics_addr,
                logs,
            },
            other => {
                let _ = child.kill();
                panic!(
                    "server did not report its addresses ({other:?}); logs:\n{}",
                    logs.lock().unwrap().join("\n")
                );
            }
        }
    }

    /// Starts the server and waits until it reports ready.
    pub async fn start_ready(repo: &Path, extra_args: &[&str]) -> Self {
        let server = Self::start(repo, extra_args);
        server.wait_ready().await;
        server
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn grpc_url(&self) -> String {
        format!("http://{}", self.grpc_addr)
    }

    pub async fn client(&self) -> Client {
        let channel = Channel::from_shared(self.grpc_url())
            .unwrap()
            .connect()
            .await
            .expect("connect");
        GrpcInferenceServiceClient::new(channel)
            .max_decoding_message_size(256 << 20)
            .max_encoding_message_size(256 << 20)
    }

    /// Polls `ServerReady` (the server's own readiness signal) until true.
    pub async fn wait_ready(&self) {
        let mut client = self.client().await;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(response) = client.server_ready(ServerReadyRequest {}).await
                && response.into_inner().ready
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "server not ready; logs:\n{}",
                self.logs().join("\n")
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Every stderr line so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// Waits until a log line satisfies `predicate`.
    pub async fn wait_for_log(
        &self,
        timeout: Duration,
        predicate: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + timeout;
        loop {
            for line in self.logs() {
                if let Ok(event) = serde_json::from_str::<serde_json::Value>(&line)
                    && predicate(&event)
                {
                    return event;
                }
            }
            assert!(
                Instant::now() < deadline,
                "log line not seen; logs:\n{}",
                self.logs().join("\n")
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// GET /metrics.
    pub async fn metrics(&self) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(self.metrics_addr)
            .await
            .expect("metrics connect");
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut body = String::new();
        stream.read_to_string(&mut body).await.unwrap();
        body
    }

    /// GET /metrics, parsed: samples by name and labels.
    pub async fn scrape(&self) -> Exposition {
        Exposition::parse(&self.metrics().await)
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: plain kill(2) on the child this helper started.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Little-endian bytes of f32 values.
pub fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// f32 values from little-endian bytes.
pub fn f32_values(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// An input tensor description without data.
pub fn input(name: &str, datatype: &str, shape: &[i64]) -> InferInputTensor {
    InferInputTensor {
        name: name.into(),
        datatype: datatype.into(),
        shape: shape.to_vec(),
        ..Default::default()
    }
}

/// A request with raw contents, one buffer per input.
pub fn raw_request(model: &str, inputs: Vec<(InferInputTensor, Vec<u8>)>) -> ModelInferRequest {
    let (tensors, raw): (Vec<_>, Vec<_>) = inputs.into_iter().unzip();
    ModelInferRequest {
        model_name: model.into(),
        inputs: tensors,
        raw_input_contents: raw.into_iter().map(Into::into).collect(),
        ..Default::default()
    }
}

/// A request to `add_fp32` with `a` = `values`, `b` = 1.0, shape [rows, 4].
pub fn add_request(values: &[f32]) -> ModelInferRequest {
    let rows = (values.len() / 4) as i64;
    let ones = vec![1.0f32; values.len()];
    raw_request(
        "add_fp32",
        vec![
            (input("a", "FP32", &[rows, 4]), f32_bytes(values)),
            (input("b", "FP32", &[rows, 4]), f32_bytes(&ones)),
        ],
    )
}

/// Polls `condition` every 20 ms until it holds; fails the test after `timeout`.
/// For states the server announces no event for (a version served, a model gone).
pub async fn wait_until<F, Fut>(timeout: Duration, condition: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !condition().await {
        assert!(
            started.elapsed() < timeout,
            "condition not met within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
