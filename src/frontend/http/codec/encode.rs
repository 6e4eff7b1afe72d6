//! Engine answer to a REST response body: the JSON written by hand into one
//! buffer sized up front, then the binary outputs as the engine's own
//! `Bytes` (not copied).

use bytes::Bytes;

use super::json_out::{self, int, key, string};
use super::{BinaryOutputs, EncodedBody, ResponseBody};
use crate::engine::InferResponse;
use crate::tensor::{DataType, OutputTensor};

/// Encodes an answer; `binary_outputs` comes from the request's decoding.
pub fn encode_infer(response: &InferResponse, binary_outputs: &BinaryOutputs) -> EncodedBody {
    let mut json = Vec::with_capacity(size_hint(response, binary_outputs));
    json.push(b'{');
    key(&mut json, "model_name");
    string(&mut json, &response.model_name);
    json.push(b',');
    key(&mut json, "model_version");
    string(&mut json, &response.model_version);
    if !response.id.is_empty() {
        json.push(b',');
        key(&mut json, "id");
        string(&mut json, &response.id);
    }
    json.push(b',');
    key(&mut json, "outputs");
    json.push(b'[');
    let mut binary = Vec::new();
    for (i, output) in response.outputs.iter().enumerate() {
        if i > 0 {
            json.push(b',');
        }
        if write_output(&mut json, output, binary_outputs.is_binary(&output.name)) && !output.data.is_empty()
        {
            binary.push(output.data.clone());
        }
    }
    json.extend_from_slice(b"]}");
    let header_length = (!binary.is_empty()).then_some(json.len());
    let body = ResponseBody::new(std::iter::once(Bytes::from(json)).chain(binary));
    EncodedBody { body, header_length }
}

/// Writes one output's JSON; returns whether it goes as binary data (asked
/// for, or without a faithful JSON form).
fn write_output(json: &mut Vec<u8>, output: &OutputTensor, binary: bool) -> bool {
    json.push(b'{');
    key(json, "name");
    string(json, &output.name);
    json.push(b',');
    key(json, "datatype");
    string(json, output.datatype.as_str());
    json.push(b',');
    key(json, "shape");
    json.push(b'[');
    for (i, &dim) in output.shape.iter().enumerate() {
        if i > 0 {
            json.push(b',');
        }
        int(json, dim);
    }
    json.extend_from_slice(b"],");
    let mark = json.len();
    let as_json = !binary && {
        key(json, "data");
        json_out::tensor_data(json, output.datatype, &output.data)
    };
    if !as_json {
        json.truncate(mark);
        key(json, "parameters");
        json.push(b'{');
        key(json, "binary_data_size");
        int(json, output.data.len());
        json.push(b'}');
    }
    json.push(b'}');
    !as_json
}

/// The JSON's length if every JSON output is plain (no escapes): the
/// buffer is allocated once.
fn size_hint(response: &InferResponse, binary_outputs: &BinaryOutputs) -> usize {
    let fixed = 64 + response.model_name.len() + response.model_version.len() + response.id.len();
    response.outputs.iter().fold(fixed, |total, output| {
        let data = match output.datatype {
            DataType::Fp16 | DataType::Bf16 => 0,
            _ if binary_outputs.is_binary(&output.name) => 0,
            datatype => json_out::size_hint(datatype, output.data.len()),
        };
        total
            .saturating_add(96 + output.name.len() + 21 * output.shape.len())
            .saturating_add(data)
    })
}
