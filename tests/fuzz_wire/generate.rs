//! Request generation: well-formed requests for the served models, and
//! random malformations of them. Deterministic in (seed, index).

use bytes::Bytes;
use half::f16;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use switchyard::proto::inference::{InferParameter, InferTensorContents, ModelInferRequest, infer_parameter};

use crate::common::{f32_bytes, input};
use crate::models::{DATATYPES, SPECS, Spec, encode_bytes, output};
use crate::report::clip;

pub fn pick<T: Clone>(rng: &mut StdRng, items: &[T]) -> T {
    items[rng.random_range(0..items.len())].clone()
}

pub fn random_bytes(rng: &mut StdRng, len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    rng.fill_bytes(&mut bytes);
    bytes
}

pub fn random_bytes_in(rng: &mut StdRng, len: std::ops::Range<usize>) -> Vec<u8> {
    let len = rng.random_range(len);
    random_bytes(rng, len)
}

fn nice_f32(rng: &mut StdRng) -> f32 {
    if rng.random_bool(0.85) {
        rng.random_range(-64i32..64) as f32 / 2.0
    } else {
        // any bit pattern: NaN, infinities, subnormals, -0.0
        f32::from_bits(rng.random())
    }
}

/// UTF-8 text without NUL, including multi-byte characters.
fn valid_text(rng: &mut StdRng) -> Vec<u8> {
    let len = rng.random_range(0..12);
    let mut text = String::new();
    for _ in 0..len {
        let c = match rng.random_range(0..4) {
            0 => pick(rng, &['ü', 'ï', 'ö', '✓', '\t', '\n', '😀', ' ']),
            _ => char::from(rng.random_range(0x20u8..0x7f)),
        };
        text.push(c);
    }
    text.into_bytes()
}

/// A string for any name-like field: empty, random, near misses of real
/// names and datatypes, real names, and long ones.
pub fn garbage_string(rng: &mut StdRng) -> String {
    match rng.random_range(0..7) {
        0 => String::new(),
        1 => (0..rng.random_range(1..24))
            .map(|_| char::from(rng.random_range(0x20u8..0x7f)))
            .collect(),
        2 => (0..rng.random_range(1..8))
            .filter_map(|_| char::from_u32(rng.random_range(0..0x11_0000)))
            .collect(),
        3 => "x".repeat(rng.random_range(200..4000)),
        // 16-64 KiB, past every client's header limit were it echoed whole
        // into grpc-message; multi-byte characters test the cut at 1024 bytes.
        4 => {
            let c = pick(rng, &['x', 'é', '✓', '😀']);
            let bytes = rng.random_range(16 << 10..64 << 10);
            c.to_string().repeat(bytes / c.len_utf8())
        }
        5 => pick(
            rng,
            &[
                "fp32",
                "FLOAT",
                "TYPE_FP32",
                "FP32 ",
                " FP32",
                "FP32\0",
                "BYTES\0",
                "INT",
                "STRING",
                "F P32",
                "FP3",
                "UINT128",
                "..",
                "add_fp32/1",
                "../add_fp32",
                "ADD_FP32",
            ],
        )
        .to_string(),
        _ => pick(
            rng,
            &[
                "add_fp32",
                "string_identity",
                "int64_ops",
                "fp16_ops",
                "a",
                "b",
                "x",
                "text",
            ],
        )
        .to_string(),
    }
}

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

/// A request that the contract says must succeed.
fn valid_request(rng: &mut StdRng, spec: &Spec) -> ModelInferRequest {
    let rows = rng.random_range(1..4i64);
    // FP16 has no typed contents field.
    let raw = spec.fixture == "fp16_ops" || rng.random_bool(0.7);
    let mut request = ModelInferRequest {
        model_name: spec.model.into(),
        model_version: pick(rng, &["", "", "", "1"]).into(),
        id: format!("r{}", rng.random::<u32>()),
        ..Default::default()
    };
    for &(name, datatype, shape) in spec.inputs {
        let shape: Vec<i64> = shape.iter().map(|&d| if d < 0 { rows } else { d }).collect();
        let count = shape.iter().product::<i64>() as usize;
        let mut contents = InferTensorContents::default();
        let bytes: Vec<u8> = match datatype {
            "FP32" => {
                contents.fp32_contents = (0..count).map(|_| nice_f32(rng)).collect();
                f32_bytes(&contents.fp32_contents)
            }
            "INT64" => {
                contents.int64_contents = (0..count)
                    .map(|_| {
                        if rng.random_bool(0.8) {
                            rng.random_range(-1000..1000)
                        } else {
                            rng.random()
                        }
                    })
                    .collect();
                contents
                    .int64_contents
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect()
            }
            "FP16" => (0..count)
                .flat_map(|_| {
                    let value = if rng.random_bool(0.8) {
                        f16::from_f32(rng.random_range(-64i32..64) as f32 / 4.0)
                    } else {
                        f16::from_bits(rng.random())
                    };
                    value.to_le_bytes()
                })
                .collect(),
            "BYTES" => {
                let items: Vec<Vec<u8>> = (0..count).map(|_| valid_text(rng)).collect();
                contents.bytes_contents = items.iter().cloned().map(Bytes::from).collect();
                encode_bytes(&items)
            }
            other => unreachable!("{other}"),
        };
        let mut tensor = input(name, datatype, &shape);
        if raw {
            request.raw_input_contents.push(bytes.into());
        } else {
            tensor.contents = Some(contents);
        }
        request.inputs.push(tensor);
    }
    if rng.random_bool(0.3) {
        let mut names: Vec<&str> = spec.outputs.iter().map(|o| o.0).collect();
        // a random non-empty subset in random order
        for i in (1..names.len()).rev() {
            names.swap(i, rng.random_range(0..=i));
        }
        names.truncate(rng.random_range(1..=names.len()));
        request.outputs = names.into_iter().map(output).collect();
    }
    request
}

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

/// Picks an input index.
fn some_input(rng: &mut StdRng, request: &ModelInferRequest) -> Option<usize> {
    (!request.inputs.is_empty()).then(|| rng.random_range(0..request.inputs.len()))
}

/// Applies one random malformation; returns what it did.
fn mutate(rng: &mut StdRng, request: &mut ModelInferRequest) -> String {
    let raw_in_use = !request.raw_input_contents.is_empty();
    let chosen = some_input(rng, request);
    // Mutations of one input do nothing to a request without inputs.
    let noop = || "noop".to_string();
    match rng.random_range(0..24) {
        0 => {
            request.model_name = garbage_string(rng);
            format!("model_name={}", clip(&request.model_name, 60))
        }
        1 => {
            // Only the canonical decimal spelling names a version: "01",
            // "+1" and the rest are NOT_FOUND.
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
        2 => {
            let Some(i) = chosen else { return noop() };
            request.inputs[i].datatype = if rng.random_bool(0.5) {
                pick(rng, DATATYPES).0.to_string()
            } else {
                garbage_string(rng)
            };
            format!("inputs[{i}].datatype={}", clip(&request.inputs[i].datatype, 40))
        }
        3 => {
            let Some(i) = chosen else { return noop() };
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
        4 => {
            let Some(i) = chosen else { return noop() };
            let shape = &mut request.inputs[i].shape;
            if shape.is_empty() {
                shape.push(adversarial_dim(rng));
            } else {
                let d = rng.random_range(0..shape.len());
                shape[d] = adversarial_dim(rng);
            }
            format!("inputs[{i}].shape={:?}", request.inputs[i].shape)
        }
        5 if raw_in_use => {
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
        6 if raw_in_use => {
            request.raw_input_contents.clear();
            "raw dropped".into()
        }
        7 => {
            if rng.random_bool(0.5) && raw_in_use {
                request.raw_input_contents.pop();
                "one raw entry fewer".into()
            } else {
                let len = rng.random_range(0..64);
                request.raw_input_contents.push(random_bytes(rng, len).into());
                "one raw entry more".into()
            }
        }
        8 => {
            let Some(i) = chosen else { return noop() };
            request.inputs[i].contents = Some(random_contents(rng));
            format!("inputs[{i}].contents={:?}", request.inputs[i].contents)
        }
        9 => {
            let Some(i) = chosen else { return noop() };
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
        10 => {
            let Some(i) = chosen else { return noop() };
            request.inputs.push(request.inputs[i].clone());
            if raw_in_use && i < request.raw_input_contents.len() {
                request
                    .raw_input_contents
                    .push(request.raw_input_contents[i].clone());
            }
            format!("inputs[{i}] duplicated")
        }
        11 => {
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
        12 => {
            let Some(i) = chosen else { return noop() };
            request.inputs.remove(i);
            if raw_in_use && i < request.raw_input_contents.len() {
                request.raw_input_contents.remove(i);
            }
            format!("inputs[{i}] removed")
        }
        13 => {
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
        14 => {
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
        15 => {
            let Some(i) = chosen else { return noop() };
            request.inputs[i].name = pick(rng, &["a", "b", "x", "text", "A", "", "a "]).to_string();
            format!("inputs[{i}].name={:?}", request.inputs[i].name)
        }
        16 if raw_in_use => {
            // same lengths, arbitrary bit patterns
            let i = rng.random_range(0..request.raw_input_contents.len());
            let len = request.raw_input_contents[i].len();
            request.raw_input_contents[i] = random_bytes(rng, len).into();
            format!("raw[{i}] randomized")
        }
        17 => {
            // zero rows everywhere
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
        18 => {
            request.id = garbage_string(rng);
            format!("id={}", clip(&request.id, 40))
        }
        19 => {
            let Some(i) = chosen else { return noop() };
            request.inputs[i].contents = Some(random_contents(rng));
            request.raw_input_contents.clear();
            format!("inputs[{i}] typed, raw dropped")
        }
        20 => {
            // a different, still well-formed model name
            request.model_name = SPECS[rng.random_range(0..SPECS.len())].model.to_string();
            format!("model_name={}", request.model_name)
        }
        21 => {
            // another batch size on one input
            let Some(i) = chosen else { return noop() };
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

/// A request for `index` of run `seed`: valid with probability 0.3, else
/// with one to three malformations (which are listed).
pub fn generate(seed: u64, index: usize) -> (ModelInferRequest, Vec<String>) {
    let mut rng = StdRng::seed_from_u64(seed ^ (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let spec = &SPECS[rng.random_range(0..SPECS.len())];
    let mut request = valid_request(&mut rng, spec);
    let mut done = Vec::new();
    if !rng.random_bool(0.3) {
        for _ in 0..rng.random_range(1..=3) {
            done.push(mutate(&mut rng, &mut request));
        }
    }
    (request, done)
}

/// `grpc-timeout` values that have passed on arrival ("1n" is below the
/// server's head start, so it has too).
pub const EXPIRED_TIMEOUTS: &[&str] = &["0n", "1n", "1u", "0S", "0H"];

/// The `grpc-timeout` header for request `index`, if any: mostly none; else
/// malformed ones (ignored), far-off ones (never in force here), and ones
/// already expired on arrival.
pub fn grpc_timeout(index: usize) -> Option<&'static str> {
    const TIMEOUTS: &[&str] = &[
        "abc",
        "-1S",
        "1.5S",
        "1s",
        "",
        "S",
        "99999999H",
        "100000000S",
        "30S",
        "5M",
        "0n",
        "1n",
        "1u",
        "0S",
        "0H",
    ];
    index
        .is_multiple_of(7)
        .then(|| TIMEOUTS[index / 7 % TIMEOUTS.len()])
}
