//! One request waiting for a session, and what every session thread does
//! with it before and after the run.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::oneshot;

use super::VersionMetrics;
use crate::error::ServeError;
use crate::tensor::{InputTensor, OutputTensor};

/// What a run answers.
pub type RunResult = Result<Vec<OutputTensor>, ServeError>;

/// One request waiting for a session.
pub struct Job {
    pub inputs: Vec<InputTensor>,
    /// Output names in answer order.
    pub outputs: Arc<[String]>,
    pub enqueued: Instant,
    pub deadline: Option<Instant>,
    pub reply: oneshot::Sender<RunResult>,
}

impl Job {
    /// Records the job's queue time and drops it if it should not run: the
    /// client is gone, its deadline passed while it waited (answered
    /// DEADLINE_EXCEEDED), or it waited past its queue budget (answered
    /// RESOURCE_EXHAUSTED). Returns the job when it should run.
    pub fn answer_if_stale(self, metrics: &VersionMetrics) -> Option<Self> {
        if self.reply.is_closed() {
            return None;
        }
        let waited = self.enqueued.elapsed();
        metrics.queue.record(waited.as_secs_f64());
        metrics.stats.record_queue(waited);
        let now = Instant::now();
        if self.deadline.is_some_and(|d| now >= d) {
            let _ = self.reply.send(Err(ServeError::DeadlineExceeded));
            return None;
        }
        // The budget as it is now: it includes the run that just ended, which
        // a request enqueued before any run was timed could not know.
        if waited > metrics.queue_budget.budget() {
            let _ = self.reply.send(Err(ServeError::QueueBudget {
                waited_ms: waited.as_millis() as u64,
            }));
            return None;
        }
        Some(self)
    }

    /// Rows along the first dimension (what dynamic batching adds up).
    pub fn rows(&self) -> usize {
        self.inputs
            .first()
            .and_then(|i| i.shape.first())
            .map_or(0, |&d| d as usize)
    }

    /// Answers the job; a client that went away is not an error.
    pub fn answer(self, result: RunResult) {
        let _ = self.reply.send(result);
    }
}

/// Runs `run`, turning a panic into an error: one bad run must not take the
/// session thread (and with it the version's capacity) down.
pub fn guarded<T>(run: impl FnOnce() -> Result<T, ServeError>) -> Result<T, ServeError> {
    std::panic::catch_unwind(AssertUnwindSafe(run))
        .unwrap_or_else(|_| Err(ServeError::Runtime("panic while running the model".into())))
}

/// Runs one job alone on `session`, timing the run.
pub fn run_alone(session: &mut dyn crate::backend::Session, job: Job, metrics: &VersionMetrics) {
    let started = Instant::now();
    let result = guarded(|| session.run(&job.inputs, &job.outputs));
    metrics.record_run(started.elapsed());
    if let Ok(output) = &result {
        metrics.stats.record_execution(1, job.rows(), &output.timings);
    }
    job.answer(result.map(|output| output.outputs));
}
