//! Every way a request body is refused: always INVALID_ARGUMENT, with a
//! message naming the input, what was expected and what came.

use serde_json::json;

use super::*;
use crate::frontend::http::codec::{MAX_BYTES_ELEMENT_LEN, MAX_TENSORS};

fn one_input(input: &str) -> String {
    format!(r#"{{"inputs":[{input}]}}"#)
}

#[test]
fn header_length_must_be_a_count_within_the_body() {
    let json = r#"{"inputs":[]}"#;
    for bad in [
        "abc",
        "-1",
        "",
        " ",
        "1e3",
        "+",
        "0x10",
        "99999999999999999999999",
    ] {
        let message = rejected(json, Some(bad));
        assert_contains(
            &message,
            &["Inference-Header-Content-Length must be a byte count", bad.trim()],
        );
    }
    let message = rejected(json, Some("14"));
    assert_contains(&message, &["is 14, more than the request body of 13 bytes"]);
    let message = rejected(json, Some("0"));
    assert_contains(&message, &["JSON is not valid", "EOF"]);
    let long = "9".repeat(500);
    assert!(rejected(json, Some(&long)).len() < 200);
}

#[test]
fn invalid_json_is_refused() {
    for (body, part) in [
        ("", "EOF"),
        ("{", "EOF"),
        ("garbage", "expected value"),
        (r#"{"inputs":[]} x"#, "trailing characters"),
        (r#"{"inputs":[],}"#, "trailing comma"),
    ] {
        assert_contains(&rejected_json(body), &["the request's JSON is not valid", part]);
    }
    let mut bad_utf8 = br#"{"id":""#.to_vec();
    bad_utf8.extend([0xff, 0xfe]);
    bad_utf8.extend(br#"","inputs":[]}"#);
    assert_contains(&rejected(bad_utf8, None), &["invalid unicode code point"]);
}

#[test]
fn non_finite_numbers_get_a_hint() {
    for token in ["NaN", "Infinity", "-Infinity"] {
        let body =
            format!(r#"{{"inputs":[{{"name":"x","shape":[2],"datatype":"FP32","data":[1.0,{token}]}}]}}"#);
        assert_contains(&rejected_json(&body), &["NaN and Infinity are not JSON numbers"]);
    }
    let body = "{\"inputs\":[\n{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP64\",\n\"data\":[NaN]}]}";
    assert_contains(&rejected_json(body), &["line 3", "binary data"]);
    assert!(!rejected_json("[nope]").contains("NaN"));
}

#[test]
fn the_envelope_must_have_its_shape() {
    assert_contains(
        &rejected_json("[]"),
        &["invalid type: sequence, expected a JSON object"],
    );
    assert_contains(&rejected_json("[null,null,[],null]"), &["expected a JSON object"]);
    let body = r#"{"inputs":[],"outputs":[["y",null]]}"#;
    assert_contains(&rejected_json(body), &["expected a JSON object"]);
    let body = r#"{"inputs":[],"parameters":[true]}"#;
    assert_contains(&rejected_json(body), &["expected a JSON object"]);
    let input = r#"{"name":"x","shape":[1],"datatype":"FP32","parameters":[4]}"#;
    assert_contains(&rejected_json(&one_input(input)), &["expected a JSON object"]);
    assert_contains(&rejected_json("{}"), &["missing field `inputs`"]);
    assert_contains(&rejected_json(r#"{"inputs":{}}"#), &["'inputs' as an array"]);
    assert_contains(&rejected_json(r#"{"inputs":[5]}"#), &["inputs[0] as an object"]);
    assert_contains(
        &rejected_json(r#"{"inputs":[],"id":5}"#),
        &["invalid type: integer `5`"],
    );
    assert_contains(
        &rejected_json(r#"{"inputs":[],"inputs":[]}"#),
        &["duplicate field `inputs`"],
    );
    let body = r#"{"inputs":[],"parameters":{"binary_data_output":"yes"}}"#;
    assert_contains(&rejected_json(body), &["expected a boolean"]);
}

#[test]
fn inputs_need_name_shape_and_datatype() {
    let cases = [
        (
            r#"{"shape":[1],"datatype":"FP32","data":[1]}"#,
            "inputs[0]: missing field 'name'",
        ),
        (
            r#"{"name":"x","datatype":"FP32","data":[1]}"#,
            "input 'x': missing field 'shape'",
        ),
        (
            r#"{"name":"x","shape":[1],"data":[1]}"#,
            "input 'x': missing field 'datatype'",
        ),
        (r#"{"name":"x","name":"y"}"#, "duplicate field `name`"),
        (
            r#"{"name":"x","shape":[1],"datatype":"FP32","data":[1],"data":[2]}"#,
            "duplicate field `data`",
        ),
        (
            r#"{"name":"x","shape":[1.5],"datatype":"FP32","data":[1]}"#,
            "expected i64",
        ),
        (
            r#"{"name":7,"shape":[1],"datatype":"FP32","data":[1]}"#,
            "expected a string",
        ),
    ];
    for (input, part) in cases {
        assert_contains(&rejected_json(&one_input(input)), &[part]);
    }
    let input = r#"{"name":"x","shape":[1],"datatype":"FLOAT","data":[1]}"#;
    assert_contains(
        &rejected_json(&one_input(input)),
        &["input 'x': unknown datatype 'FLOAT'", "FP32"],
    );
}

#[test]
fn data_and_binary_data_size_are_exclusive() {
    let input = r#"{"name":"x","shape":[1],"datatype":"FP32"}"#;
    assert_contains(&rejected_json(&one_input(input)), &["input 'x': no data"]);
    let input =
        r#"{"name":"x","shape":[1],"datatype":"FP32","data":[1],"parameters":{"binary_data_size":4}}"#;
    let body = one_input(input) + "abcd";
    let header = (body.len() - 4).to_string();
    assert_contains(&rejected(body, Some(&header)), &["input 'x'", "got both"]);
}

#[test]
fn values_must_fit_their_datatype() {
    let cases = [
        (
            "INT8",
            json!([1, 300]),
            "input 'x': value 300 does not fit datatype INT8",
        ),
        (
            "INT16",
            json!([-40000]),
            "value -40000 does not fit datatype INT16",
        ),
        ("UINT8", json!([-1]), "value -1 does not fit datatype UINT8"),
        (
            "UINT32",
            json!([4294967296u64]),
            "value 4294967296 does not fit datatype UINT32",
        ),
        (
            "INT64",
            json!([u64::MAX]),
            "value 18446744073709551615 does not fit datatype INT64",
        ),
        ("FP32", json!([1e39]), "value 1e39 does not fit datatype FP32"),
        ("BOOL", json!([1]), "expected BOOL data as true or false, got 1"),
        ("INT32", json!([1.5]), "expected INT32 data as integers, got 1.5"),
        (
            "UINT64",
            json!([1e20]),
            "expected UINT64 data as integers, got 1e20",
        ),
        (
            "FP32",
            json!(["1"]),
            "expected FP32 data as numbers, got string \"1\"",
        ),
        ("BYTES", json!([1]), "expected BYTES data as strings, got 1"),
        ("INT8", json!([true]), "expected INT8 data as integers, got true"),
    ];
    for (datatype, data, part) in cases {
        let (body, _) = Client::default().json("x", &[1], datatype, data.clone()).body();
        assert_contains(&rejected(body, None), &[part, "column"]);
        // Recorded first, packed later: the same message (without position).
        let input = format!(r#"{{"data":{data},"name":"x","shape":[1],"datatype":"{datatype}"}}"#);
        assert_contains(&rejected_json(&one_input(&input)), &[part]);
    }
}

#[test]
fn data_must_be_an_array_of_scalars() {
    for data in ["5", "null", "{}", r#""s""#, "[1,{}]", "[null]"] {
        let input = format!(r#"{{"name":"x","shape":[1],"datatype":"FP32","data":{data}}}"#);
        let message = rejected_json(&one_input(&input));
        assert_contains(&message, &["input 'x': 'data' as an array"]);
    }
    let deep = format!("{}1{}", "[".repeat(5000), "]".repeat(5000));
    let input = format!(r#"{{"name":"x","shape":[1],"datatype":"FP32","data":{deep}}}"#);
    assert_contains(&rejected_json(&one_input(&input)), &["recursion limit exceeded"]);
}

#[test]
fn fp16_and_bf16_have_no_json_form() {
    for datatype in ["FP16", "BF16"] {
        let (body, _) = Client::default().json("h", &[1], datatype, json!([1.0])).body();
        let message = rejected(body, None);
        assert_contains(&message, &["input 'h'", datatype, "no JSON form", "binary"]);
        let input = format!(r#"{{"data":[1],"name":"h","shape":[1],"datatype":"{datatype}"}}"#);
        assert_contains(&rejected_json(&one_input(&input)), &["no JSON form"]);
    }
}

#[test]
fn binary_sections_must_add_up() {
    let four = Client::default().binary("x", &[1], "FP32", &[0; 4]);
    let (body, header) = four.body();
    let header = header.unwrap();
    let short = body.slice(..body.len() - 1);
    assert_contains(
        &rejected(short, Some(&header)),
        &["input 'x': binary_data_size is 4, more than the 3 bytes"],
    );
    let mut long = body.to_vec();
    long.push(0);
    assert_contains(&rejected(long, Some(&header)), &["1 bytes of binary data beyond"]);
    let json = body.slice(..header.parse::<usize>().unwrap());
    assert_contains(
        &rejected(json, None),
        &["input 'x'", "no binary data", "Inference-Header-Content-Length"],
    );
    for size in ["-1", "1.5", "\"4\"", "18446744073709551616"] {
        let input = format!(
            r#"{{"name":"x","shape":[1],"datatype":"FP32","parameters":{{"binary_data_size":{size}}}}}"#
        );
        assert!(!rejected_json(&one_input(&input)).is_empty());
    }
    let input = r#"{"name":"x","shape":[1],"datatype":"FP32","parameters":{"binary_data_size":18446744073709551615}}"#;
    let body = one_input(input) + "abcd";
    let header = (body.len() - 4).to_string();
    assert_contains(&rejected(body, Some(&header)), &["more than the 4 bytes"]);
}

#[test]
fn binary_bytes_are_bounded_by_the_shape() {
    let three = v2_strings(&[b"a", b"b", b"c"]);
    let message = Client::default()
        .binary("s", &[2], "BYTES", &three)
        .decode()
        .unwrap_err()
        .to_string();
    assert_contains(
        &message,
        &["input 's': expected 2 BYTES elements for shape [2], got more"],
    );
    let message = Client::default()
        .binary("s", &[1 << 40], "BYTES", &three)
        .decode()
        .unwrap_err()
        .to_string();
    assert_contains(&message, &["at most 1048576 BYTES elements per input"]);
    let message = Client::default()
        .binary("s", &[-1], "BYTES", &three)
        .decode()
        .unwrap_err()
        .to_string();
    assert_contains(&message, &["shape [-1] has a negative dimension"]);
    let huge = ((MAX_BYTES_ELEMENT_LEN + 1) as u32).to_le_bytes();
    let message = Client::default()
        .binary("s", &[1], "BYTES", &huge)
        .decode()
        .unwrap_err()
        .to_string();
    assert_contains(&message, &["exceeds the limit"]);
    let truncated = [5, 0, 0, 0, b'a'];
    let message = Client::default()
        .binary("s", &[1], "BYTES", &truncated)
        .decode()
        .unwrap_err()
        .to_string();
    assert_contains(
        &message,
        &["input 's': BYTES element at byte 0 claims 5 bytes, only 1 remain"],
    );
}

#[test]
fn json_bytes_elements_are_bounded() {
    let long = "a".repeat(MAX_BYTES_ELEMENT_LEN + 1);
    let (body, _) = Client::default().json("s", &[1], "BYTES", json!([long])).body();
    assert_contains(
        &rejected(body, None),
        &["input 's': a BYTES element of 16777217 bytes exceeds the limit"],
    );
}

#[test]
fn too_many_tensors_are_refused() {
    let input = r#"{"name":"x","shape":[0],"datatype":"FP32","data":[]}"#;
    let inputs = vec![input; MAX_TENSORS + 1].join(",");
    let message = rejected_json(&format!(r#"{{"inputs":[{inputs}]}}"#));
    assert_contains(&message, &["at most 256 inputs", "got 257 and 0"]);
    let outputs = vec![r#"{"name":"y"}"#; MAX_TENSORS + 1].join(",");
    let message = rejected_json(&format!(r#"{{"inputs":[],"outputs":[{outputs}]}}"#));
    assert_contains(&message, &["got 0 and 257"]);
}

#[test]
fn unsupported_extensions_are_refused() {
    let body = r#"{"inputs":[],"outputs":[{"name":"p","parameters":{"classification":3}}]}"#;
    assert_contains(
        &rejected_json(body),
        &["output 'p': classification is not supported"],
    );
    let body = r#"{"inputs":[],"outputs":[{"name":"p","parameters":{"shared_memory_region":"r"}}]}"#;
    assert_contains(
        &rejected_json(body),
        &["output 'p': shared memory is not supported"],
    );
    let input = r#"{"name":"x","shape":[1],"datatype":"FP32","parameters":{"shared_memory_region":"r","shared_memory_byte_size":4}}"#;
    assert_contains(
        &rejected_json(&one_input(input)),
        &["input 'x': shared memory is not supported"],
    );
    let body = r#"{"inputs":[],"outputs":[{"name":"p","parameters":{"classification":"3"}}]}"#;
    assert_contains(&rejected_json(body), &["invalid type"]);
}
