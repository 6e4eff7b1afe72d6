//! Protobuf <-> engine types for ModelInfer. Raw contents stay zero-copy
//! slices of the received message; typed `contents` are packed into the same
//! little-endian layout so everything downstream sees one representation.

use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use tonic::metadata::MetadataMap;

use crate::engine::{InferRequest, InferResponse, RequestHeaders};
use crate::error::ServeError;
use crate::proto::inference::model_infer_request::InferInputTensor;
use crate::proto::inference::model_infer_response::InferOutputTensor;
use crate::proto::inference::{InferTensorContents, ModelInferRequest, ModelInferResponse};
use crate::tensor::{
    DataType, InputTensor, MAX_TENSORS, TensorData, check_bytes_elements, split_bytes_elements,
};

/// A request's metadata as the engine reads headers (text values only).
pub struct Metadata<'a>(pub &'a MetadataMap);

impl RequestHeaders for Metadata<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(|value| value.to_str().ok())
    }
}

/// Decodes a ModelInfer request. `deadline` comes from `grpc-timeout`.
pub fn infer_request(
    request: ModelInferRequest,
    deadline: Option<Instant>,
) -> Result<InferRequest, ServeError> {
    let ModelInferRequest {
        model_name,
        model_version,
        id,
        inputs,
        outputs,
        raw_input_contents,
        ..
    } = request;
    if inputs.len() > MAX_TENSORS || outputs.len() > MAX_TENSORS {
        return Err(ServeError::invalid(format!(
            "a request may carry at most {MAX_TENSORS} inputs and request at most {MAX_TENSORS} outputs; got {} and {}",
            inputs.len(),
            outputs.len()
        )));
    }
    let use_raw = !raw_input_contents.is_empty();
    if use_raw && raw_input_contents.len() != inputs.len() {
        return Err(ServeError::invalid(format!(
            "raw_input_contents has {} entries for {} inputs; send one per input or use contents",
            raw_input_contents.len(),
            inputs.len()
        )));
    }
    let mut raw = raw_input_contents.into_iter();
    let inputs = inputs
        .into_iter()
        .map(|input| {
            let raw = if use_raw { raw.next() } else { None };
            input_tensor(input, raw)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(InferRequest {
        model_name,
        model_version,
        id,
        inputs,
        outputs: outputs.into_iter().map(|o| o.name).collect(),
        deadline,
    })
}

fn input_tensor(input: InferInputTensor, raw: Option<Bytes>) -> Result<InputTensor, ServeError> {
    let name = input.name;
    let datatype = DataType::parse(&input.datatype).ok_or_else(|| {
        ServeError::invalid(format!(
            "input '{name}': unknown datatype '{}'; expected one of BOOL, UINT8..UINT64, INT8..INT64, FP16, BF16, FP32, FP64, BYTES",
            input.datatype
        ))
    })?;
    let data = match (raw, input.contents) {
        (Some(_), Some(contents)) if !contents_empty(&contents) => {
            return Err(ServeError::invalid(format!(
                "input '{name}': data given both in raw_input_contents and in contents"
            )));
        }
        (Some(raw), _) if datatype == DataType::Bytes => {
            check_bytes_elements(&name, &input.shape, &raw)?;
            TensorData::Strings(split_bytes_elements(&name, &raw)?)
        }
        (Some(raw), _) => TensorData::Raw(raw),
        (None, Some(contents)) => typed_contents(&name, datatype, contents)?,
        (None, None) => typed_contents(&name, datatype, InferTensorContents::default())?,
    };
    Ok(InputTensor {
        name,
        datatype,
        shape: input.shape,
        data,
    })
}

fn contents_empty(c: &InferTensorContents) -> bool {
    c.bool_contents.is_empty()
        && c.int_contents.is_empty()
        && c.int64_contents.is_empty()
        && c.uint_contents.is_empty()
        && c.uint64_contents.is_empty()
        && c.fp32_contents.is_empty()
        && c.fp64_contents.is_empty()
        && c.bytes_contents.is_empty()
}

/// Packs typed contents into raw little-endian bytes, range-checking the
/// narrow integer types that travel in 32-bit fields.
fn typed_contents(name: &str, datatype: DataType, c: InferTensorContents) -> Result<TensorData, ServeError> {
    fn pack<T: Copy>(values: &[T], width: usize, mut put: impl FnMut(&mut BytesMut, T)) -> TensorData {
        let mut out = BytesMut::with_capacity(values.len() * width);
        for &value in values {
            put(&mut out, value);
        }
        TensorData::Raw(out.freeze())
    }
    let out_of_range = |value: i64| {
        ServeError::invalid(format!(
            "input '{name}': value {value} does not fit datatype {datatype}"
        ))
    };
    Ok(match datatype {
        DataType::Bool => pack(&c.bool_contents, 1, |o, v| o.put_u8(u8::from(v))),
        DataType::Uint8 => {
            let values = narrow::<_, u8>(&c.uint_contents, |v| out_of_range(i64::from(v)))?;
            TensorData::Raw(Bytes::from(values))
        }
        DataType::Uint16 => {
            let values = narrow::<_, u16>(&c.uint_contents, |v| out_of_range(i64::from(v)))?;
            pack(&values, 2, |o, v| o.put_u16_le(v))
        }
        DataType::Uint32 => pack(&c.uint_contents, 4, |o, v| o.put_u32_le(v)),
        DataType::Uint64 => pack(&c.uint64_contents, 8, |o, v| o.put_u64_le(v)),
        DataType::Int8 => {
            let values = narrow::<_, i8>(&c.int_contents, |v| out_of_range(i64::from(v)))?;
            pack(&values, 1, |o, v| o.put_i8(v))
        }
        DataType::Int16 => {
            let values = narrow::<_, i16>(&c.int_contents, |v| out_of_range(i64::from(v)))?;
            pack(&values, 2, |o, v| o.put_i16_le(v))
        }
        DataType::Int32 => pack(&c.int_contents, 4, |o, v| o.put_i32_le(v)),
        DataType::Int64 => pack(&c.int64_contents, 8, |o, v| o.put_i64_le(v)),
        DataType::Fp32 => pack(&c.fp32_contents, 4, |o, v| o.put_f32_le(v)),
        DataType::Fp64 => pack(&c.fp64_contents, 8, |o, v| o.put_f64_le(v)),
        DataType::Bytes => TensorData::Strings(c.bytes_contents),
        DataType::Fp16 | DataType::Bf16 => {
            if !contents_empty(&c) {
                return Err(ServeError::invalid(format!(
                    "input '{name}': {datatype} has no typed contents field; send it in raw_input_contents"
                )));
            }
            TensorData::Raw(Bytes::new())
        }
    })
}

fn narrow<V: Copy, T: TryFrom<V>>(
    values: &[V],
    error: impl Fn(V) -> ServeError,
) -> Result<Vec<T>, ServeError> {
    values
        .iter()
        .map(|&v| T::try_from(v).map_err(|_| error(v)))
        .collect()
}

/// Encodes a response with every output in `raw_output_contents`.
pub fn infer_response(response: InferResponse) -> ModelInferResponse {
    let mut outputs = Vec::with_capacity(response.outputs.len());
    let mut raw = Vec::with_capacity(response.outputs.len());
    for output in response.outputs {
        outputs.push(InferOutputTensor {
            name: output.name,
            datatype: output.datatype.as_str().to_string(),
            shape: output.shape,
            ..Default::default()
        });
        raw.push(output.data);
    }
    ModelInferResponse {
        model_name: response.model_name,
        model_version: response.model_version,
        id: response.id,
        outputs,
        raw_output_contents: raw,
        ..Default::default()
    }
}

/// How much earlier than the client's deadline the engine gives up. tonic's
/// transport enforces `grpc-timeout` too, but answers CANCELLED ("Timeout
/// expired"); expiring a timer tick earlier lets the engine answer first with
/// the right code, DEADLINE_EXCEEDED.
const DEADLINE_HEAD_START: Duration = Duration::from_millis(5);

/// The request's deadline from its `grpc-timeout` header, if any.
pub fn deadline(metadata: &MetadataMap) -> Option<Instant> {
    let value = metadata.get("grpc-timeout")?.to_str().ok()?;
    let timeout = parse_grpc_timeout(value)?.saturating_sub(DEADLINE_HEAD_START);
    Some(Instant::now() + timeout)
}

/// Parses gRPC's timeout format: up to 8 digits and a unit (H M S m u n).
fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    if value.len() < 2 || value.len() > 9 {
        return None;
    }
    let (digits, unit) = value.split_at(value.len() - 1);
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount.checked_mul(3600)?),
        "M" => Duration::from_secs(amount.checked_mul(60)?),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(datatype: &str, contents: InferTensorContents) -> InferInputTensor {
        InferInputTensor {
            name: "x".into(),
            datatype: datatype.into(),
            shape: vec![2],
            contents: Some(contents),
            ..Default::default()
        }
    }

    #[test]
    fn grpc_timeout_units() {
        assert_eq!(parse_grpc_timeout("100m"), Some(Duration::from_millis(100)));
        assert_eq!(parse_grpc_timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("5x"), None);
        assert_eq!(parse_grpc_timeout("m"), None);
    }

    #[test]
    fn typed_int8_contents_are_range_checked() {
        let ok = input_tensor(
            input(
                "INT8",
                InferTensorContents {
                    int_contents: vec![-3, 127],
                    ..Default::default()
                },
            ),
            None,
        )
        .unwrap();
        let TensorData::Raw(raw) = ok.data else {
            panic!("raw expected")
        };
        assert_eq!(raw.as_ref(), &[0xfd, 0x7f]);
        let err = input_tensor(
            input(
                "INT8",
                InferTensorContents {
                    int_contents: vec![300],
                    ..Default::default()
                },
            ),
            None,
        )
        .unwrap_err();
        assert!(err.to_string().contains("300"), "{err}");
    }

    #[test]
    fn typed_fp32_contents_pack_little_endian() {
        let t = input_tensor(
            input(
                "FP32",
                InferTensorContents {
                    fp32_contents: vec![1.0, -2.5],
                    ..Default::default()
                },
            ),
            None,
        )
        .unwrap();
        let TensorData::Raw(raw) = t.data else {
            panic!("raw expected")
        };
        let mut expected = 1.0f32.to_le_bytes().to_vec();
        expected.extend((-2.5f32).to_le_bytes());
        assert_eq!(raw.as_ref(), expected.as_slice());
    }

    #[test]
    fn unknown_datatype_is_named() {
        let err = input_tensor(input("FLOAT", InferTensorContents::default()), None).unwrap_err();
        assert!(err.to_string().contains("'FLOAT'"), "{err}");
    }

    #[test]
    fn too_many_inputs_are_refused() {
        let request = ModelInferRequest {
            inputs: vec![input("FP32", InferTensorContents::default()); MAX_TENSORS + 1],
            ..Default::default()
        };
        let err = infer_request(request, None).unwrap_err();
        assert!(err.to_string().contains("at most 256 inputs"), "{err}");
    }

    #[test]
    fn raw_count_must_match_inputs() {
        let request = ModelInferRequest {
            inputs: vec![
                input("FP32", InferTensorContents::default()),
                input("FP32", InferTensorContents::default()),
            ],
            raw_input_contents: vec![Bytes::from_static(&[0; 8])],
            ..Default::default()
        };
        assert!(infer_request(request, None).is_err());
    }
}
