//! Session workers: `ort::Session::run` blocks and takes `&mut self`, so each
//! session is owned by one OS thread fed from a bounded queue shared by all
//! instances of a version. The async runtime only ever enqueues and awaits a
//! oneshot reply. Threads exit on their own when the queue's last sender is
//! dropped (the version left the snapshot and its last request finished), so
//! a model's memory is freed on its worker thread, never on an async worker.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use ort::memory::Allocator;
use ort::session::Session;
use tokio::sync::oneshot;

use super::VersionMetrics;
use super::idle_wait::{IdleWait, Waiter};
use super::onnx_values::{from_ort_value, to_ort_value};
use super::{InputTensor, OutputTensor};
use crate::error::ServeError;

/// What a run produced, with its timings.
#[derive(Debug)]
pub struct RunOutput {
    pub outputs: Vec<OutputTensor>,
    pub queue_time: Duration,
    pub infer_time: Duration,
}

/// One request waiting for a session.
pub(super) struct Job {
    pub(super) inputs: Vec<InputTensor>,
    /// Output names in answer order.
    pub(super) outputs: Arc<[String]>,
    pub(super) enqueued: Instant,
    pub(super) deadline: Option<Instant>,
    pub(super) reply: oneshot::Sender<Result<RunOutput, ServeError>>,
}

impl Job {
    /// Records the job's queue time and drops it if it should not run: the
    /// client is gone, or its deadline passed while it waited (answered
    /// DEADLINE_EXCEEDED). Returns the job when it should run.
    pub(super) fn answer_if_stale(self, metrics: &WorkerMetrics) -> Option<Self> {
        if self.reply.is_closed() {
            return None;
        }
        metrics.queue.record(self.enqueued.elapsed().as_secs_f64());
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = self.reply.send(Err(ServeError::DeadlineExceeded));
            return None;
        }
        Some(self)
    }
}

/// How a version merges concurrent requests (Triton's dynamic batching).
#[derive(Debug, Clone)]
pub struct BatchPolicy {
    /// Most rows (first dimension) in one run.
    pub max_batch_size: usize,
    /// Rows at which a batch is sent without waiting further.
    pub target_rows: usize,
    /// Longest the first request of a batch waits for others.
    pub max_delay: Duration,
    /// Every output of the model: a batch computes all, each request takes its own.
    pub all_outputs: Vec<String>,
}

/// The sending side of a version's queue.
pub struct Executor {
    jobs: Sender<Job>,
    capacity: usize,
    model: String,
    version: u64,
}

/// Metric handles a worker records into, shared by the version's workers.
pub type WorkerMetrics = Arc<VersionMetrics>;

impl Executor {
    /// Starts one worker thread per session. `capacity` bounds the requests
    /// waiting for a free session.
    pub fn start(
        sessions: Vec<Session>,
        capacity: usize,
        model: &str,
        version: u64,
        metrics: WorkerMetrics,
        batching: Option<BatchPolicy>,
        idle_wait: &IdleWait,
    ) -> std::io::Result<Self> {
        let (jobs, receiver) = crossbeam_channel::bounded(capacity);
        for (index, session) in sessions.into_iter().enumerate() {
            let receiver = receiver.clone();
            let metrics = metrics.clone();
            let batching = batching.clone();
            let waiter = idle_wait.waiter();
            std::thread::Builder::new()
                .name(format!("ort-{model}-{version}-{index}"))
                .spawn(move || match batching {
                    Some(policy) => {
                        super::batching::batching_loop(session, receiver, waiter, metrics, policy)
                    }
                    None => worker_loop(session, receiver, waiter, metrics),
                })?;
        }
        Ok(Self {
            jobs,
            capacity,
            model: model.to_string(),
            version,
        })
    }

    /// Queues a run; a full queue is refused at once.
    pub async fn run(
        &self,
        inputs: Vec<InputTensor>,
        outputs: Arc<[String]>,
        deadline: Option<Instant>,
    ) -> Result<RunOutput, ServeError> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            inputs,
            outputs,
            enqueued: Instant::now(),
            deadline,
            reply,
        };
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(ServeError::QueueFull {
                    model: self.model.clone(),
                    version: self.version,
                    capacity: self.capacity,
                });
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(ServeError::Runtime("session workers stopped".into()));
            }
        }
        // Dropping this future (client cancelled) closes `answer`; the worker
        // sees that and skips the job.
        answer.await.unwrap_or_else(|_| {
            Err(ServeError::Runtime(
                "session worker ended before answering".into(),
            ))
        })
    }
}

fn worker_loop(mut session: Session, jobs: Receiver<Job>, mut waiter: Waiter, metrics: WorkerMetrics) {
    let allocator = Allocator::default();
    while let Some(job) = waiter.next_job(&jobs) {
        let Some(job) = job.answer_if_stale(&metrics) else {
            continue;
        };
        let queue_time = job.enqueued.elapsed();
        let started = Instant::now();
        let result = guarded(|| run_session(&mut session, &allocator, &job.inputs, &job.outputs));
        let infer_time = started.elapsed();
        metrics.inference.record(infer_time.as_secs_f64());
        let _ = job.reply.send(result.map(|outputs| RunOutput {
            outputs,
            queue_time,
            infer_time,
        }));
    }
}

/// Runs `run`, turning a panic into an error: one bad run must not take the
/// worker (and with it the version's capacity) down.
pub(super) fn guarded<T>(run: impl FnOnce() -> Result<T, ServeError>) -> Result<T, ServeError> {
    std::panic::catch_unwind(AssertUnwindSafe(run))
        .unwrap_or_else(|_| Err(ServeError::Runtime("panic while running the model".into())))
}

/// Runs one request on a session, synchronously. Also used for warm-up.
pub fn run_session(
    session: &mut Session,
    allocator: &Allocator,
    inputs: &[InputTensor],
    outputs: &[String],
) -> Result<Vec<OutputTensor>, ServeError> {
    let mut values = Vec::with_capacity(inputs.len());
    for input in inputs {
        values.push((input.name.as_str(), to_ort_value(allocator, input)?));
    }
    run_values(session, values, outputs)
}

/// Runs prepared input values and copies out the named outputs, in order.
pub(super) fn run_values(
    session: &mut Session,
    values: Vec<(&str, ort::value::DynValue)>,
    outputs: &[String],
) -> Result<Vec<OutputTensor>, ServeError> {
    let mut results = session
        .run(values)
        .map_err(|e| ServeError::Runtime(e.to_string()))?;
    outputs
        .iter()
        .map(|name| {
            let value = results
                .remove(name)
                .ok_or_else(|| ServeError::Runtime(format!("model produced no output '{name}'")))?;
            from_ort_value(name, value)
        })
        .collect()
}
