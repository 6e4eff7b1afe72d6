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
    build_value(
        allocator,
        &input.name,
        input.datatype,
        &input.shape,
        &[&input.data],
    )
}

/// Builds one value of `shape` from `parts` laid end to end (the inputs of a
/// dynamic batch), copying each part's bytes once, straight into the tensor.
pub fn build_value(
    allocator: &Allocator,
    name: &str,
    datatype: DataType,
    shape: &[i64],
    parts: &[&TensorData],
) -> Result<DynValue, ServeError> {
    let runtime_error = |e: ort::Error| ServeError::Runtime(format!("input '{name}': {e}"));
    if datatype == DataType::Bytes {
        let mut texts = Vec::new();
        for part in parts {
            let TensorData::Strings(items) = part else {
                return Err(ServeError::invalid(format!(
                    "input '{name}': BYTES data expected"
                )));
            };
            for item in items {
                let text = std::str::from_utf8(item).ok().filter(|t| !t.contains('\0')).ok_or_else(|| {
                    ServeError::invalid(format!(
                        "input '{name}': BYTES elements must be UTF-8 without NUL bytes for ONNX Runtime string tensors"
                    ))
                })?;
                texts.push(text.to_owned());
            }
        }
        let tensor = Tensor::from_string_array((shape.to_vec(), texts.as_slice())).map_err(runtime_error)?;
        return Ok(tensor.into_dyn());
    }
    let mut tensor = DynTensor::new(allocator, datatype.to_ort(), Shape::new(shape.iter().copied()))
        .map_err(runtime_error)?;
    let size = tensor.size().unwrap_or(0);
    let mut offset = 0usize;
    for part in parts {
        let TensorData::Raw(raw) = part else {
            return Err(ServeError::invalid(format!(
                "input '{name}': raw data expected for {datatype}"
            )));
        };
        if offset + raw.len() > size {
            return Err(ServeError::invalid(format!(
                "input '{name}': expected {size} bytes, got more"
            )));
        }
        if !raw.is_empty() {
            // SAFETY: the tensor owns `size` writable CPU bytes (default CPU
            // allocator); `offset + raw.len() <= size` was checked above and
            // the source is a distinct buffer.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    raw.as_ptr(),
                    tensor.data_ptr_mut().cast::<u8>().add(offset),
                    raw.len(),
                );
            }
        }
        offset += raw.len();
    }
    if offset != size {
        return Err(ServeError::invalid(format!(
            "input '{name}': expected {size} bytes, got {offset}"
        )));
    }
    Ok(tensor.into_dyn())
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
