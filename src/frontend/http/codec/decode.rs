//! A REST request body to engine types: the JSON is read once (`request.rs`,
//! `data.rs`), then each input gets its data, from the JSON or from its
//! binary section, and the outputs their binary choice.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::error::Category;

use super::body::{self, Sections};
use super::data::{Packer, replay};
use super::request::{Data, InputJson, Object, OutputJson, RequestJson};
use super::{BinaryOutputs, InferBody, MAX_TENSORS};
use crate::engine::InferRequest;
use crate::error::ServeError;
use crate::tensor::check_bytes_elements;
use crate::tensor::{DataType, InputTensor, TensorData, split_bytes_elements};

/// Decodes a REST inference request for the model (and version, empty for
/// the default) named by the URL. `header_length` is the raw value of the
/// `Inference-Header-Content-Length` header, if the request has one.
pub fn decode_infer(
    model_name: &str,
    model_version: &str,
    body: Bytes,
    header_length: Option<&str>,
) -> Result<InferBody, ServeError> {
    let (json, mut sections) = body::split(body, header_length)?;
    let request = parse(&json).map_err(|e| json_error(&json, &e))?;
    let outputs = request.outputs.unwrap_or_default();
    if request.inputs.len() > MAX_TENSORS || outputs.len() > MAX_TENSORS {
        return Err(ServeError::invalid(format!(
            "a request may carry at most {MAX_TENSORS} inputs and request at most {MAX_TENSORS} outputs; got {} and {}",
            request.inputs.len(),
            outputs.len()
        )));
    }
    let parameters = request.parameters.map(|Object(p)| p).unwrap_or_default();
    let all_binary = parameters.binary_data_output.unwrap_or(false);
    let deadline = parameters
        .timeout
        .map(|micros| std::time::Instant::now() + std::time::Duration::from_micros(micros));
    let (output_names, binary_outputs) = requested_outputs(outputs, all_binary)?;
    let inputs = request
        .inputs
        .into_iter()
        .map(|input| input_tensor(input, &mut sections))
        .collect::<Result<Vec<_>, _>>()?;
    sections.finish()?;
    let request = InferRequest {
        model_name: model_name.to_string(),
        model_version: model_version.to_string(),
        id: request.id.unwrap_or_default(),
        inputs,
        outputs: output_names,
        deadline,
    };
    Ok(InferBody {
        request,
        binary_outputs,
    })
}

/// The JSON, which must be one object (whitespace may follow it).
fn parse(json: &[u8]) -> Result<RequestJson, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let Object(request) = Object::<RequestJson>::deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(request)
}

/// serde_json's own message for structure errors (they carry the position);
/// syntax errors say the JSON is invalid, with a hint for `NaN`/`Infinity`.
fn json_error(json: &[u8], error: &serde_json::Error) -> ServeError {
    if error.classify() == Category::Data {
        return ServeError::invalid(error.to_string());
    }
    let hint = if non_finite_at(json, error.line(), error.column()) {
        "; NaN and Infinity are not JSON numbers: send such values as binary data"
    } else {
        ""
    };
    ServeError::invalid(format!("the request's JSON is not valid: {error}{hint}"))
}

/// Whether a `NaN`, `Infinity` or `-Infinity` token is where the parser stopped.
fn non_finite_at(json: &[u8], line: usize, column: usize) -> bool {
    let line_start = match line {
        0 | 1 => 0,
        _ => match json
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(line - 2)
        {
            Some((at, _)) => at + 1,
            None => return false,
        },
    };
    let at = line_start + column.saturating_sub(1);
    (at.saturating_sub(1)..=at).any(|start| {
        json.get(start..).is_some_and(|rest| {
            [&b"NaN"[..], b"Infinity", b"-Infinity"]
                .iter()
                .any(|t| rest.starts_with(t))
        })
    })
}

fn input_tensor(input: InputJson, sections: &mut Sections) -> Result<InputTensor, ServeError> {
    let InputJson {
        name,
        shape,
        datatype: (text, datatype),
        parameters,
        data,
    } = input;
    let Some(datatype) = datatype else {
        return Err(ServeError::invalid(format!(
            "input '{name}': unknown datatype '{text}'; expected one of BOOL, UINT8..UINT64, INT8..INT64, FP16, BF16, FP32, FP64, BYTES"
        )));
    };
    if parameters.shared_memory_region.is_some() {
        return Err(ServeError::invalid(format!(
            "input '{name}': shared memory is not supported; send the data in 'data' or as binary data"
        )));
    }
    let no_json_form = matches!(datatype, DataType::Fp16 | DataType::Bf16);
    let data = match (data, parameters.binary_data_size) {
        (Data::Absent, None) => {
            return Err(ServeError::invalid(format!(
                "input '{name}': no data; expected 'data' or parameters.binary_data_size"
            )));
        }
        (Data::Absent, Some(size)) => binary_data(&name, datatype, &shape, sections.take(&name, size)?)?,
        (_, Some(_)) => {
            return Err(ServeError::invalid(format!(
                "input '{name}': expected one of 'data' and parameters.binary_data_size, got both"
            )));
        }
        (_, None) if no_json_form => {
            return Err(ServeError::invalid(format!(
                "input '{name}': {datatype} has no JSON form; send it as binary data (parameters.binary_data_size)"
            )));
        }
        (Data::Packed(data), None) => data,
        (Data::Recorded(recorded), None) => {
            let label = format!("input '{name}'");
            let mut packer = Packer::new(&label, datatype);
            replay(&recorded.stream, &mut packer).map_err(ServeError::invalid)?;
            packer.finish()
        }
        (Data::Skipped, None) => {
            return Err(ServeError::invalid(format!(
                "input '{name}': 'data' could not be read as {datatype}"
            )));
        }
    };
    Ok(InputTensor {
        name,
        datatype,
        shape,
        data,
    })
}

/// A binary section as the input's data: BYTES are bounded, then split.
fn binary_data(name: &str, datatype: DataType, shape: &[i64], raw: Bytes) -> Result<TensorData, ServeError> {
    if datatype != DataType::Bytes {
        return Ok(TensorData::Raw(raw));
    }
    check_bytes_elements(name, shape, &raw)?;
    Ok(TensorData::Strings(split_bytes_elements(name, &raw)?))
}

/// The requested output names, in order, and their binary choices.
fn requested_outputs(
    outputs: Vec<Object<OutputJson>>,
    all_binary: bool,
) -> Result<(Vec<String>, BinaryOutputs), ServeError> {
    let mut names = Vec::with_capacity(outputs.len());
    let mut named = Vec::with_capacity(outputs.len());
    for Object(output) in outputs {
        let Object(parameters) = output.parameters.unwrap_or_default();
        let name = output.name;
        if parameters.classification.is_some_and(|classes| classes > 0) {
            return Err(ServeError::invalid(format!(
                "output '{name}': classification is not supported"
            )));
        }
        if parameters.shared_memory_region.is_some() {
            return Err(ServeError::invalid(format!(
                "output '{name}': shared memory is not supported"
            )));
        }
        names.push(name.clone());
        named.push((name, parameters.binary_data));
    }
    let binary = BinaryOutputs {
        all: all_binary,
        named,
    };
    Ok((names, binary))
}
