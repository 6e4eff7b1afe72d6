//! The seam between the engine and whatever runs a model: "load this model
//! file with these settings" ([`Backend`]) and "run this job" ([`Session`]).
//! ONNX Runtime is the implementation (`backend::ort`); unit tests use a
//! fake (`backend::fake`). Everything above this module is backend-neutral:
//! session threads, batching, queues and validation work on these traits.

use std::path::Path;
use std::time::Duration;

use crate::error::ServeError;
use crate::tensor::{InputTensor, OutputTensor, TensorSpec};

#[cfg(test)]
pub mod fake;
pub mod ort;

/// How one session is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSettings {
    /// Threads a backend may use inside one operator.
    pub intra_op_threads: usize,
    /// Threads a backend may use to run independent operators at once.
    pub inter_op_threads: usize,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            intra_op_threads: 1,
            inter_op_threads: 1,
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
