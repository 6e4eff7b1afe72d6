//! The inputs and outputs a Triton `config.pbtxt` declares, checked against
//! the model once it is loaded: a difference in name, data type or dims
//! fails the load and names the tensor, as Triton's ONNX Runtime backend
//! does. With `max_batch_size > 0` Triton's dims leave out the batch
//! dimension, which the model must have as its dynamic first dimension.

use crate::backend::BackendError;
use crate::model::LoadError;
use crate::tensor::{DataType, TensorSpec};

/// What a `config.pbtxt` says about the model's tensors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeclaredIo {
    /// `max_batch_size > 0`: every shape starts with an implicit batch dimension.
    pub batched: bool,
    /// The `input` entries; empty = not declared.
    pub inputs: Vec<DeclaredTensor>,
    /// The `output` entries; empty = not declared.
    pub outputs: Vec<DeclaredTensor>,
}

/// One `input` or `output` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredTensor {
    pub name: String,
    pub datatype: DataType,
    /// As written; `-1` = any size.
    pub dims: Vec<i64>,
}

/// The first difference between a declaration and the model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{tensor}' {reason}")]
pub struct IoMismatch {
    /// The input or output concerned.
    pub tensor: String,
    pub reason: String,
}

impl From<IoMismatch> for LoadError {
    fn from(mismatch: IoMismatch) -> Self {
        LoadError::Backend(BackendError::Unservable {
            name: mismatch.tensor,
            reason: mismatch.reason,
        })
    }
}

/// Checks `declared` against the loaded model's `inputs` and `outputs`.
/// Every declared tensor must exist with the same data type and matching
/// dims (a dynamic model dimension matches any declared size); when inputs
/// are declared, every model input must be among them. Outputs may be a
/// subset. `None` (no `config.pbtxt`, or one without `input`/`output`) passes.
pub fn check_declared_io(
    declared: Option<&DeclaredIo>,
    inputs: &[TensorSpec],
    outputs: &[TensorSpec],
) -> Result<(), IoMismatch> {
    let Some(declared) = declared else {
        return Ok(());
    };
    check_list("input", &declared.inputs, inputs, declared.batched)?;
    check_list("output", &declared.outputs, outputs, declared.batched)?;
    if !declared.inputs.is_empty()
        && let Some(missing) = inputs
            .iter()
            .find(|m| !declared.inputs.iter().any(|d| d.name == m.name))
    {
        return Err(IoMismatch {
            tensor: missing.name.clone(),
            reason: format!(
                "is an input of the model ({} {:?}) but config.pbtxt does not declare it",
                missing.datatype, missing.shape
            ),
        });
    }
    Ok(())
}

fn check_list(
    kind: &str,
    declared: &[DeclaredTensor],
    model: &[TensorSpec],
    batched: bool,
) -> Result<(), IoMismatch> {
    for entry in declared {
        let mismatch = |reason: String| IoMismatch {
            tensor: entry.name.clone(),
            reason,
        };
        let Some(spec) = model.iter().find(|s| s.name == entry.name) else {
            let names: Vec<&str> = model.iter().map(|s| s.name.as_str()).collect();
            return Err(mismatch(format!(
                "is declared as an {kind} in config.pbtxt but the model has no such {kind} (its {kind}s: {})",
                names.join(", ")
            )));
        };
        let expected: Vec<i64> = batched
            .then_some(-1)
            .into_iter()
            .chain(entry.dims.iter().copied())
            .collect();
        let dims_match = spec.shape.len() == expected.len()
            && spec
                .shape
                .iter()
                .zip(&expected)
                .all(|(&model_dim, &declared_dim)| model_dim == -1 || model_dim == declared_dim);
        if spec.datatype != entry.datatype || !dims_match {
            let batch_note = if batched { " after the batch dimension" } else { "" };
            return Err(mismatch(format!(
                "{kind} is declared in config.pbtxt as {} dims {:?}{batch_note} but the model has {} {} shape {:?}",
                entry.datatype.config_name(),
                entry.dims,
                spec.datatype.config_name(),
                kind,
                spec.shape
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, shape: &[i64]) -> TensorSpec {
        TensorSpec {
            name: name.into(),
            datatype: DataType::Fp32,
            shape: shape.to_vec(),
        }
    }

    fn declared(name: &str, dims: &[i64]) -> DeclaredTensor {
        DeclaredTensor {
            name: name.into(),
            datatype: DataType::Fp32,
            dims: dims.to_vec(),
        }
    }

    #[test]
    fn batched_dims_leave_out_the_batch_dimension() {
        let io = DeclaredIo {
            batched: true,
            inputs: vec![declared("a", &[4]), declared("b", &[4])],
            outputs: vec![declared("sum", &[4])],
        };
        let inputs = [spec("a", &[-1, 4]), spec("b", &[-1, 4])];
        let outputs = [spec("sum", &[-1, 4]), spec("diff", &[-1, 4])];
        assert_eq!(check_declared_io(Some(&io), &inputs, &outputs), Ok(()));
        assert_eq!(check_declared_io(None, &inputs, &outputs), Ok(()));
        // A dynamic model dimension takes any declared size.
        let dynamic = [spec("a", &[-1, -1]), spec("b", &[-1, 4])];
        assert_eq!(check_declared_io(Some(&io), &dynamic, &outputs), Ok(()));
    }

    #[test]
    fn each_difference_names_the_tensor() {
        let inputs = [spec("a", &[-1, 4]), spec("b", &[-1, 4])];
        let outputs = [spec("sum", &[-1, 4])];
        let cases = [
            (vec![declared("x", &[4]), declared("b", &[4])], "'x'"),
            (vec![declared("a", &[8]), declared("b", &[4])], "'a'"),
            (vec![declared("a", &[4])], "'b' is an input of the model"),
            (vec![declared("a", &[-1]), declared("b", &[4])], "'a'"),
        ];
        for (declared_inputs, expected) in cases {
            let io = DeclaredIo {
                batched: true,
                inputs: declared_inputs,
                outputs: Vec::new(),
            };
            let err = check_declared_io(Some(&io), &inputs, &outputs)
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(expected), "{err}");
        }
        let wrong_type = DeclaredIo {
            batched: false,
            inputs: Vec::new(),
            outputs: vec![DeclaredTensor {
                datatype: DataType::Int64,
                ..declared("sum", &[-1, 4])
            }],
        };
        let err = check_declared_io(Some(&wrong_type), &inputs, &outputs).unwrap_err();
        assert!(
            err.to_string().contains("TYPE_INT64") && err.to_string().contains("TYPE_FP32"),
            "{err}"
        );
        let load_error = LoadError::from(err).to_string();
        assert!(load_error.starts_with("'sum'"), "{load_error}");
    }
}
