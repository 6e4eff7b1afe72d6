//! Answers: every datatype as JSON and as binary, the fallbacks to binary,
//! non-finite floats, and what tritonclient's `InferResult` reads back.

use bytes::Bytes;
use http_body_util::BodyExt;
use serde_json::json;

use super::*;
use crate::engine::InferResponse;
use crate::frontend::http::codec::{BinaryOutputs, EncodedBody, encode_infer};
use crate::tensor::{DataType, OutputTensor};

fn output(name: &str, datatype: DataType, shape: &[i64], data: Vec<u8>) -> OutputTensor {
    OutputTensor {
        name: name.into(),
        datatype,
        shape: shape.to_vec(),
        data: data.into(),
    }
}

fn response(outputs: Vec<OutputTensor>) -> InferResponse {
    InferResponse {
        model_name: "m".into(),
        model_version: "1".into(),
        id: String::new(),
        outputs,
    }
}

/// The JSON part and the binary part, split as tritonclient does.
fn parts(encoded: &EncodedBody) -> (Value, Bytes) {
    let body = encoded.body.clone().into_bytes();
    let length = encoded.header_length.unwrap_or(body.len());
    (
        serde_json::from_slice(&body[..length]).unwrap(),
        body.slice(length..),
    )
}

fn json_text(encoded: &EncodedBody) -> String {
    let body = encoded.body.clone().into_bytes();
    let length = encoded.header_length.unwrap_or(body.len());
    String::from_utf8(body[..length].to_vec()).unwrap()
}

/// (datatype, raw data, the JSON data expected) for every datatype with a JSON form.
fn json_cases() -> Vec<(DataType, Vec<u8>, Value)> {
    vec![
        (DataType::Bool, vec![1, 0, 2], json!([true, false, true])),
        (DataType::Uint8, vec![0, 255], json!([0, 255])),
        (
            DataType::Uint16,
            le(&[65535u16], u16::to_le_bytes),
            json!([65535]),
        ),
        (
            DataType::Uint32,
            le(&[u32::MAX], u32::to_le_bytes),
            json!([u32::MAX]),
        ),
        (
            DataType::Uint64,
            le(&[u64::MAX], u64::to_le_bytes),
            json!([u64::MAX]),
        ),
        (
            DataType::Int8,
            le(&[-128i8, 127], i8::to_le_bytes),
            json!([-128, 127]),
        ),
        (
            DataType::Int16,
            le(&[i16::MIN], i16::to_le_bytes),
            json!([i16::MIN]),
        ),
        (
            DataType::Int32,
            le(&[i32::MIN, 0], i32::to_le_bytes),
            json!([i32::MIN, 0]),
        ),
        (
            DataType::Int64,
            le(&[i64::MIN, i64::MAX], i64::to_le_bytes),
            json!([i64::MIN, i64::MAX]),
        ),
        (
            DataType::Fp32,
            le(&[0.1f32, -2.0, 3e38], f32::to_le_bytes),
            json!([0.1, -2.0, 3e38]),
        ),
        (
            DataType::Fp64,
            le(&[0.1, 1e300, -0.0], f64::to_le_bytes),
            json!([0.1, 1e300, -0.0]),
        ),
        (
            DataType::Bytes,
            v2_strings(&[b"a\"b", b"", "é\n\u{1}".as_bytes()]),
            json!(["a\"b", "", "é\n\u{1}"]),
        ),
    ]
}

#[test]
fn every_datatype_encodes_as_json() {
    for (datatype, data, expected) in json_cases() {
        let count = expected.as_array().unwrap().len() as i64;
        let encoded = encode_infer(
            &response(vec![output("y", datatype, &[1, count], data)]),
            &BinaryOutputs::default(),
        );
        assert_eq!(encoded.header_length, None, "{datatype}");
        let (json, binary) = parts(&encoded);
        assert!(binary.is_empty());
        let expected = json!({"model_name": "m", "model_version": "1", "outputs": [
            {"name": "y", "datatype": datatype.as_str(), "shape": [1, count], "data": expected}]});
        assert_eq!(json, expected, "{datatype}");
    }
}

#[test]
fn floats_are_written_in_their_shortest_form() {
    let values = le(&[0.1f32, 1.0, 1e-7, 16777216.0, f32::MAX], f32::to_le_bytes);
    let encoded = encode_infer(
        &response(vec![output("y", DataType::Fp32, &[5], values)]),
        &BinaryOutputs::default(),
    );
    assert!(json_text(&encoded).contains(r#""data":[0.1,1.0,1e-7,16777216.0,3.4028235e38]"#));
    let values = le(
        &[f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 2.5],
        f64::to_le_bytes,
    );
    let encoded = encode_infer(
        &response(vec![output("y", DataType::Fp64, &[4], values)]),
        &BinaryOutputs::default(),
    );
    // As Triton writes them (not RFC 8259 JSON; Python's json reads them).
    assert!(json_text(&encoded).contains(r#""data":[NaN,Infinity,-Infinity,2.5]"#));
    let values = le(&[f32::NAN], f32::to_le_bytes);
    let encoded = encode_infer(
        &response(vec![output("y", DataType::Fp32, &[1], values)]),
        &BinaryOutputs::default(),
    );
    assert!(json_text(&encoded).contains(r#""data":[NaN]"#));
}

#[test]
fn the_envelope_names_model_version_and_id() {
    let mut answer = response(vec![]);
    let encoded = encode_infer(&answer, &BinaryOutputs::default());
    assert_eq!(
        json_text(&encoded),
        r#"{"model_name":"m","model_version":"1","outputs":[]}"#
    );
    answer.id = "req \"7\"".into();
    answer.model_name = "ünï\\".into();
    let (json, _) = parts(&encode_infer(&answer, &BinaryOutputs::default()));
    assert_eq!(
        json,
        json!({"model_name": "ünï\\", "model_version": "1", "id": "req \"7\"", "outputs": []})
    );
}

#[test]
fn binary_outputs_follow_the_json_uncopied() {
    let first = output("a", DataType::Fp32, &[2], le(&[1.0f32, 2.0], f32::to_le_bytes));
    let second = output("b", DataType::Int8, &[1], vec![9]);
    let third = output("c", DataType::Bytes, &[1], v2_strings(&[b"xy"]));
    let answer = response(vec![first.clone(), second, third.clone()]);
    let choice = BinaryOutputs::all(true).with("b", false);
    let encoded = encode_infer(&answer, &choice);
    let (json, binary) = parts(&encoded);
    assert_eq!(encoded.header_length, Some(json_text(&encoded).len()));
    let outputs = &json["outputs"];
    assert_eq!(
        outputs[0],
        json!({"name": "a", "datatype": "FP32", "shape": [2], "parameters": {"binary_data_size": 8}})
    );
    assert_eq!(outputs[1]["data"], json!([9]));
    assert_eq!(outputs[2]["parameters"]["binary_data_size"], json!(6));
    assert_eq!(
        binary.as_ref(),
        [first.data.as_ref(), third.data.as_ref()].concat().as_slice()
    );
    let chunks: Vec<&Bytes> = encoded.body.chunks().collect();
    assert_eq!(chunks.len(), 3);
    assert_eq!(
        chunks[1].as_ptr(),
        first.data.as_ptr(),
        "the engine's buffer itself"
    );
    assert_eq!(encoded.body.len(), chunks.iter().map(|c| c.len()).sum::<usize>());
}

#[test]
fn outputs_without_a_json_form_go_as_binary() {
    let answer = response(vec![
        output("h", DataType::Fp16, &[1], vec![0, 0x3c]),
        output("b", DataType::Bf16, &[1], vec![0x80, 0x3f]),
        output("s", DataType::Bytes, &[2], v2_strings(&[b"ok", &[0xff]])),
        output("broken", DataType::Bytes, &[1], vec![9, 0, 0, 0, b'a']),
        output("partial", DataType::Fp32, &[1], vec![1, 2, 3]),
        output("fine", DataType::Bytes, &[1], v2_strings(&[b"ok"])),
    ]);
    let encoded = encode_infer(&answer, &BinaryOutputs::all(false));
    let (json, binary) = parts(&encoded);
    let sizes: Vec<Value> = json["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["parameters"]["binary_data_size"].clone())
        .collect();
    assert_eq!(
        sizes,
        vec![json!(2), json!(2), json!(11), json!(5), json!(3), Value::Null]
    );
    assert_eq!(json["outputs"][5]["data"], json!(["ok"]));
    assert_eq!(binary.len(), 2 + 2 + 11 + 5 + 3);
}

#[test]
fn empty_binary_outputs_need_no_header() {
    let answer = response(vec![output("e", DataType::Fp32, &[0], vec![])]);
    let encoded = encode_infer(&answer, &BinaryOutputs::all(true));
    assert_eq!(encoded.header_length, None);
    let (json, _) = parts(&encoded);
    assert_eq!(json["outputs"][0]["parameters"]["binary_data_size"], json!(0));
    let encoded = encode_infer(&answer, &BinaryOutputs::all(false));
    assert_eq!(parts(&encoded).0["outputs"][0]["data"], json!([]));
}

#[test]
fn the_body_is_an_http_body_of_exact_length() {
    let answer = response(vec![output("a", DataType::Uint8, &[3], vec![1, 2, 3])]);
    let encoded = encode_infer(&answer, &BinaryOutputs::all(true));
    let expected = encoded.body.clone().into_bytes();
    let size = hyper::body::Body::size_hint(&encoded.body).exact();
    assert_eq!(size, Some(expected.len() as u64));
    let body = axum::body::Body::from(encoded.body);
    let collected = futures::executor::block_on(body.collect()).unwrap().to_bytes();
    assert_eq!(collected, expected);
}

/// Decode a tritonclient-style request, answer with its inputs echoed, and
/// read the answer as `InferResult.as_numpy` would.
#[test]
fn a_decoded_request_choice_shapes_the_answer() {
    let decoded = Client::default()
        .json("x", &[1], "FP32", json!([1]))
        .output("y", false)
        .output("z", true)
        .decode()
        .unwrap();
    let answer = response(vec![
        output("y", DataType::Int32, &[1], le(&[7i32], i32::to_le_bytes)),
        output("z", DataType::Int32, &[1], le(&[8i32], i32::to_le_bytes)),
    ]);
    let encoded = encode_infer(&answer, &decoded.binary_outputs);
    let (json, binary) = parts(&encoded);
    assert_eq!(json["outputs"][0]["data"], json!([7]));
    assert_eq!(json["outputs"][1]["parameters"]["binary_data_size"], json!(4));
    assert_eq!(binary.as_ref(), 8i32.to_le_bytes());
}
