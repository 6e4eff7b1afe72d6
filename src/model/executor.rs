//! Session threads: a session's run blocks and takes `&mut self`, so each
//! session is owned by one OS thread fed from a bounded queue shared by all
//! instances of a version. The async runtime only ever enqueues and awaits a
//! oneshot reply. Threads exit on their own when the queue's last sender is
//! dropped (the version left the snapshot and its last request finished), so
//! a model's memory is freed on its session thread, never on an async worker.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
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
    metrics: Arc<VersionMetrics>,
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
    /// Size of the model file: about what the sessions hold, and so what
    /// their end frees.
    pub model_bytes: u64,
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
            model_bytes,
        } = settings;
        let (jobs, receiver) = crossbeam_channel::bounded(capacity);
        let running = Arc::new(AtomicUsize::new(sessions.len()));
        for (index, session) in sessions.into_iter().enumerate() {
            let running = running.clone();
            let receiver = receiver.clone();
            let thread_metrics = metrics.clone();
            let batching = batching.clone();
            let waiter = idle_wait.waiter();
            let priority = priority.clone();
            std::thread::Builder::new()
                .name(format!("ort-{model}-{version}-{index}"))
                .spawn(move || {
                    match batching {
                        Some(policy) => {
                            batching_loop(session, receiver, waiter, &thread_metrics, policy, &priority)
                        }
                        None => worker_loop(session, receiver, waiter, &thread_metrics, &priority),
                    }
                    // The session is gone; the last thread of the version hands
                    // its memory back to the operating system.
                    if running.fetch_sub(1, Ordering::AcqRel) == 1 {
                        release_freed_memory(model_bytes);
                    }
                })?;
        }
        Ok(Self {
            jobs,
            capacity,
            model: model.to_string(),
            version,
            metrics,
        })
    }

    /// Requests waiting for a session now.
    pub fn queued(&self) -> usize {
        self.jobs.len()
    }

    /// Queues a run; a full queue, or one that would keep the request waiting
    /// past its budget, is refused at once.
    pub async fn run(
        &self,
        inputs: Vec<InputTensor>,
        outputs: Arc<[String]>,
        deadline: Option<Instant>,
    ) -> RunResult {
        let budget = self.metrics.queue_budget.budget();
        let expected = self.metrics.queue_budget.expected_wait(self.jobs.len());
        if expected > budget {
            return Err(ServeError::QueueTooSlow {
                model: self.model.clone(),
                version: self.version,
                expected_ms: expected.as_millis() as u64,
                budget_ms: budget.as_millis() as u64,
            });
        }
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

/// Returns freed heap memory to the operating system. glibc keeps what a
/// dropped session freed in its arenas (one per thread that allocated) and
/// above its trim threshold, so without this resident memory grows with each
/// reload of a large model; `malloc_trim(0)` releases the free pages of every
/// arena. A trim walks the whole heap (milliseconds with thousands of small
/// models loaded), so it runs once the versions dropped since the last one
/// add up to [`TRIM_AFTER_BYTES`]: after every large model, after every few
/// dozen small ones. Elsewhere (musl, other allocators) there is nothing to do.
fn release_freed_memory(model_bytes: u64) {
    let dropped = DROPPED_SINCE_TRIM.fetch_add(model_bytes, Ordering::AcqRel) + model_bytes;
    if dropped < TRIM_AFTER_BYTES {
        return;
    }
    DROPPED_SINCE_TRIM.store(0, Ordering::Release);
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Model bytes dropped since the last trim, process-wide.
static DROPPED_SINCE_TRIM: AtomicU64 = AtomicU64::new(0);
/// A trim is worth its walk of the heap once this much was dropped.
const TRIM_AFTER_BYTES: u64 = 8 << 20;
