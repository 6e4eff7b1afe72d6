//! Conversion between the engine's tensors and ONNX Runtime values. Each
//! direction copies tensor data exactly once.

use ::ort::memory::Allocator;
use ::ort::value::{DynTensor, DynTensorValueType, DynValue, Shape, Tensor, TensorElementType, ValueType};
use bytes::Bytes;

use crate::backend::BackendError;
use crate::error::ServeError;
use crate::tensor::{DataType, OutputTensor, TensorData, TensorSpec, encode_bytes_elements};

#[cfg(target_endian = "big")]
compile_error!("v2 raw tensors are little-endian; big-endian hosts would need byte swapping");

/// Builds one value of `shape` from `parts` laid end to end (the inputs of a
/// dynamic batch), copying each part's bytes once, straight into the tensor.
pub fn build_value(
    allocator: &Allocator,
    name: &str,
    datatype: DataType,
    shape: &[i64],
    parts: &[&TensorData],
) -> Result<DynValue, ServeError> {
    let runtime_error = |e: ::ort::Error| ServeError::Runtime(format!("input '{name}': {e}"));
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
    let mut tensor = DynTensor::new(allocator, to_ort(datatype), Shape::new(shape.iter().copied()))
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
    let runtime_error = |e: ::ort::Error| ServeError::Runtime(format!("output '{name}': {e}"));
    let ValueType::Tensor { ty, .. } = value.dtype().clone() else {
        return Err(ServeError::Runtime(format!("output '{name}' is not a tensor")));
    };
    let datatype = from_ort(ty)
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
pub fn tensor_spec(name: &str, dtype: &ValueType) -> Result<TensorSpec, BackendError> {
    let unservable = |reason: String| BackendError::Unservable {
        name: name.to_string(),
        reason,
    };
    match dtype {
        ValueType::Tensor { ty, shape, .. } => {
            let datatype = from_ort(*ty).ok_or_else(|| {
                unservable(format!(
                    "has element type {ty:?}, which the v2 protocol cannot carry"
                ))
            })?;
            Ok(TensorSpec {
                name: name.to_string(),
                datatype,
                shape: shape.iter().map(|&d| if d < 0 { -1 } else { d }).collect(),
            })
        }
        other => Err(unservable(format!(
            "is a {other:?}, not a tensor; only tensor inputs and outputs can be served"
        ))),
    }
}

/// Maps ONNX Runtime's element type; `None` for types v2 cannot carry
/// (complex numbers, 8-bit and 4-bit floats).
pub fn from_ort(ty: TensorElementType) -> Option<DataType> {
    Some(match ty {
        TensorElementType::Bool => DataType::Bool,
        TensorElementType::Uint8 => DataType::Uint8,
        TensorElementType::Uint16 => DataType::Uint16,
        TensorElementType::Uint32 => DataType::Uint32,
        TensorElementType::Uint64 => DataType::Uint64,
        TensorElementType::Int8 => DataType::Int8,
        TensorElementType::Int16 => DataType::Int16,
        TensorElementType::Int32 => DataType::Int32,
        TensorElementType::Int64 => DataType::Int64,
        TensorElementType::Float16 => DataType::Fp16,
        TensorElementType::Bfloat16 => DataType::Bf16,
        TensorElementType::Float32 => DataType::Fp32,
        TensorElementType::Float64 => DataType::Fp64,
        TensorElementType::String => DataType::Bytes,
        _ => return None,
    })
}

/// The ONNX Runtime element type of `datatype`.
pub fn to_ort(datatype: DataType) -> TensorElementType {
    match datatype {
        DataType::Bool => TensorElementType::Bool,
        DataType::Uint8 => TensorElementType::Uint8,
        DataType::Uint16 => TensorElementType::Uint16,
        DataType::Uint32 => TensorElementType::Uint32,
        DataType::Uint64 => TensorElementType::Uint64,
        DataType::Int8 => TensorElementType::Int8,
        DataType::Int16 => TensorElementType::Int16,
        DataType::Int32 => TensorElementType::Int32,
        DataType::Int64 => TensorElementType::Int64,
        DataType::Fp16 => TensorElementType::Float16,
        DataType::Bf16 => TensorElementType::Bfloat16,
        DataType::Fp32 => TensorElementType::Float32,
        DataType::Fp64 => TensorElementType::Float64,
        DataType::Bytes => TensorElementType::String,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_datatype_maps_both_ways() {
        for datatype in DataType::ALL {
            assert_eq!(from_ort(to_ort(datatype)), Some(datatype));
        }
    }
}
