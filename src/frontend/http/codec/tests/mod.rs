//! Unit tests of the REST codec. [`Client`] builds request bodies the way
//! `tritonclient.http` does (`_utils._get_inference_request`,
//! `InferInput.set_data_from_numpy`, `InferRequestedOutput`).

mod decode;
mod encode;
mod errors;

use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::{InferBody, decode_infer};
use crate::error::{Code, ServeError};
use crate::tensor::{InputTensor, TensorData, encode_bytes_elements};

#[derive(Default)]
pub struct Client {
    /// Each input's JSON, members in tritonclient's order.
    inputs: Vec<String>,
    raw: Vec<Vec<u8>>,
    outputs: Vec<String>,
    parameters: Map<String, Value>,
    id: String,
}

fn text(value: impl serde::Serialize) -> String {
    serde_json::to_string(&value).unwrap()
}

impl Client {
    /// `set_data_from_numpy(array, binary_data=False)`.
    pub fn json(mut self, name: &str, shape: &[i64], datatype: &str, data: Value) -> Self {
        let (name, shape, datatype, data) = (text(name), text(shape), text(datatype), text(data));
        let input = format!(r#"{{"name":{name},"shape":{shape},"datatype":{datatype},"data":{data}}}"#);
        self.inputs.push(input);
        self
    }

    /// `set_data_from_numpy(array, binary_data=True)`: `raw` already in the
    /// v2 layout (see [`v2_strings`] for BYTES).
    pub fn binary(mut self, name: &str, shape: &[i64], datatype: &str, raw: &[u8]) -> Self {
        let (name, shape, datatype, size) = (text(name), text(shape), text(datatype), raw.len());
        let input = format!(
            r#"{{"name":{name},"shape":{shape},"datatype":{datatype},"parameters":{{"binary_data_size":{size}}}}}"#
        );
        self.inputs.push(input);
        self.raw.push(raw.to_vec());
        self
    }

    /// `InferRequestedOutput(name, binary_data)`.
    pub fn output(mut self, name: &str, binary: bool) -> Self {
        let output = format!(
            r#"{{"name":{},"parameters":{{"binary_data":{binary}}}}}"#,
            text(name)
        );
        self.outputs.push(output);
        self
    }

    pub fn parameter(mut self, key: &str, value: Value) -> Self {
        self.parameters.insert(key.into(), value);
        self
    }

    pub fn id(mut self, id: &str) -> Self {
        self.id = id.into();
        self
    }

    /// The body and the `Inference-Header-Content-Length` value, if any.
    pub fn body(&self) -> (Bytes, Option<String>) {
        let mut json = String::from("{");
        if !self.id.is_empty() {
            json += &format!(r#""id":{},"#, text(&self.id));
        }
        json += &format!(r#""inputs":[{}]"#, self.inputs.join(","));
        let mut parameters = self.parameters.clone();
        if self.outputs.is_empty() {
            // tritonclient: no outputs named = all of them, as binary.
            parameters.insert("binary_data_output".into(), json!(true));
        } else {
            json += &format!(r#","outputs":[{}]"#, self.outputs.join(","));
        }
        json += &format!(r#","parameters":{}}}"#, text(parameters));
        if self.raw.is_empty() {
            return (json.into(), None);
        }
        let header = json.len().to_string();
        let mut body = json.into_bytes();
        for raw in &self.raw {
            body.extend_from_slice(raw);
        }
        (body.into(), Some(header))
    }

    pub fn decode(&self) -> Result<InferBody, ServeError> {
        let (body, header) = self.body();
        decode_infer("m", "", body, header.as_deref())
    }
}

/// BYTES elements in the v2 layout (`serialize_byte_tensor`).
pub fn v2_strings(items: &[&[u8]]) -> Vec<u8> {
    encode_bytes_elements(items.iter().copied()).to_vec()
}

/// Little-endian bytes of each value.
pub fn le<const N: usize, T: Copy>(values: &[T], bytes: fn(T) -> [u8; N]) -> Vec<u8> {
    values.iter().flat_map(|&v| bytes(v)).collect()
}

pub fn raw(input: &InputTensor) -> &[u8] {
    match &input.data {
        TensorData::Raw(raw) => raw,
        TensorData::Strings(_) => panic!("input '{}': raw data expected", input.name),
    }
}

pub fn strings(input: &InputTensor) -> Vec<&[u8]> {
    match &input.data {
        TensorData::Strings(items) => items.iter().map(|b| b.as_ref()).collect(),
        TensorData::Raw(_) => panic!("input '{}': strings expected", input.name),
    }
}

/// The message of the INVALID_ARGUMENT error `body` must cause.
pub fn rejected(body: impl Into<Bytes>, header: Option<&str>) -> String {
    match decode_infer("m", "1", body.into(), header) {
        Ok(decoded) => panic!("accepted: {:?}", decoded.request),
        Err(error) => {
            assert_eq!(error.code(), Code::InvalidArgument, "{error}");
            error.to_string()
        }
    }
}

/// The message for a JSON-only body.
pub fn rejected_json(json: &str) -> String {
    rejected(json.to_string(), None)
}

#[track_caller]
pub fn assert_contains(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "{message:?} lacks {part:?}");
    }
}
