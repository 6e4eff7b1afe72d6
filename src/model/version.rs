//! One loaded, warmed version of a model: its signature, its settings and the
//! session threads that run it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::batching::BatchPolicy;
use super::executor::{Executor, ExecutorSettings};
use super::idle_wait::IdleWait;
use super::job::RunResult;
use super::priority::PriorityRequest;
use super::queue_budget::QueueBudget;
use super::stats::VersionStats;
use super::version_metrics::VersionMetrics;
use crate::backend::{Backend, BackendError, Session, SessionSettings};
use crate::tensor::{InputTensor, TensorSpec, warmup_input};

/// Model name and version number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VersionKey {
    pub model: String,
    pub version: u64,
}

impl std::fmt::Display for VersionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.model, self.version)
    }
}

/// How one version is loaded and run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionSettings {
    /// Sessions that run in parallel, each on its own thread.
    pub instances: usize,
    pub session: SessionSettings,
    /// Run one request on zero-filled inputs before taking traffic.
    pub warmup: bool,
    /// Largest first dimension accepted; 0 = no batch dimension.
    pub max_batch_size: usize,
    /// Dynamic batching, when on.
    pub batching: Option<BatchPolicy>,
    /// Requests that may wait for a free session before RESOURCE_EXHAUSTED.
    pub max_queue_size: usize,
    /// Longest a request may wait for a session before it is refused with
    /// RESOURCE_EXHAUSTED; `None` = the default budget (see `model::queue_budget`).
    pub queue_budget: Option<Duration>,
    /// Keep Triton's statistics (`--statistics`).
    pub statistics: bool,
}

impl Default for VersionSettings {
    fn default() -> Self {
        Self {
            instances: 1,
            session: SessionSettings::default(),
            warmup: true,
            max_batch_size: 0,
            batching: None,
            max_queue_size: 128,
            queue_budget: None,
            statistics: true,
        }
    }
}

/// Why a version could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The backend refused the file (ONNX Runtime's message).
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error(
        "max_batch_size is {max_batch_size} but input '{input}' has no dynamic first dimension (shape {shape})"
    )]
    NoBatchDimension {
        max_batch_size: usize,
        input: String,
        shape: String,
    },
    #[error("warm-up run failed: {0}")]
    Warmup(String),
    #[error("could not start session threads: {0}")]
    Threads(String),
}

/// A version ready to take traffic.
pub struct ModelVersion {
    pub key: VersionKey,
    pub path: PathBuf,
    pub inputs: Vec<TensorSpec>,
    pub outputs: Vec<TensorSpec>,
    pub settings: VersionSettings,
    /// Label value for metrics (`version="2"`).
    pub version_label: String,
    /// Metric handles of this version.
    pub metrics: Arc<VersionMetrics>,
    /// Every output name, in the model's order: what a request without
    /// `outputs` gets.
    pub output_names: Arc<[String]>,
    /// The CPU priority of this version's session threads (background for a
    /// version that only mirrors).
    pub priority: Arc<PriorityRequest>,
    executor: Executor,
}

impl std::fmt::Debug for ModelVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelVersion")
            .field("key", &self.key)
            .field("path", &self.path)
            .finish()
    }
}

impl ModelVersion {
    /// Loads `path` into `settings.instances` sessions, warms each one and
    /// starts their threads. Blocking: call from a blocking thread.
    pub fn load(
        backend: &dyn Backend,
        key: VersionKey,
        path: &Path,
        settings: &VersionSettings,
        idle_wait: &IdleWait,
    ) -> Result<Self, LoadError> {
        let mut sessions = Vec::with_capacity(settings.instances);
        for _ in 0..settings.instances.max(1) {
            sessions.push(backend.load(path, &settings.session)?);
        }
        let inputs = sessions[0].inputs().to_vec();
        let outputs = sessions[0].outputs().to_vec();
        check_batch_dimension(&inputs, settings.max_batch_size)?;
        if settings.warmup {
            warm_up(&mut sessions, &inputs, &outputs)?;
        }
        let version_label = key.version.to_string();
        let stats = VersionStats::new(settings.max_batch_size, settings.statistics);
        let budget = QueueBudget::new(settings.queue_budget, settings.instances);
        let metrics = Arc::new(VersionMetrics::new(&key.model, &version_label, stats, budget));
        let priority = Arc::new(PriorityRequest::default());
        let executor = Executor::start(
            sessions,
            ExecutorSettings {
                model: &key.model,
                version: key.version,
                capacity: settings.max_queue_size,
                batching: settings.batching.clone(),
                idle_wait,
                priority: priority.clone(),
                model_bytes: std::fs::metadata(path).map_or(0, |m| m.len()),
            },
            metrics.clone(),
        )
        .map_err(|e| LoadError::Threads(e.to_string()))?;
        Ok(Self {
            output_names: outputs.iter().map(|o| o.name.clone()).collect(),
            key,
            path: path.to_path_buf(),
            inputs,
            outputs,
            settings: settings.clone(),
            version_label,
            metrics,
            priority,
            executor,
        })
    }

    /// The declared input called `name`.
    pub fn input(&self, name: &str) -> Option<&TensorSpec> {
        self.inputs.iter().find(|spec| spec.name == name)
    }

    /// The declared output called `name`.
    pub fn output(&self, name: &str) -> Option<&TensorSpec> {
        self.outputs.iter().find(|spec| spec.name == name)
    }

    /// Requests waiting for a session now.
    pub fn queued(&self) -> usize {
        self.executor.queued()
    }

    /// Runs validated inputs; `outputs` lists the names to return, in order.
    pub async fn run(
        &self,
        inputs: Vec<InputTensor>,
        outputs: Arc<[String]>,
        deadline: Option<Instant>,
    ) -> RunResult {
        self.executor.run(inputs, outputs, deadline).await
    }

    /// Checks inputs, resolves outputs and runs: what every caller of a
    /// version (the engine, the shadow dispatcher) does.
    pub async fn infer(
        &self,
        inputs: Vec<InputTensor>,
        requested: Vec<String>,
        deadline: Option<Instant>,
    ) -> RunResult {
        self.check_inputs(&inputs)?;
        let outputs = self.select_outputs(requested)?;
        self.run(inputs, outputs, deadline).await
    }
}

/// With a batch limit, every input's first dimension must be dynamic.
fn check_batch_dimension(inputs: &[TensorSpec], max_batch_size: usize) -> Result<(), LoadError> {
    if max_batch_size == 0 {
        return Ok(());
    }
    match inputs.iter().find(|s| s.shape.first().is_none_or(|&d| d >= 0)) {
        Some(fixed) => Err(LoadError::NoBatchDimension {
            max_batch_size,
            input: fixed.name.clone(),
            shape: format!("{:?}", fixed.shape),
        }),
        None => Ok(()),
    }
}

/// One run per session on zero-filled inputs, so the first request does not
/// pay for lazy initialisation.
fn warm_up(
    sessions: &mut [Box<dyn Session>],
    inputs: &[TensorSpec],
    outputs: &[TensorSpec],
) -> Result<(), LoadError> {
    let dummy: Vec<InputTensor> = inputs.iter().map(warmup_input).collect();
    let names: Vec<String> = outputs.iter().map(|o| o.name.clone()).collect();
    for session in sessions {
        session
            .run(&dummy, &names)
            .map_err(|e| LoadError::Warmup(e.to_string()))?;
    }
    Ok(())
}
