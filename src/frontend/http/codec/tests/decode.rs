//! Requests that decode: every datatype as JSON and as binary, nesting, key
//! order, outputs and their binary choices, zero-copy sections.

use bytes::Bytes;
use serde_json::json;

use super::*;
use crate::frontend::http::codec::BinaryOutputs;
use crate::tensor::DataType;

/// (datatype, JSON data, expected little-endian bytes) for each type with a
/// JSON form but BYTES.
fn json_cases() -> Vec<(&'static str, Value, Vec<u8>)> {
    vec![
        ("BOOL", json!([true, false, true]), vec![1, 0, 1]),
        ("UINT8", json!([0, 7, 255]), vec![0, 7, 255]),
        ("UINT16", json!([0, 65535]), le(&[0u16, 65535], u16::to_le_bytes)),
        (
            "UINT32",
            json!([1, 4294967295u32]),
            le(&[1u32, u32::MAX], u32::to_le_bytes),
        ),
        (
            "UINT64",
            json!([0, u64::MAX]),
            le(&[0, u64::MAX], u64::to_le_bytes),
        ),
        (
            "INT8",
            json!([-128, 0, 127]),
            le(&[-128i8, 0, 127], i8::to_le_bytes),
        ),
        (
            "INT16",
            json!([-32768, 32767]),
            le(&[i16::MIN, i16::MAX], i16::to_le_bytes),
        ),
        (
            "INT32",
            json!([i32::MIN, -1, i32::MAX]),
            le(&[i32::MIN, -1, i32::MAX], i32::to_le_bytes),
        ),
        (
            "INT64",
            json!([i64::MIN, i64::MAX]),
            le(&[i64::MIN, i64::MAX], i64::to_le_bytes),
        ),
        (
            "FP32",
            json!([1.5, -2, 0.1, 3.4e38]),
            le(&[1.5f32, -2.0, 0.1, 3.4e38], f32::to_le_bytes),
        ),
        (
            "FP64",
            json!([0.1, 1e300, -3, 5e-324]),
            le(&[0.1, 1e300, -3.0, 5e-324], f64::to_le_bytes),
        ),
    ]
}

#[test]
fn every_datatype_decodes_from_json() {
    for (datatype, data, expected) in json_cases() {
        let count = data.as_array().unwrap().len() as i64;
        let decoded = Client::default()
            .json("x", &[count], datatype, data)
            .decode()
            .unwrap();
        let input = &decoded.request.inputs[0];
        assert_eq!(input.datatype, DataType::parse(datatype).unwrap());
        assert_eq!(input.shape, vec![count]);
        assert_eq!(raw(input), expected.as_slice(), "{datatype}");
    }
    let decoded = Client::default()
        .json("s", &[3], "BYTES", json!(["ab", "", "é\u{0}\"\\"]))
        .decode()
        .unwrap();
    let expected: Vec<&[u8]> = vec![b"ab", b"", "é\u{0}\"\\".as_bytes()];
    assert_eq!(strings(&decoded.request.inputs[0]), expected);
}

#[test]
fn data_before_datatype_decodes_the_same() {
    for (datatype, data, expected) in json_cases() {
        let body =
            format!(r#"{{"inputs":[{{"data":{data},"name":"x","shape":[1],"datatype":"{datatype}"}}]}}"#);
        let decoded = decode_infer("m", "", Bytes::from(body), None).unwrap();
        assert_eq!(raw(&decoded.request.inputs[0]), expected.as_slice(), "{datatype}");
    }
    let body = r#"{"inputs":[{"data":[["a"],["bc"]],"datatype":"BYTES","shape":[2,1],"name":"s"}]}"#;
    let decoded = decode_infer("m", "", Bytes::from(body), None).unwrap();
    assert_eq!(strings(&decoded.request.inputs[0]), vec![b"a".as_slice(), b"bc"]);
}

#[test]
fn every_datatype_decodes_from_binary() {
    let sample: Vec<u8> = (0u8..48).collect();
    for datatype in DataType::ALL {
        let Some(size) = datatype.element_size() else {
            continue;
        };
        let raw_data = if datatype == DataType::Bool {
            vec![1, 0, 1]
        } else {
            sample[..size * 3].to_vec()
        };
        let decoded = Client::default()
            .binary("x", &[3], datatype.as_str(), &raw_data)
            .decode()
            .unwrap();
        assert_eq!(raw(&decoded.request.inputs[0]), raw_data.as_slice(), "{datatype}");
    }
    let items: [&[u8]; 3] = [b"ab", b"", &[0xff, 0]];
    let decoded = Client::default()
        .binary("s", &[3], "BYTES", &v2_strings(&items))
        .decode()
        .unwrap();
    assert_eq!(strings(&decoded.request.inputs[0]), items.to_vec());
}

#[test]
fn binary_sections_are_slices_of_the_body() {
    let (body, header) = Client::default()
        .binary("a", &[2], "FP32", &le(&[1.0f32, 2.0], f32::to_le_bytes))
        .json("b", &[1], "INT64", json!([5]))
        .binary("c", &[1], "BYTES", &v2_strings(&[b"xyz"]))
        .body();
    let range = body.as_ptr_range();
    let decoded = decode_infer("m", "", body.clone(), header.as_deref()).unwrap();
    let inputs = &decoded.request.inputs;
    assert!(range.contains(&raw(&inputs[0]).as_ptr()));
    assert!(range.contains(&strings(&inputs[2])[0].as_ptr()));
    assert_eq!(&body[body.len() - 3..], b"xyz");
    assert_eq!(raw(&inputs[1]), 5i64.to_le_bytes());
}

#[test]
fn nested_data_is_flattened_row_major() {
    let decoded = Client::default()
        .json("x", &[2, 2], "INT32", json!([[1, 2], [3, 4]]))
        .json("y", &[3], "FP64", json!([1, [2.5, [[3]]]]))
        .json("z", &[0], "FP32", json!([[], []]))
        .decode()
        .unwrap();
    let inputs = &decoded.request.inputs;
    assert_eq!(raw(&inputs[0]), le(&[1i32, 2, 3, 4], i32::to_le_bytes));
    assert_eq!(raw(&inputs[1]), le(&[1.0f64, 2.5, 3.0], f64::to_le_bytes));
    assert!(raw(&inputs[2]).is_empty());
}

#[test]
fn names_ids_and_versions_come_through() {
    let (body, _) = Client::default()
        .id("req-7")
        .json("x", &[1], "BOOL", json!([true]))
        .body();
    let decoded = decode_infer("resnet", "3", body, None).unwrap();
    let request = &decoded.request;
    assert_eq!(
        (request.model_name.as_str(), request.model_version.as_str()),
        ("resnet", "3")
    );
    assert_eq!(request.id, "req-7");
    assert!(request.deadline.is_none());
    let decoded = decode_infer("m", "", Bytes::from(r#"{"inputs":[]}"#), None).unwrap();
    assert!(decoded.request.id.is_empty() && decoded.request.inputs.is_empty());
}

#[test]
fn requested_outputs_keep_their_order_and_binary_choice() {
    let decoded = Client::default()
        .json("x", &[1], "FP32", json!([1]))
        .output("b", true)
        .output("a", false)
        .decode()
        .unwrap();
    assert_eq!(decoded.request.outputs, vec!["b", "a"]);
    let binary = &decoded.binary_outputs;
    assert!(binary.is_binary("b") && !binary.is_binary("a") && !binary.is_binary("c"));
}

#[test]
fn no_outputs_means_all_and_tritonclient_asks_for_binary() {
    let decoded = Client::default()
        .json("x", &[1], "FP32", json!([1]))
        .decode()
        .unwrap();
    assert!(decoded.request.outputs.is_empty());
    assert_eq!(decoded.binary_outputs, BinaryOutputs::all(true));
    let body = r#"{"inputs":[],"outputs":[]}"#;
    let decoded = decode_infer("m", "", Bytes::from(body), None).unwrap();
    assert!(decoded.request.outputs.is_empty());
    assert!(!decoded.binary_outputs.is_binary("any"));
}

#[test]
fn an_output_overrides_binary_data_output() {
    let body = r#"{"inputs":[],"parameters":{"binary_data_output":true},
        "outputs":[{"name":"j","parameters":{"binary_data":false}},{"name":"d"},
                   {"name":"c","parameters":{"classification":0}}]}"#;
    let decoded = decode_infer("m", "", Bytes::from(body), None).unwrap();
    let binary = &decoded.binary_outputs;
    assert!(!binary.is_binary("j"));
    assert!(binary.is_binary("d") && binary.is_binary("c") && binary.is_binary("unnamed"));
    assert_eq!(decoded.request.outputs, vec!["j", "d", "c"]);
}

#[test]
fn unknown_members_and_parameters_are_ignored() {
    let body = r#"{"model_name":"other","extra":{"a":[1,{}]},
        "parameters":{"priority":1,"timeout":100,"sequence_id":"s","custom":[1]},
        "inputs":[{"name":"x","shape":[1],"datatype":"INT8","future":null,
                   "parameters":{"something":"else"},"data":[-1]}],
        "outputs":[{"name":"y","parameters":{"custom":true},"more":1}]}"#;
    let decoded = decode_infer("m", "", Bytes::from(body), None).unwrap();
    assert_eq!(decoded.request.model_name, "m");
    assert_eq!(raw(&decoded.request.inputs[0]), [0xff]);
    assert!(!decoded.binary_outputs.is_binary("y"));
}

#[test]
fn header_length_edge_cases() {
    // The header may be set with no binary data at all, and with spaces.
    let json =
        r#"{"inputs":[{"name":"x","shape":[0],"datatype":"FP32","parameters":{"binary_data_size":0}}]}"#;
    let header = format!(" {} ", json.len());
    let decoded = decode_infer("m", "", Bytes::from(json), Some(&header)).unwrap();
    assert!(raw(&decoded.request.inputs[0]).is_empty());
    // An empty section needs no header.
    let decoded = decode_infer("m", "", Bytes::from(json), None).unwrap();
    assert!(raw(&decoded.request.inputs[0]).is_empty());
    // Whitespace after the JSON, inside the header length, is fine.
    let padded = format!("{json} \n");
    let decoded = decode_infer("m", "", Bytes::from(padded), Some(&(json.len() + 2).to_string()));
    assert!(decoded.is_ok());
}

#[test]
fn fp16_and_bf16_travel_as_binary() {
    let halves = le(
        &[half::f16::from_f32(1.5), half::f16::NAN],
        half::f16::to_le_bytes,
    );
    let brains = le(&[half::bf16::from_f32(-2.0)], half::bf16::to_le_bytes);
    let decoded = Client::default()
        .binary("h", &[2], "FP16", &halves)
        .binary("b", &[1], "BF16", &brains)
        .decode()
        .unwrap();
    assert_eq!(raw(&decoded.request.inputs[0]), halves.as_slice());
    assert_eq!(raw(&decoded.request.inputs[1]), brains.as_slice());
}

#[test]
fn large_json_tensors_decode() {
    let values: Vec<f32> = (0..100_000).map(|i| i as f32 * 0.25).collect();
    let decoded = Client::default()
        .json("x", &[100_000], "FP32", json!(values))
        .decode()
        .unwrap();
    assert_eq!(raw(&decoded.request.inputs[0]), le(&values, f32::to_le_bytes));
}

#[test]
fn fp64_json_values_parse_exactly() {
    // Shortest forms that serde_json's default float parsing gets one ULP
    // wrong (the crate enables `float_roundtrip`).
    let values = [
        -1.0612051887938325e23,
        -5.149794683864428e-303,
        2.2250738585072014e-308,
        0.1 + 0.2,
    ];
    let data = format!("[{}]", values.map(|v| format!("{v:?}")).join(","));
    let body = format!(r#"{{"inputs":[{{"name":"x","shape":[4],"datatype":"FP64","data":{data}}}]}}"#);
    let decoded = decode_infer("m", "", Bytes::from(body), None).unwrap();
    assert_eq!(raw(&decoded.request.inputs[0]), le(&values, f64::to_le_bytes));
}

#[test]
fn tritonclient_custom_parameters_are_ignored() {
    let decoded = Client::default()
        .parameter("priority", json!(2))
        .parameter("my_param", json!({"nested": [1, "x"]}))
        .parameter("binary_data_output", json!(false))
        .json("x", &[1], "UINT8", json!([3]))
        .output("y", true)
        .decode()
        .unwrap();
    assert!(decoded.binary_outputs.is_binary("y"));
    assert!(!decoded.binary_outputs.is_binary("z"));
    assert_eq!(raw(&decoded.request.inputs[0]), [3]);
}
