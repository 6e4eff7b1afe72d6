//! The seam between the engine and whatever runs a model: "load this model
//! file with these settings" ([`Backend`]) and "run this job" ([`Session`]).
//! ONNX Runtime is the implementation (`backend::ort`); unit tests use a
//! fake (`backend::fake`). Everything above this module is backend-neutral:
//! session threads, batching, queues and validation work on these traits.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::ServeError;
use crate::tensor::{InputTensor, OutputTensor, TensorSpec};

#[cfg(test)]
pub mod fake;
pub mod ort;

/// How one session is built. The defaults never start a thread per core:
/// one thread inside an operator, one across operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSettings {
    /// Threads a backend may use inside one operator; 0 = the runtime's own
    /// default (ONNX Runtime: one per physical core).
    pub intra_op_threads: usize,
    /// Threads a backend may use to run independent operators at once
    /// (parallel execution only); 0 = the runtime's own default.
    pub inter_op_threads: usize,
    /// How much the runtime rewrites the graph before running it.
    pub graph_optimization: GraphOptimization,
    /// Whether independent operators may run at once.
    pub execution_mode: ExecutionMode,
    /// The runtime's CPU memory arena on or off; `None` = its default.
    pub memory_arena: Option<bool>,
    /// The runtime's memory pattern planning on or off; `None` = its default.
    pub memory_pattern: Option<bool>,
    /// Execution providers in order of preference; each must be available
    /// and initialise, or the load fails (never a silent CPU fallback).
    pub execution_providers: Vec<ExecutionProvider>,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            intra_op_threads: 1,
            inter_op_threads: 1,
            graph_optimization: GraphOptimization::default(),
            execution_mode: ExecutionMode::default(),
            memory_arena: None,
            memory_pattern: None,
            execution_providers: vec![ExecutionProvider::cpu()],
        }
    }
}

/// Graph optimisation level (ONNX Runtime's names).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GraphOptimization {
    Disabled,
    Basic,
    Extended,
    #[default]
    All,
}

/// Operators one after the other, or independent ones at once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionMode {
    #[default]
    Sequential,
    Parallel,
}

/// An execution provider a session may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    Cpu,
    Cuda,
    #[serde(rename = "tensorrt")]
    TensorRt,
    #[serde(rename = "openvino")]
    OpenVino,
    Rocm,
}

impl ProviderKind {
    /// The name used in configuration files and messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Cuda => "cuda",
            Self::TensorRt => "tensorrt",
            Self::OpenVino => "openvino",
            Self::Rocm => "rocm",
        }
    }

    /// Whether the provider runs on a GPU.
    pub fn is_gpu(self) -> bool {
        matches!(self, Self::Cuda | Self::TensorRt | Self::Rocm)
    }
}

impl std::fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One entry of the preference list: a provider and its options, passed to
/// the runtime as key/value strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionProvider {
    pub kind: ProviderKind,
    pub options: BTreeMap<String, String>,
}

impl ExecutionProvider {
    /// The CPU provider without options.
    pub fn cpu() -> Self {
        Self::new(ProviderKind::Cpu)
    }

    /// `kind` without options.
    pub fn new(kind: ProviderKind) -> Self {
        Self {
            kind,
            options: BTreeMap::new(),
        }
    }
}

/// Why a model file could not become a session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// The runtime refused the file or the settings; its own message.
    #[error("{0}")]
    Load(String),
    /// The model loads but has an input or output the v2 protocol cannot carry.
    #[error("'{name}' {reason}")]
    Unservable { name: String, reason: String },
    /// An execution provider asked for is not in the runtime library or
    /// failed to initialise; the session is not built on another one.
    #[error("execution provider {provider} {reason} (ONNX Runtime library {})", library.display())]
    Provider {
        provider: ProviderKind,
        library: PathBuf,
        reason: String,
    },
}

/// Where one run's time went (Triton's compute_input / compute_infer /
/// compute_output).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunTimings {
    /// Turning the request's tensors into the runtime's values.
    pub input: Duration,
    /// The runtime's own run.
    pub infer: Duration,
    /// Copying the outputs back out.
    pub output: Duration,
}

/// What a run produced.
#[derive(Debug)]
pub struct SessionOutput {
    pub outputs: Vec<OutputTensor>,
    pub timings: RunTimings,
}

/// Builds sessions from model files. Shared by the reload task and `check`.
pub trait Backend: Send + Sync {
    /// Loads `path` into one session. Blocking: call from a blocking thread.
    fn load(&self, path: &Path, settings: &SessionSettings) -> Result<Box<dyn Session>, BackendError>;
}

/// One loaded model that runs one job at a time. A session is owned by one
/// thread (runs take `&mut self` and block).
pub trait Session: Send {
    /// Declared inputs, in the model's order.
    fn inputs(&self) -> &[TensorSpec];
    /// Declared outputs, in the model's order.
    fn outputs(&self) -> &[TensorSpec];
    /// Runs validated inputs and returns the named outputs, in that order.
    fn run(&mut self, inputs: &[InputTensor], outputs: &[String]) -> Result<SessionOutput, ServeError>;
    /// Runs several requests with the same inputs as one, stacked along the
    /// first dimension in the order given; returns the stacked outputs.
    fn run_batch(
        &mut self,
        requests: &[&[InputTensor]],
        outputs: &[String],
    ) -> Result<SessionOutput, ServeError>;
}
