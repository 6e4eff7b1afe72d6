//! Request generation: well-formed requests for the served models, then
//! (malform.rs) random malformations of them. Deterministic in (seed, index).

use bytes::Bytes;
use half::f16;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use switchyard::proto::inference::{InferTensorContents, ModelInferRequest};

use crate::common::{f32_bytes, input};
use crate::malform::mutate;
use crate::models::{SPECS, Spec, encode_bytes, output};

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

/// Mostly small halves; now and then any bit pattern.
pub fn nice_f32(rng: &mut StdRng) -> f32 {
    if rng.random_bool(0.85) {
        rng.random_range(-64i32..64) as f32 / 2.0
    } else {
        // any bit pattern: NaN, infinities, subnormals, -0.0
        f32::from_bits(rng.random())
    }
}

/// UTF-8 text without NUL, including multi-byte characters.
pub fn valid_text(rng: &mut StdRng) -> Vec<u8> {
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
