//! The server under test: a `switchyard serve` child on ephemeral ports, its logs and its memory.

use super::*;

#[path = "../../tests/common/serve_command.rs"]
mod serve_command;

use serve_command::serve_command;

/// A running `switchyard serve` on ephemeral loopback ports.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) grpc_addr: SocketAddr,
    /// The ONNX Runtime library it loaded, from its `listening` line.
    pub(crate) onnxruntime: String,
    pub(crate) logs: Arc<Mutex<VecDeque<String>>>,
}

/// What the `listening` log line tells: the gRPC address and the ONNX Runtime library.
pub(crate) type Listening = (SocketAddr, String);

impl Server {
    pub(crate) fn start(binary: &Path, repo: &Path) -> Result<Self> {
        let mut child = serve_command(binary, repo)
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

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) async fn connect(&self) -> Result<Client> {
        let channel = Channel::from_shared(format!("http://{}", self.grpc_addr))?
            .connect()
            .await
            .context("connect")?;
        Ok(GrpcInferenceServiceClient::new(channel))
    }

    pub(crate) async fn wait_ready(&self) -> Result<Client> {
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

    pub(crate) fn log_tail(&self) -> String {
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
pub(crate) fn read_logs(
    stderr: impl std::io::Read,
    sink: &Mutex<VecDeque<String>>,
    found: mpsc::Sender<Listening>,
) {
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

pub(crate) fn parse_listening(line: &str) -> Option<Listening> {
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

pub(crate) fn tail(logs: &Mutex<VecDeque<String>>) -> String {
    let lines: Vec<String> = lock(logs).iter().cloned().collect();
    format!("last server log lines:\n{}", lines.join("\n"))
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Both models' answers to the benchmark's input, so that every answer
/// during the soak can be attributed: A from the served model, B from the
/// probe copy, which is then removed.
pub(crate) async fn learn_answers(server: &Server, repo: &Path) -> Result<[Vec<f32>; 2]> {
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
pub(crate) async fn wait_for_unload(client: &mut Client) -> Result<()> {
    let deadline = Instant::now() + SWAP_TIMEOUT;
    while client.model_infer(infer_request(PROBE)).await.is_ok() {
        ensure!(Instant::now() < deadline, "the probe model was never unloaded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// Memory and threads of a process, from /proc/<pid>/status.
#[derive(Clone, Copy, Default)]
pub(crate) struct ProcessStatus {
    pub(crate) vm_rss_kib: u64,
    pub(crate) rss_anon_kib: u64,
    /// Peak RSS so far: shows the moments when two versions are loaded at once.
    pub(crate) peak_kib: u64,
    pub(crate) threads: u64,
}

pub(crate) fn process_status(pid: u32) -> Result<ProcessStatus> {
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
