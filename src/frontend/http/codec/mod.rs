//! KServe v2 REST inference bodies <-> engine types: JSON tensors and
//! Triton's binary tensor data extension, as `tritonclient.http` writes and
//! reads them.
//!
//! # API
//!
//! - [`decode_infer`]`(model_name, model_version, body, header_length)` turns
//!   a request body (and the raw value of its `Inference-Header-Content-Length`
//!   header, if any) into an [`InferBody`]: the engine's [`InferRequest`] and
//!   the [`BinaryOutputs`] choices the answer must honour. Every failure is
//!   INVALID_ARGUMENT ([`ServeError::invalid`]), never a panic.
//! - [`encode_infer`]`(response, binary_outputs)` turns the engine's answer
//!   into an [`EncodedBody`]: a [`ResponseBody`] of chunks (the JSON, then
//!   the binary outputs as the engine's own `Bytes`, not copied), which
//!   converts into an `axum::body::Body` of exact length, and the
//!   `Inference-Header-Content-Length` value to set, if any.
//!
//! # Request body
//!
//! A JSON object, optionally followed by binary sections. With the header
//! `Inference-Header-Content-Length: N`, the first `N` bytes are the JSON and
//! the rest are the binary sections, one per input that declares
//! `"parameters": {"binary_data_size": K}`, in input order, `K` bytes each;
//! they must add up to the rest of the body exactly. Without the header the
//! whole body is JSON. An input has exactly one of `data` and
//! `binary_data_size`. Binary sections become slices of `body` (no copy);
//! BYTES sections use the v2 layout (4-byte little-endian length, then the
//! bytes) and are bounded by the shape before they are split, with the same
//! limits as gRPC. JSON `data` is flat or nested (row-major) arrays: BOOL as
//! `true`/`false`, integers as JSON integers (range-checked: 300 in INT8 is an
//! error naming the value), FP32/FP64 as JSON numbers (integers allowed;
//! finite values too large for FP32 are an error; parsed exactly, serde_json
//! has `float_roundtrip`), BYTES as strings (their UTF-8 bytes, under the
//! same count and length limits). FP16 and BF16 have no JSON form: binary
//! only. Shape and data agreement is checked later by the engine
//! (`InputTensor::validate`); nothing here is sized from a shape. The
//! request parameter `timeout` (microseconds, as tritonclient sends it)
//! becomes the request's deadline. Request parameters other than
//! `binary_data_output` and `timeout`, and input and output parameters other
//! than those named here, are ignored (`priority`, `sequence_*`, custom ones).
//!
//! Refused with INVALID_ARGUMENT, as this server does not implement them:
//! outputs with `"classification": N` (N > 0; "classification is not
//! supported"), and inputs or outputs with `shared_memory_region`.
//!
//! JSON input must be strict JSON: `NaN` and `Infinity` (which Triton's
//! parser accepts) are refused with a hint to send such values as binary.
//!
//! # Response body
//!
//! `{"model_name", "model_version", "id" (only if non-empty), "outputs": [..]}`
//! with each output `{"name", "datatype", "shape", "data": [flat]}`, or, when
//! sent as binary, `{"name", "datatype", "shape", "parameters":
//! {"binary_data_size": K}}` with its raw bytes after the JSON, in output
//! order. An output is binary when its request entry says `"binary_data":
//! true`, or when the request's `parameters.binary_data_output` is true and
//! its entry (if any) does not say `"binary_data": false` (the documented
//! rule; Triton's server code instead treats a named output without
//! `binary_data` as JSON, tritonclient always sets it). Outputs without a
//! faithful JSON form are always binary: FP16 and BF16, BYTES outputs with
//! an element that is not UTF-8 (JSON strings cannot carry it and a lossy
//! conversion would corrupt the data), and data whose length is not a
//! whole number of elements. `header_length` is `Some(json length)` exactly
//! when binary bytes follow the JSON (Triton sets the header under the same
//! condition); the caller sets the header and, by Triton's convention,
//! `Content-Type: application/octet-stream` then, `application/json`
//! otherwise.
//!
//! Non-finite floats are written as Triton writes them (rapidjson's
//! `kWriteNanAndInfFlag`): bare `NaN`, `Infinity`, `-Infinity`. That is not
//! RFC 8259 JSON, but it is what Triton clients expect: tritonclient's
//! python-rapidjson and Python's `json` read it. A client with a strict
//! parser asks for `"binary_data": true` on float outputs.
//!
//! Layout: `body.rs` (header length, binary sections), `request.rs` (the
//! request's JSON structure), `data.rs` (tensor `data` arrays to raw
//! layout), `decode.rs` (request to engine types), `encode.rs` (response to
//! JSON and chunks), `json_out.rs` (JSON writing primitives),
//! `response_body.rs` (the chunked HTTP body); `tests/` (unit tests).

mod body;
mod data;
mod decode;
mod encode;
mod json_out;
mod request;
mod response_body;

#[cfg(test)]
mod tests;

pub use decode::decode_infer;
pub use encode::encode_infer;
pub use response_body::ResponseBody;

#[cfg(doc)]
use crate::{engine::InferRequest, error::ServeError};

/// The limits every front end shares (`crate::tensor`).
pub use crate::tensor::{MAX_BYTES_ELEMENT_LEN, MAX_BYTES_ELEMENTS, MAX_TENSORS};

/// A decoded REST inference request.
#[derive(Debug, Clone)]
pub struct InferBody {
    /// For the engine; `deadline` from the `timeout` parameter, if any.
    pub request: crate::engine::InferRequest,
    /// How the answer's outputs are to be sent; pass it to [`encode_infer`].
    pub binary_outputs: BinaryOutputs,
}

/// Which outputs of the answer go as binary data: the request's
/// `parameters.binary_data_output` and each requested output's
/// `parameters.binary_data`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BinaryOutputs {
    all: bool,
    named: Vec<(String, Option<bool>)>,
}

impl BinaryOutputs {
    /// Every output binary (`binary_data_output: true`) or every output JSON.
    pub fn all(binary: bool) -> Self {
        Self {
            all: binary,
            named: Vec::new(),
        }
    }

    /// Sets one output's own choice, which overrides the default.
    pub fn with(mut self, name: &str, binary: bool) -> Self {
        self.named.push((name.to_string(), Some(binary)));
        self
    }

    /// Whether the client asked for output `name` as binary data.
    pub fn is_binary(&self, name: &str) -> bool {
        self.named
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|&(_, binary)| binary)
            .unwrap_or(self.all)
    }
}

/// An encoded answer.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedBody {
    /// The JSON first, then one chunk per binary output with data (the
    /// engine's `Bytes`, not copied); `axum::body::Body::from(body)` sends it
    /// with an exact `Content-Length`.
    pub body: ResponseBody,
    /// The `Inference-Header-Content-Length` value (the JSON's length),
    /// present exactly when binary data follows the JSON.
    pub header_length: Option<usize>,
}
