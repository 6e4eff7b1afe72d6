//! Session threads: a session's run blocks and takes `&mut self`, so each
//! session is owned by one OS thread fed from a bounded queue shared by all
//! instances of a version. The async runtime only ever enqueues and awaits a
//! oneshot reply. Threads exit on their own when the queue's last sender is
//! dropped (the version left the snapshot and its last request finished), so
//! a model's memory is freed on its session thread, never on an async worker.

use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::{Sender, TrySendError};
use tokio::sync::oneshot;

use super::VersionMetrics;
use super::batching::{BatchPolicy, batching_loop};
use super::idle_wait::IdleWait;
use super::job::{Job, RunResult};
use super::priority::PriorityRequest;
use super::worker::worker_loop;
use crate::backend::Session;
use crate::error::ServeError;
use crate::tensor::InputTensor;

/// The sending side of a version's queue.
pub struct Executor {
    jobs: Sender<Job>,
    capacity: usize,
    model: String,
    version: u64,
}

/// What the session threads of one version share.
pub struct ExecutorSettings<'a> {
    pub model: &'a str,
    pub version: u64,
    /// Requests that may wait for a free session.
    pub capacity: usize,
    pub batching: Option<BatchPolicy>,
    pub idle_wait: &'a IdleWait,
    /// The CPU priority the threads keep to.
    pub priority: Arc<PriorityRequest>,
}

impl Executor {
    /// Starts one thread per session.
    pub fn start(
        sessions: Vec<Box<dyn Session>>,
        settings: ExecutorSettings<'_>,
        metrics: Arc<VersionMetrics>,
    ) -> std::io::Result<Self> {
        let ExecutorSettings {
            model,
            version,
            capacity,
            batching,
            idle_wait,
            priority,
        } = settings;
        let (jobs, receiver) = crossbeam_channel::bounded(capacity);
        for (index, session) in sessions.into_iter().enumerate() {
            let receiver = receiver.clone();
            let metrics = metrics.clone();
            let batching = batching.clone();
            let waiter = idle_wait.waiter();
            let priority = priority.clone();
            std::thread::Builder::new()
                .name(format!("ort-{model}-{version}-{index}"))
                .spawn(move || match batching {
                    Some(policy) => batching_loop(session, receiver, waiter, &metrics, policy, &priority),
                    None => worker_loop(session, receiver, waiter, &metrics, &priority),
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
    ) -> RunResult {
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
        // Dropping this future (client cancelled) closes `answer`; the thread
        // sees that and skips the job.
        answer.await.unwrap_or_else(|_| {
            Err(ServeError::Runtime(
                "session worker ended before answering".into(),
            ))
        })
    }
}
