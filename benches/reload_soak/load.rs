//! Requests and the load: concurrent clients that check every answer against the two models.

use super::*;

/// A batch-1 request with a fixed, non-trivial input.
pub(crate) fn infer_request(model: &str) -> ModelInferRequest {
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

pub(crate) async fn infer_once(client: &mut Client, request: ModelInferRequest) -> Result<Vec<f32>> {
    let response = client.model_infer(request).await?.into_inner();
    output_values(&response.raw_output_contents)
}

pub(crate) fn output_values(raw: &[bytes::Bytes]) -> Result<Vec<f32>> {
    let first = raw.first().context("no output in the answer")?;
    Ok(first
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// Equal up to float noise: the same model file may be run by another session.
pub(crate) fn close(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= 1e-4 * (1.0 + y.abs()))
}

/// One request as a client saw it.
pub(crate) struct Sample {
    pub(crate) start: Instant,
    pub(crate) latency: Duration,
    /// Which model answered (0 = A, 1 = B), or why the request failed.
    pub(crate) outcome: Result<usize, String>,
}

impl Sample {
    pub(crate) fn end(&self) -> Instant {
        self.start + self.latency
    }
}

/// State the clients share with the swap driver.
pub(crate) struct Shared {
    pub(crate) epoch: Instant,
    pub(crate) stop: AtomicBool,
    /// Per variant: the latest request start (µs after `epoch`) that it answered.
    pub(crate) answered_at: [AtomicU64; 2],
}

impl Shared {
    pub(crate) fn micros_since_epoch(&self, at: Instant) -> u64 {
        u64::try_from(at.duration_since(self.epoch).as_micros()).unwrap_or(u64::MAX)
    }
}

/// [`CLIENTS`] tasks sending requests back to back until stopped.
pub(crate) struct Clients {
    pub(crate) shared: Arc<Shared>,
    pub(crate) tasks: Vec<tokio::task::JoinHandle<Vec<Sample>>>,
}

impl Clients {
    pub(crate) async fn start(
        server: &Server,
        request: ModelInferRequest,
        outputs: [Vec<f32>; 2],
    ) -> Result<Self> {
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

    pub(crate) async fn stop(self) -> Result<Vec<Sample>> {
        self.shared.stop.store(true, Ordering::Relaxed);
        let mut samples = Vec::new();
        for task in self.tasks {
            samples.extend(task.await?);
        }
        samples.sort_by_key(|s| s.start);
        Ok(samples)
    }
}

pub(crate) async fn client_loop(
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

pub(crate) type Answer = Result<
    Result<tonic::Response<switchyard::proto::inference::ModelInferResponse>, tonic::Status>,
    tokio::time::error::Elapsed,
>;

/// Which variant answered, or why the answer is a failure.
pub(crate) fn classify(answer: Answer, outputs: &[Vec<f32>; 2]) -> Result<usize, String> {
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
