//! Malformations of well-formed requests: one random change per call, to
//! names, tensor descriptions, data (raw and typed, BYTES framing) or the
//! request's structure. Deterministic in the generator's state.

use bytes::Bytes;
use rand::Rng;
use rand::rngs::StdRng;
use switchyard::proto::inference::{InferParameter, InferTensorContents, ModelInferRequest, infer_parameter};

use crate::common::{f32_bytes, input};
use crate::generate::{garbage_string, nice_f32, pick, random_bytes, random_bytes_in, valid_text};
use crate::models::{DATATYPES, SPECS, encode_bytes, output};
use crate::report::clip;

/// Applies one random malformation; returns what it did.
pub fn mutate(rng: &mut StdRng, request: &mut ModelInferRequest) -> String {
    let raw_in_use = !request.raw_input_contents.is_empty();
    let chosen = some_input(rng, request);
    match rng.random_range(0..24) {
        0 => model_name(rng, request),
        1 => model_version(rng, request),
        2 => on_input(chosen, |i| datatype(rng, request, i)),
        3 => on_input(chosen, |i| shape(rng, request, i)),
        4 => on_input(chosen, |i| one_dimension(rng, request, i)),
        5 if raw_in_use => raw_length(rng, request),
        6 if raw_in_use => {
            request.raw_input_contents.clear();
            "raw dropped".into()
        }
        7 => raw_count(rng, request, raw_in_use),
        8 => on_input(chosen, |i| {
            request.inputs[i].contents = Some(random_contents(rng));
            format!("inputs[{i}].contents={:?}", request.inputs[i].contents)
        }),
        9 => on_input(chosen, |i| bad_bytes(rng, request, i, raw_in_use)),
        10 => on_input(chosen, |i| duplicate_input(request, i, raw_in_use)),
        11 => extra_input(rng, request, raw_in_use),
        12 => on_input(chosen, |i| remove_input(request, i, raw_in_use)),
        13 => extra_output(rng, request),
        14 => parameter(rng, request, chosen),
        15 => on_input(chosen, |i| {
            request.inputs[i].name = pick(rng, &["a", "b", "x", "text", "A", "", "a "]).to_string();
            format!("inputs[{i}].name={:?}", request.inputs[i].name)
        }),
        16 if raw_in_use => {
            // same lengths, arbitrary bit patterns
            let i = rng.random_range(0..request.raw_input_contents.len());
            let len = request.raw_input_contents[i].len();
            request.raw_input_contents[i] = random_bytes(rng, len).into();
            format!("raw[{i}] randomized")
        }
        17 => zero_rows(request),
        18 => {
            request.id = garbage_string(rng);
            format!("id={}", clip(&request.id, 40))
        }
        19 => on_input(chosen, |i| {
            request.inputs[i].contents = Some(random_contents(rng));
            request.raw_input_contents.clear();
            format!("inputs[{i}] typed, raw dropped")
        }),
        20 => {
            // a different, still well-formed model name
            request.model_name = SPECS[rng.random_range(0..SPECS.len())].model.to_string();
            format!("model_name={}", request.model_name)
        }
        21 => on_input(chosen, |i| rows(rng, request, i, raw_in_use)),
        22 => {
            request.inputs.clear();
            if rng.random_bool(0.5) {
                request.raw_input_contents.clear();
            }
            "no inputs".into()
        }
        _ => {
            request.outputs.clear();
            request.outputs.push(output(""));
            "empty output name".into()
        }
    }
}

/// Picks an input index.
fn some_input(rng: &mut StdRng, request: &ModelInferRequest) -> Option<usize> {
    (!request.inputs.is_empty()).then(|| rng.random_range(0..request.inputs.len()))
}

/// Mutations of one input do nothing to a request without inputs.
fn on_input(chosen: Option<usize>, mutate: impl FnOnce(usize) -> String) -> String {
    chosen.map_or_else(noop, mutate)
}

fn noop() -> String {
    "noop".to_string()
}

// ---------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------

fn model_name(rng: &mut StdRng, request: &mut ModelInferRequest) -> String {
    request.model_name = garbage_string(rng);
    format!("model_name={}", clip(&request.model_name, 60))
}

fn model_version(rng: &mut StdRng, request: &mut ModelInferRequest) -> String {
    // Only the canonical decimal spelling names a version: "01", "+1" and
    // the rest are NOT_FOUND.
    request.model_version = pick(
        rng,
        &[
            "",
            "1",
            "2",
            "0",
            "-1",
            "01",
            "+1",
            "00",
            " 1",
            "1 ",
            "1.0",
            "1e0",
            "0x1",
            "١",
            "abc",
            "18446744073709551615",
            "18446744073709551616",
            "1\0",
        ],
    )
    .to_string();
    format!("model_version={:?}", request.model_version)
}

// ---------------------------------------------------------------------------
// Tensor descriptions
// ---------------------------------------------------------------------------

fn adversarial_dim(rng: &mut StdRng) -> i64 {
    match rng.random_range(0..10) {
        0 => -1,
        1 => i64::MIN,
        2 => i64::MAX,
        3 => 1 << 40,
        4 => 1 << 32,
        5 => -(1 << 40),
        6 => 1 << rng.random_range(0..63),
        7 => rng.random(),
        _ => rng.random_range(0..6),
    }
}

fn datatype(rng: &mut StdRng, request: &mut ModelInferRequest, i: usize) -> String {
    request.inputs[i].datatype = if rng.random_bool(0.5) {
        pick(rng, DATATYPES).0.to_string()
    } else {
        garbage_string(rng)
    };
    format!("inputs[{i}].datatype={}", clip(&request.inputs[i].datatype, 40))
}

fn shape(rng: &mut StdRng, request: &mut ModelInferRequest, i: usize) -> String {
    request.inputs[i].shape = match rng.random_range(0..6) {
        0 => vec![],
        1 => vec![1, 1 << 40],
        2 => vec![1 << 40, 1 << 40],
        3 => vec![1; rng.random_range(2..100)],
        4 => vec![-1, 4],
        _ => (0..rng.random_range(0..6))
            .map(|_| adversarial_dim(rng))
            .collect(),
    };
    format!("inputs[{i}].shape={:?}", request.inputs[i].shape)
}

fn one_dimension(rng: &mut StdRng, request: &mut ModelInferRequest, i: usize) -> String {
    let shape = &mut request.inputs[i].shape;
    if shape.is_empty() {
        shape.push(adversarial_dim(rng));
    } else {
        let d = rng.random_range(0..shape.len());
        shape[d] = adversarial_dim(rng);
    }
    format!("inputs[{i}].shape={:?}", request.inputs[i].shape)
}

/// Another batch size on one input (its raw data resized to match).
fn rows(rng: &mut StdRng, request: &mut ModelInferRequest, i: usize, raw_in_use: bool) -> String {
    let rows = rng.random_range(0..4i64);
    let Some(first) = request.inputs[i].shape.first_mut() else {
        return noop();
    };
    let old = (*first).max(0) as usize;
    *first = rows;
    if raw_in_use && i < request.raw_input_contents.len() && old > 0 {
        let per_row = request.raw_input_contents[i].len() / old;
        request.raw_input_contents[i] = random_bytes(rng, per_row * rows as usize).into();
    }
    format!("inputs[{i}] rows={rows}")
}

// ---------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------

fn random_contents(rng: &mut StdRng) -> InferTensorContents {
    let n = rng.random_range(0..6);
    let mut c = InferTensorContents::default();
    match rng.random_range(0..8) {
        0 => c.bool_contents = (0..n).map(|_| rng.random()).collect(),
        1 => {
            c.int_contents = (0..n)
                .map(|_| pick(rng, &[0, -1, 127, 128, -129, 70000, i32::MIN, i32::MAX]))
                .collect()
        }
        2 => c.int64_contents = (0..n).map(|_| rng.random()).collect(),
        3 => {
            c.uint_contents = (0..n)
                .map(|_| pick(rng, &[0, 1, 255, 256, 65536, u32::MAX]))
                .collect()
        }
        4 => c.uint64_contents = (0..n).map(|_| rng.random()).collect(),
        5 => c.fp32_contents = (0..n).map(|_| nice_f32(rng)).collect(),
        6 => c.fp64_contents = (0..n).map(|_| rng.random()).collect(),
        _ => c.bytes_contents = (0..n).map(|_| Bytes::from(random_bytes(rng, n))).collect(),
    }
    c
}

/// BYTES elements that are well framed but not what ONNX Runtime string
/// tensors take (C strings of UTF-8): invalid UTF-8, a NUL byte.
const BAD_TEXT: &[&[u8]] = &[&[0xc3, 0x28], b"a\0b", b"\0", &[0xff], &[0xed, 0xa0, 0x80]];

/// Broken v2 BYTES framing, or well-framed text ONNX Runtime cannot take.
fn broken_bytes_raw(rng: &mut StdRng) -> Vec<u8> {
    let good = encode_bytes(&[b"ok".to_vec(), valid_text(rng)]);
    match rng.random_range(0..7) {
        0 => vec![1, 0], // truncated prefix
        1 => {
            let mut raw = good;
            raw.truncate(raw.len().saturating_sub(1).max(5));
            raw.push(7);
            raw
        }
        2 => {
            let mut raw = vec![0xff, 0xff, 0xff, 0xff];
            raw.extend(b"abc");
            raw
        }
        3 => {
            let mut raw = ((u32::MAX - 2).to_le_bytes()).to_vec();
            raw.extend(random_bytes(rng, 8));
            raw
        }
        4 | 5 => {
            // the bad element among good ones, anywhere
            let mut items = vec![valid_text(rng); rng.random_range(0..3)];
            let at = rng.random_range(0..=items.len());
            items.insert(at, pick(rng, BAD_TEXT).to_vec());
            encode_bytes(&items)
        }
        _ => random_bytes_in(rng, 1..64),
    }
}

fn raw_length(rng: &mut StdRng, request: &mut ModelInferRequest) -> String {
    let i = rng.random_range(0..request.raw_input_contents.len());
    let mut raw = request.raw_input_contents[i].to_vec();
    if rng.random_bool(0.5) && !raw.is_empty() {
        raw.truncate(rng.random_range(0..raw.len()));
    } else {
        raw.extend(random_bytes_in(rng, 1..64));
    }
    request.raw_input_contents[i] = raw.into();
    format!("raw[{i}].len={}", request.raw_input_contents[i].len())
}

fn raw_count(rng: &mut StdRng, request: &mut ModelInferRequest, raw_in_use: bool) -> String {
    if rng.random_bool(0.5) && raw_in_use {
        request.raw_input_contents.pop();
        "one raw entry fewer".into()
    } else {
        let len = rng.random_range(0..64);
        request.raw_input_contents.push(random_bytes(rng, len).into());
        "one raw entry more".into()
    }
}

/// Broken BYTES: bad framing in raw contents, or a bad element in typed ones.
fn bad_bytes(rng: &mut StdRng, request: &mut ModelInferRequest, i: usize, raw_in_use: bool) -> String {
    if raw_in_use && i < request.raw_input_contents.len() {
        request.raw_input_contents[i] = broken_bytes_raw(rng).into();
        format!("raw[{i}]={:?}", request.raw_input_contents[i])
    } else {
        let mut items: Vec<Bytes> = (0..rng.random_range(0..3))
            .map(|_| valid_text(rng).into())
            .collect();
        let at = rng.random_range(0..=items.len());
        items.insert(at, Bytes::from_static(pick(rng, BAD_TEXT)));
        request.inputs[i].contents = Some(InferTensorContents {
            bytes_contents: items,
            ..Default::default()
        });
        format!("inputs[{i}].bytes_contents={:?}", request.inputs[i].contents)
    }
}

/// Zero rows everywhere.
fn zero_rows(request: &mut ModelInferRequest) -> String {
    for tensor in &mut request.inputs {
        if let Some(first) = tensor.shape.first_mut() {
            *first = 0;
        }
        tensor.contents = None;
    }
    for raw in &mut request.raw_input_contents {
        *raw = Bytes::new();
    }
    "batch 0".into()
}

// ---------------------------------------------------------------------------
// Structure: inputs, outputs and parameters added, removed or repeated
// ---------------------------------------------------------------------------

fn duplicate_input(request: &mut ModelInferRequest, i: usize, raw_in_use: bool) -> String {
    request.inputs.push(request.inputs[i].clone());
    if raw_in_use && i < request.raw_input_contents.len() {
        request
            .raw_input_contents
            .push(request.raw_input_contents[i].clone());
    }
    format!("inputs[{i}] duplicated")
}

fn extra_input(rng: &mut StdRng, request: &mut ModelInferRequest, raw_in_use: bool) -> String {
    let name = garbage_string(rng);
    let mut extra = input(&name, "FP32", &[1, 4]);
    if raw_in_use {
        request.raw_input_contents.push(f32_bytes(&[0.0; 4]).into());
    } else {
        extra.contents = Some(InferTensorContents {
            fp32_contents: vec![0.0; 4],
            ..Default::default()
        });
    }
    request.inputs.push(extra);
    format!("extra input {}", clip(&name, 40))
}

fn remove_input(request: &mut ModelInferRequest, i: usize, raw_in_use: bool) -> String {
    request.inputs.remove(i);
    if raw_in_use && i < request.raw_input_contents.len() {
        request.raw_input_contents.remove(i);
    }
    format!("inputs[{i}] removed")
}

fn extra_output(rng: &mut StdRng, request: &mut ModelInferRequest) -> String {
    let name = match rng.random_range(0..3) {
        0 => garbage_string(rng),
        1 => pick(rng, &["sum", "diff", "y", "out", "a", "x"]).to_string(),
        _ => request
            .outputs
            .first()
            .map(|o| o.name.clone())
            .unwrap_or_default(),
    };
    request.outputs.push(output(&name));
    format!("output {} requested", clip(&name, 40))
}

/// A request parameter, also set on the chosen input if there is one.
fn parameter(rng: &mut StdRng, request: &mut ModelInferRequest, chosen: Option<usize>) -> String {
    let parameter = InferParameter {
        parameter_choice: Some(match rng.random_range(0..3) {
            0 => infer_parameter::ParameterChoice::Int64Param(rng.random()),
            1 => infer_parameter::ParameterChoice::StringParam(garbage_string(rng)),
            _ => infer_parameter::ParameterChoice::BoolParam(rng.random()),
        }),
    };
    let key = pick(
        rng,
        &["priority", "timeout", "binary_data_output", "sequence_id", "x"],
    );
    request.parameters.insert(key.to_string(), parameter.clone());
    if let Some(i) = chosen {
        request.inputs[i].parameters.insert(key.to_string(), parameter);
    }
    format!("parameter {key}")
}
