//! A request checked against the version that will run it: every declared
//! input exactly once, each matching its declaration, and outputs that exist.

use std::sync::Arc;

use super::ModelVersion;
use crate::error::ServeError;
use crate::tensor::{InputTensor, shape_text};

impl ModelVersion {
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
            input.validate(spec, self.settings.max_batch_size)?;
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
                shape_text(&missing.shape)
            )));
        }
        self.check_same_batch(inputs)
    }

    /// With a batch dimension, every input must have the same batch size.
    fn check_same_batch(&self, inputs: &[InputTensor]) -> Result<(), ServeError> {
        if self.settings.max_batch_size == 0 {
            return Ok(());
        }
        let batch = inputs.first().and_then(|i| i.shape.first()).copied();
        match inputs.iter().find(|i| i.shape.first().copied() != batch) {
            Some(other) => Err(ServeError::invalid(format!(
                "input '{}': expected batch size {} like the other inputs, got {}",
                other.name,
                batch.unwrap_or(0),
                other.shape.first().copied().unwrap_or(0)
            ))),
            None => Ok(()),
        }
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
}
