//! ONNX Runtime sessions as the engine runs them.

use std::path::Path;
use std::time::Instant;

use ::ort::memory::Allocator;
use ::ort::session::Session as OrtSessionInner;
use ::ort::session::builder::GraphOptimizationLevel;
use ::ort::value::DynValue;

use super::library::OnnxRuntime;
use super::providers;
use super::values::{build_value, from_ort_value, tensor_spec};
use crate::backend::{
    Backend, BackendError, ExecutionMode, GraphOptimization, RunTimings, Session, SessionOutput,
    SessionSettings,
};
use crate::error::ServeError;
use crate::tensor::{InputTensor, OutputTensor, TensorData, TensorSpec};

/// One ONNX Runtime session as every version gets it (the benchmark
/// harnesses in `examples/` build theirs here too, so they compare like with
/// like). The error is ONNX Runtime's message, or names the execution
/// provider that is missing or failed and the library.
pub fn build_session(
    runtime: &OnnxRuntime,
    path: &Path,
    settings: &SessionSettings,
) -> Result<OrtSessionInner, BackendError> {
    let text = |e: ::ort::Error<_>| BackendError::Load(e.to_string());
    let builder = ::ort::session::Session::builder(&runtime.environment)
        .map_err(|e| BackendError::Load(e.to_string()))?
        .with_optimization_level(optimization_level(settings.graph_optimization))
        .map_err(text)?
        .with_intra_threads(settings.intra_op_threads)
        .map_err(text)?
        .with_inter_threads(settings.inter_op_threads)
        .map_err(text)?
        .with_parallel_execution(settings.execution_mode == ExecutionMode::Parallel)
        .map_err(text)?;
    let builder = match settings.memory_pattern {
        Some(enable) => builder.with_memory_pattern(enable).map_err(text)?,
        None => builder,
    };
    let mut builder = providers::register(
        builder,
        &settings.execution_providers,
        settings.memory_arena,
        &runtime.library,
    )?;
    let session = builder
        .commit_from_file(path)
        .map_err(|e| BackendError::Load(e.to_string()))?;
    let names: Vec<&str> = settings
        .execution_providers
        .iter()
        .map(|p| p.kind.name())
        .collect();
    tracing::debug!(path = %path.display(), providers = %names.join(","), "onnx runtime session built");
    Ok(session)
}

fn optimization_level(level: GraphOptimization) -> GraphOptimizationLevel {
    match level {
        GraphOptimization::Disabled => GraphOptimizationLevel::Disable,
        GraphOptimization::Basic => GraphOptimizationLevel::Level1,
        GraphOptimization::Extended => GraphOptimizationLevel::Level2,
        GraphOptimization::All => GraphOptimizationLevel::All,
    }
}

impl Backend for OnnxRuntime {
    fn load(&self, path: &Path, settings: &SessionSettings) -> Result<Box<dyn Session>, BackendError> {
        let session = build_session(self, path, settings)?;
        let inputs = session
            .inputs()
            .iter()
            .map(|outlet| tensor_spec(outlet.name(), outlet.dtype()))
            .collect::<Result<Vec<_>, _>>()?;
        let outputs = session
            .outputs()
            .iter()
            .map(|outlet| tensor_spec(outlet.name(), outlet.dtype()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Box::new(OrtSession {
            session,
            allocator: Allocator::default(),
            inputs,
            outputs,
        }))
    }
}

/// A session with its declaration read once at load.
struct OrtSession {
    session: OrtSessionInner,
    /// The default CPU allocator input tensors are created in.
    allocator: Allocator,
    inputs: Vec<TensorSpec>,
    outputs: Vec<TensorSpec>,
}

impl Session for OrtSession {
    fn inputs(&self) -> &[TensorSpec] {
        &self.inputs
    }

    fn outputs(&self) -> &[TensorSpec] {
        &self.outputs
    }

    fn run(&mut self, inputs: &[InputTensor], outputs: &[String]) -> Result<SessionOutput, ServeError> {
        let started = Instant::now();
        let mut values = Vec::with_capacity(inputs.len());
        for input in inputs {
            let value = build_value(
                &self.allocator,
                &input.name,
                input.datatype,
                &input.shape,
                &[&input.data],
            )?;
            values.push((input.name.as_str(), value));
        }
        self.run_values(values, outputs, started)
    }

    fn run_batch(
        &mut self,
        requests: &[&[InputTensor]],
        outputs: &[String],
    ) -> Result<SessionOutput, ServeError> {
        let started = Instant::now();
        let Some(first) = requests.first() else {
            return Err(ServeError::Runtime("an empty batch".into()));
        };
        let rows =
            |inputs: &[InputTensor]| inputs.first().and_then(|i| i.shape.first()).copied().unwrap_or(0);
        let total: i64 = requests.iter().map(|r| rows(r)).sum();
        let mut values = Vec::with_capacity(first.len());
        for input in first.iter() {
            let parts: Vec<&TensorData> = requests
                .iter()
                .filter_map(|request| request.iter().find(|i| i.name == input.name))
                .map(|i| &i.data)
                .collect();
            let mut shape = input.shape.clone();
            if let Some(batch) = shape.first_mut() {
                *batch = total;
            }
            let value = build_value(&self.allocator, &input.name, input.datatype, &shape, &parts)?;
            values.push((input.name.as_str(), value));
        }
        self.run_values(values, outputs, started)
    }
}

impl OrtSession {
    /// Runs prepared input values and copies out the named outputs, in
    /// order; `started` is when input conversion began.
    fn run_values(
        &mut self,
        values: Vec<(&str, DynValue)>,
        outputs: &[String],
        started: Instant,
    ) -> Result<SessionOutput, ServeError> {
        let converted = Instant::now();
        let mut results = self
            .session
            .run(values)
            .map_err(|e| ServeError::Runtime(e.to_string()))?;
        let ran = Instant::now();
        let outputs = outputs
            .iter()
            .map(|name| {
                let value = results
                    .remove(name)
                    .ok_or_else(|| ServeError::Runtime(format!("model produced no output '{name}'")))?;
                from_ort_value(name, value)
            })
            .collect::<Result<Vec<OutputTensor>, ServeError>>()?;
        let timings = RunTimings {
            input: converted - started,
            infer: ran - converted,
            output: ran.elapsed(),
        };
        Ok(SessionOutput { outputs, timings })
    }
}
