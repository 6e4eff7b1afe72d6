//! Conversion between the gateway's tensors and ONNX Runtime values. Each
//! direction copies tensor data exactly once.

use bytes::Bytes;
use ort::memory::Allocator;
use ort::value::{DynTensor, DynTensorValueType, DynValue, Shape, Tensor, TensorElementType, ValueType};

use super::{DataType, InputTensor, OutputTensor, TensorData, TensorSpec, encode_bytes_elements};
use crate::error::ServeError;

#[cfg(target_endian = "big")]
compile_error!("v2 raw tensors are little-endian; big-endian hosts would need byte swapping");

/// Builds the ONNX Runtime value for a validated input.
pub fn to_ort_value(allocator: &Allocator, input: &InputTensor) -> Result<DynValue, ServeError> {
    let runtime_error = |e: ort::Error| ServeError::Runtime(format!("input '{}': {e}", input.name));
    match &input.data {
        TensorData::Raw(raw) => {
            let shape = Shape::new(input.shape.iter().copied());
            let mut tensor =
                DynTensor::new(allocator, input.datatype.to_ort(), shape).map_err(runtime_error)?;
            if !raw.is_empty() {
                let size = tensor.size().unwrap_or(0);
                if size != raw.len() {
                    return Err(ServeError::invalid(format!(
                        "input '{}': expected {size} bytes, got {}",
                        input.name,
                        raw.len()
                    )));
                }
                // SAFETY: the tensor owns `size` writable CPU bytes (default CPU
                // allocator) and `raw` holds exactly that many; the regions are distinct.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        raw.as_ptr(),
                        tensor.data_ptr_mut().cast::<u8>(),
                        raw.len(),
                    );
                }
            }
            Ok(tensor.into_dyn())
        }
        TensorData::Strings(items) => {
            let mut texts = Vec::with_capacity(items.len());
            for item in items {
                let text = std::str::from_utf8(item)
                    .ok()
                    .filter(|t| !t.contains('\0'))
                    .ok_or_else(|| {
                        ServeError::invalid(format!(
                            "input '{}': BYTES elements must be UTF-8 without NUL bytes for ONNX Runtime string tensors",
                            input.name
                        ))
                    })?;
                texts.push(text.to_owned());
            }
            let tensor =
                Tensor::from_string_array((input.shape.clone(), texts.as_slice())).map_err(runtime_error)?;
            Ok(tensor.into_dyn())
        }
    }
}

/// Copies an ONNX Runtime output into v2 raw layout.
pub fn from_ort_value(name: &str, value: DynValue) -> Result<OutputTensor, ServeError> {
    let runtime_error = |e: ort::Error| ServeError::Runtime(format!("output '{name}': {e}"));
    let ValueType::Tensor { ty, .. } = value.dtype().clone() else {
        return Err(ServeError::Runtime(format!("output '{name}' is not a tensor")));
    };
    let datatype = DataType::from_ort(ty)
        .ok_or_else(|| ServeError::Runtime(format!("output '{name}' has unsupported element type {ty:?}")))?;
    let tensor = value.downcast::<DynTensorValueType>().map_err(runtime_error)?;
    let shape: Vec<i64> = tensor.shape().iter().copied().collect();
    let data = if ty == TensorElementType::String {
        let (_, strings) = tensor.try_extract_strings().map_err(runtime_error)?;
        encode_bytes_elements(strings.iter().map(String::as_bytes))
    } else {
        let size = tensor.size().unwrap_or(0);
        if size == 0 {
            Bytes::new()
        } else {
            // SAFETY: a CPU tensor's data pointer addresses `size` initialised bytes
            // that live as long as `tensor`, which outlives this copy.
            let slice = unsafe { std::slice::from_raw_parts(tensor.data_ptr().cast::<u8>(), size) };
            Bytes::copy_from_slice(slice)
        }
    };
    Ok(OutputTensor {
        name: name.to_string(),
        datatype,
        shape,
        data,
    })
}

/// Reads a session input/output declaration; non-tensor values (maps and
/// sequences, e.g. scikit-learn's ZipMap) cannot travel over v2.
pub fn tensor_spec(name: &str, dtype: &ValueType) -> Result<TensorSpec, String> {
    match dtype {
        ValueType::Tensor { ty, shape, .. } => {
            let datatype = DataType::from_ort(*ty).ok_or_else(|| {
                format!("'{name}' has element type {ty:?}, which the v2 protocol cannot carry")
            })?;
            Ok(TensorSpec {
                name: name.to_string(),
                datatype,
                shape: shape.iter().map(|&d| if d < 0 { -1 } else { d }).collect(),
            })
        }
        other => Err(format!(
            "'{name}' is a {other:?}, not a tensor; only tensor inputs and outputs can be served"
        )),
    }
}

/// Dummy data for warm-up: dynamic dimensions become 1, values are zero.
pub fn warmup_input(spec: &TensorSpec) -> InputTensor {
    let shape: Vec<i64> = spec.shape.iter().map(|&d| if d < 0 { 1 } else { d }).collect();
    let elements = super::element_count(&shape).unwrap_or(0);
    let data = match spec.datatype.element_size() {
        Some(size) => TensorData::Raw(Bytes::from(vec![0u8; elements * size])),
        None => TensorData::Strings(vec![Bytes::new(); elements]),
    };
    InputTensor {
        name: spec.name.clone(),
        datatype: spec.datatype,
        shape,
        data,
    }
}
