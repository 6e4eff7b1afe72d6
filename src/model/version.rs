//! One loaded, warmed version of a model: its signature, its settings and the
//! session workers that run it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use ort::memory::Allocator;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;

use super::executor::{BatchPolicy, Executor, RunOutput, run_session};
use super::idle_wait::IdleWait;
use super::onnx_values::{tensor_spec, warmup_input};
use super::version_metrics::VersionMetrics;
use super::{InputTensor, TensorSpec};
use crate::config::ModelConfig;
use crate::error::ServeError;
use crate::onnx_runtime::OnnxRuntime;

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

/// A version ready to take traffic.
pub struct ModelVersion {
    pub key: VersionKey,
    pub path: PathBuf,
    pub inputs: Vec<TensorSpec>,
    pub outputs: Vec<TensorSpec>,
    pub config: ModelConfig,
    /// Label value for metrics (`version="2"`).
    pub version_label: String,
    /// Metric handles of this version.
    pub metrics: Arc<VersionMetrics>,
    /// Every output name, in the model's order: what a request without
    /// `outputs` gets.
    pub output_names: Arc<[String]>,
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
    /// Loads `path` into `config.instances` sessions, warms each one and
    /// starts their workers. Blocking: call from a blocking thread. The error
    /// is ONNX Runtime's message, ready for the log.
    pub fn load(
        runtime: &OnnxRuntime,
        key: VersionKey,
        path: &Path,
        config: &ModelConfig,
        idle_wait: &IdleWait,
    ) -> Result<Self, String> {
        let mut sessions = Vec::with_capacity(config.instances);
        for _ in 0..config.instances {
            sessions.push(build_session(runtime, path, config.intra_op_threads)?);
        }
        let first = &sessions[0];
        let inputs = first
            .inputs()
            .iter()
            .map(|outlet| tensor_spec(outlet.name(), outlet.dtype()))
            .collect::<Result<Vec<_>, _>>()?;
        let outputs = first
            .outputs()
            .iter()
            .map(|outlet| tensor_spec(outlet.name(), outlet.dtype()))
            .collect::<Result<Vec<_>, _>>()?;
        if config.max_batch_size > 0
            && let Some(fixed) = inputs.iter().find(|s| s.shape.first().is_none_or(|&d| d >= 0))
        {
            return Err(format!(
                "max_batch_size is {} but input '{}' has no dynamic first dimension (shape {:?})",
                config.max_batch_size, fixed.name, fixed.shape
            ));
        }
        if config.warmup {
            let allocator = Allocator::default();
            let dummy: Vec<InputTensor> = inputs.iter().map(warmup_input).collect();
            let names: Vec<String> = outputs.iter().map(|o| o.name.clone()).collect();
            for session in &mut sessions {
                run_session(session, &allocator, &dummy, &names)
                    .map_err(|e| format!("warm-up run failed: {e}"))?;
            }
        }
        let version_label = key.version.to_string();
        let metrics = Arc::new(VersionMetrics::new(&key.model, &version_label));
        let batching = config.dynamic_batching.as_ref().map(|batching| BatchPolicy {
            max_batch_size: config.max_batch_size,
            target_rows: batching
                .preferred_batch_size
                .iter()
                .copied()
                .max()
                .unwrap_or(config.max_batch_size),
            max_delay: std::time::Duration::from_micros(batching.max_queue_delay_us),
            all_outputs: outputs.iter().map(|o| o.name.clone()).collect(),
        });
        let executor = Executor::start(
            sessions,
            config.max_queue_size,
            &key.model,
            key.version,
            metrics.clone(),
            batching,
            idle_wait,
        )
        .map_err(|e| format!("could not start session threads: {e}"))?;
        let output_names = outputs.iter().map(|o| o.name.clone()).collect();
        Ok(Self {
            output_names,
            key,
            path: path.to_path_buf(),
            inputs,
            outputs,
            config: config.clone(),
            version_label,
            metrics,
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

    /// Every declared input exactly once, nothing else, each matching its declaration.
    pub fn check_inputs(&self, inputs: &[InputTensor]) -> Result<(), ServeError> {
        for (index, input) in inputs.iter().enumerate() {
            let Some(spec) = self.input(&input.name) else {
                let expected: Vec<&str> = self.inputs.iter().map(|s| s.name.as_str()).collect();
                return Err(ServeError::invalid(format!(
                    "unknown input '{}' for model '{}': expected inputs {expected:?}",
                    input.name, self.key.model
                )));
            };
            if inputs[..index].iter().any(|earlier| earlier.name == input.name) {
                return Err(ServeError::invalid(format!(
                    "input '{}' given more than once",
                    input.name
                )));
            }
            input.validate(spec, self.config.max_batch_size)?;
        }
        if let Some(missing) = self
            .inputs
            .iter()
            .find(|spec| !inputs.iter().any(|i| i.name == spec.name))
        {
            return Err(ServeError::invalid(format!(
                "missing input '{}': expected {} with shape {}",
                missing.name,
                missing.datatype,
                crate::model::shape_text(&missing.shape)
            )));
        }
        if self.config.max_batch_size > 0 {
            let batch = inputs.first().and_then(|i| i.shape.first()).copied();
            if let Some(other) = inputs.iter().find(|i| i.shape.first().copied() != batch) {
                return Err(ServeError::invalid(format!(
                    "input '{}': expected batch size {} like the other inputs, got {}",
                    other.name,
                    batch.unwrap_or(0),
                    other.shape.first().copied().unwrap_or(0)
                )));
            }
        }
        Ok(())
    }

    /// Resolves the requested output names (all when none are requested).
    pub fn select_outputs(&self, requested: Vec<String>) -> Result<Arc<[String]>, ServeError> {
        if requested.is_empty() {
            return Ok(self.output_names.clone());
        }
        for (index, name) in requested.iter().enumerate() {
            if self.output(name).is_none() {
                let known: Vec<&str> = self.outputs.iter().map(|s| s.name.as_str()).collect();
                return Err(ServeError::invalid(format!(
                    "unknown output '{name}' requested from model '{}': expected one of {known:?}",
                    self.key.model
                )));
            }
            if requested[..index].contains(name) {
                return Err(ServeError::invalid(format!(
                    "output '{name}' requested more than once"
                )));
            }
        }
        Ok(requested.into())
    }

    /// Runs validated inputs; `outputs` lists the names to return, in order.
    pub async fn run(
        &self,
        inputs: Vec<InputTensor>,
        outputs: Arc<[String]>,
        deadline: Option<Instant>,
    ) -> Result<RunOutput, ServeError> {
        self.executor.run(inputs, outputs, deadline).await
    }
}

/// One ONNX Runtime session as every version gets it (the benchmark
/// harnesses in `examples/` build theirs here too, so they compare like with
/// like). The error is ONNX Runtime's message.
pub fn build_session(runtime: &OnnxRuntime, path: &Path, intra_op_threads: usize) -> Result<Session, String> {
    let text = |e: ort::Error<_>| e.to_string();
    Session::builder(&runtime.environment)
        .map_err(|e| e.to_string())?
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(text)?
        .with_intra_threads(intra_op_threads)
        .map_err(text)?
        .with_inter_threads(1)
        .map_err(text)?
        .commit_from_file(path)
        .map_err(|e| e.to_string())
}
