//! Shadow mirroring: a share of a route's requests also runs on a shadow
//! model after the primary has answered. The client never waits for it and
//! never sees its errors. Mirrors go through a bounded queue and run at most
//! [`MIRROR_CONCURRENCY`] at a time, so a slow shadow cannot take primary
//! capacity: when the queue is full, mirrors are dropped and counted.

mod compare;
mod log_file;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{Semaphore, mpsc};

pub use compare::{Comparison, compare};
pub use log_file::ShadowLog;

use crate::error::Code;
use crate::model::{ModelVersion, set_current_thread_background};
use crate::routing::rollout::{MirrorFigures, RolloutWindow};
use crate::telemetry::metric;
use crate::tensor::{InputTensor, OutputTensor};

/// Mirrors that may wait to run; more are dropped.
pub const MIRROR_QUEUE: usize = 256;
/// Mirrors running at once (each holds at most one slot of the shadow
/// version's queue, so primaries sharing that version are not starved).
pub const MIRROR_CONCURRENCY: usize = 2;
/// A mirror that takes longer than this is abandoned and counted as error.
const MIRROR_TIMEOUT: Duration = Duration::from_secs(30);

/// One request to mirror, with the primary's answer to compare against.
pub struct MirrorJob {
    pub request_id: String,
    pub route: String,
    pub primary_model: String,
    pub primary_version: String,
    pub primary_latency: Duration,
    pub primary_outputs: Vec<OutputTensor>,
    /// The shadow version, or why it could not be resolved.
    pub shadow: Result<Arc<ModelVersion>, String>,
    /// Labels of the shadow as configured (used when it is not resolved).
    pub shadow_model: String,
    pub shadow_version: String,
    pub inputs: Vec<InputTensor>,
    /// The route's rollout window when the shadow is its canary.
    pub rollout_window: Option<Arc<RolloutWindow>>,
}

/// The submitting side; cheap to share.
#[derive(Clone)]
pub struct Mirror {
    jobs: mpsc::Sender<MirrorJob>,
}

impl Mirror {
    /// Starts the dispatcher task. Must be called inside a tokio runtime.
    /// Starts the dispatcher on a thread of its own at background CPU
    /// priority (with its own single-threaded runtime), so comparing and
    /// logging mirrors only takes CPU the primaries leave idle. If the thread
    /// cannot start, every mirror is dropped and counted.
    pub fn start(log_file: Option<ShadowLog>) -> Self {
        let (jobs, receiver) = mpsc::channel(MIRROR_QUEUE);
        let started = std::thread::Builder::new()
            .name("shadow-dispatch".into())
            .spawn(move || {
                if let Err(error) = set_current_thread_background(true) {
                    tracing::warn!(%error, "the shadow dispatcher runs at normal CPU priority");
                }
                match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(runtime) => runtime.block_on(dispatch(receiver, log_file)),
                    Err(error) => {
                        tracing::error!(%error, "cannot start the shadow dispatcher; mirrors are dropped")
                    }
                }
            });
        if let Err(error) = started {
            tracing::error!(%error, "cannot start the shadow dispatcher; mirrors are dropped");
        }
        Self { jobs }
    }

    /// Queues a mirror without waiting; a full queue drops it (counted).
    /// Returns whether it was queued.
    pub fn submit(&self, job: MirrorJob) -> bool {
        let Err(error) = self.jobs.try_send(job) else {
            return true;
        };
        let job = match error {
            mpsc::error::TrySendError::Full(job) | mpsc::error::TrySendError::Closed(job) => job,
        };
        let (model, version) = shadow_labels(&job);
        count(&job.route, model, version, Outcome::Dropped);
        false
    }
}

async fn dispatch(mut jobs: mpsc::Receiver<MirrorJob>, log_file: Option<ShadowLog>) {
    let permits = Arc::new(Semaphore::new(MIRROR_CONCURRENCY));
    while let Some(job) = jobs.recv().await {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let log_file = log_file.clone();
        tokio::spawn(async move {
            let record = run(job).await;
            record.publish(log_file.as_ref());
            drop(permit);
        });
    }
}

/// What happened to one mirrored request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    Error,
    Dropped,
    Mismatch,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Error => "error",
            Self::Dropped => "dropped",
            Self::Mismatch => "mismatch",
        }
    }
}

/// One line of the shadow log (and of `--shadow-log`).
#[derive(Debug, Serialize)]
struct Record {
    request_id: String,
    route: String,
    primary_model: String,
    primary_version: String,
    shadow_model: String,
    shadow_version: String,
    primary_latency_ms: f64,
    shadow_latency_ms: Option<f64>,
    outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(flatten)]
    comparison: Comparison,
}

async fn run(job: MirrorJob) -> Record {
    let (shadow_model, shadow_version) = shadow_labels(&job);
    let (shadow_model, shadow_version) = (shadow_model.to_string(), shadow_version.to_string());
    let mut record = Record {
        request_id: job.request_id,
        route: job.route,
        primary_model: job.primary_model,
        primary_version: job.primary_version,
        shadow_model,
        shadow_version,
        primary_latency_ms: job.primary_latency.as_secs_f64() * 1e3,
        shadow_latency_ms: None,
        outcome: Outcome::Error,
        error: None,
        comparison: Comparison::default(),
    };
    let shadow = match job.shadow {
        Ok(shadow) => shadow,
        Err(error) => {
            record.error = Some(error);
            return record;
        }
    };
    let started = Instant::now();
    let answer = shadow
        .infer(job.inputs, Vec::new(), Some(started + MIRROR_TIMEOUT))
        .await;
    let elapsed = started.elapsed();
    record.shadow_latency_ms = Some(elapsed.as_secs_f64() * 1e3);
    metrics::histogram!(metric::SHADOW_DURATION, "route" => record.route.clone(),
        "model" => record.shadow_model.clone(), "version" => record.shadow_version.clone())
    .record(elapsed.as_secs_f64());
    match answer {
        Ok(answer) => {
            record.comparison = compare(&job.primary_outputs, &answer);
            record.outcome = if record.comparison.is_mismatch() {
                Outcome::Mismatch
            } else {
                Outcome::Ok
            };
        }
        Err(error) => record.error = Some(error.to_string()),
    }
    if let Some(window) = &job.rollout_window {
        window.record_mirror(mirror_figures(&record, elapsed));
    }
    record
}

impl Record {
    /// Log line (target `shadow`), metrics and the optional file.
    fn publish(&self, log_file: Option<&ShadowLog>) {
        count(
            &self.route,
            &self.shadow_model,
            &self.shadow_version,
            self.outcome,
        );
        let c = &self.comparison;
        if self.outcome == Outcome::Ok {
            metrics::histogram!(metric::SHADOW_ABS_DIFF, "route" => self.route.clone())
                .record(c.max_abs_diff);
        }
        for (agree, rows) in [("true", c.argmax_agree), ("false", c.argmax_disagree)] {
            if rows > 0 {
                metrics::counter!(metric::SHADOW_ARGMAX_AGREEMENT, "route" => self.route.clone(), "agree" => agree)
                    .increment(rows);
            }
        }
        tracing::info!(
            target: "shadow",
            request_id = %self.request_id,
            route = %self.route,
            primary_model = %self.primary_model,
            primary_version = %self.primary_version,
            shadow_model = %self.shadow_model,
            shadow_version = %self.shadow_version,
            primary_latency_ms = self.primary_latency_ms,
            shadow_latency_ms = self.shadow_latency_ms,
            outcome = self.outcome.label(),
            error = self.error.as_deref(),
            compared = %c.compared.join(","),
            mismatched = %c.mismatched.join(","),
            max_abs_diff = c.max_abs_diff,
            mean_abs_diff = c.mean_abs_diff,
            argmax_agree = c.argmax_agree,
            argmax_disagree = c.argmax_disagree,
            "shadow comparison"
        );
        if let Some(file) = log_file
            && let Ok(line) = serde_json::to_string(self)
        {
            file.write(line);
        }
    }
}

/// What a mirror to a rollout's canary tells the rollout.
fn mirror_figures(record: &Record, elapsed: Duration) -> MirrorFigures {
    let c = &record.comparison;
    let (code, compared) = match record.outcome {
        Outcome::Ok => {
            let rows = c.argmax_agree + c.argmax_disagree;
            (Code::Ok, Some((c.argmax_agree, rows, c.mean_abs_diff)))
        }
        Outcome::Mismatch => (Code::Ok, None),
        Outcome::Error | Outcome::Dropped => (Code::Internal, None),
    };
    MirrorFigures {
        code,
        elapsed,
        compared,
    }
}

fn shadow_labels(job: &MirrorJob) -> (&str, &str) {
    match &job.shadow {
        Ok(version) => (&version.key.model, &version.version_label),
        Err(_) => (&job.shadow_model, &job.shadow_version),
    }
}

fn count(route: &str, model: &str, version: &str, outcome: Outcome) {
    metrics::counter!(metric::SHADOW_REQUESTS, "route" => route.to_string(), "model" => model.to_string(),
        "version" => version.to_string(), "outcome" => outcome.label())
    .increment(1);
}

#[cfg(test)]
mod tests;
