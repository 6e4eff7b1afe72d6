//! Property-based fuzzing of request decoding and tensor checks, runnable on
//! stable Rust (no cargo-fuzz): proptest drives the public library API with
//! arbitrary and adversarial inputs.
//!
//! - `split_bytes_elements` (v2 BYTES framing) never panics and round-trips
//!   with `encode_bytes_elements`;
//! - `element_count` never panics and equals checked multiplication;
//! - `InputTensor::validate` never panics on any shape (negative, huge,
//!   many dimensions), datatype or data length, and accepts exactly when an
//!   independent oracle says datatype, rank, dimensions, batch limit and
//!   byte count all match;
//! - prost decoding of arbitrary (and of mutated valid) bytes as
//!   `ModelInferRequest` returns `Ok` or `Err`, never panics, and whatever
//!   decodes re-encodes to an equal message.
//!
//! Cases per property: `PROPTEST_CASES` (default 256, a few seconds in a
//! debug build); seed: `PROPTEST_RNG_SEED`. `scripts/fuzz.sh SECONDS` runs
//! this file repeatedly with many cases and fresh seeds for a bounded time.

use bytes::Bytes;
use proptest::prelude::*;
use prost::Message;
use switchyard::model::{
    DataType, InputTensor, TensorData, TensorSpec, element_count, encode_bytes_elements, split_bytes_elements,
};
use switchyard::proto::inference::model_infer_request::{InferInputTensor, InferRequestedOutputTensor};
use switchyard::proto::inference::{
    InferParameter, InferTensorContents, ModelInferRequest, ModelInferResponse, infer_parameter,
};
use tonic::Code;

// ---------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------

/// Every datatype, with the two that have extra rules (BOOL bytes must be
/// 0 or 1; BYTES carries elements, not raw bytes) drawn more often.
fn datatype() -> impl Strategy<Value = DataType> {
    prop_oneof![
        10 => prop::sample::select(DataType::ALL.to_vec()),
        2 => Just(DataType::Bool),
        2 => Just(DataType::Bytes),
    ]
}

/// Any i64, biased towards the values that break shape arithmetic.
fn adversarial_dim() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => 0i64..8,
        1 => Just(-1i64),
        1 => Just(i64::MIN),
        1 => Just(i64::MAX),
        1 => Just(1i64 << 32),
        1 => Just(1i64 << 40),
        1 => Just(1i64 << 62),
        1 => (1u32..63).prop_map(|bit| 1i64 << bit),
        2 => any::<i64>(),
    ]
}

/// A declared dimension: dynamic (-1) or fixed.
fn spec_dim() -> impl Strategy<Value = i64> {
    prop_oneof![2 => Just(-1i64), 3 => 0i64..5]
}

/// How a request's shape departs from one that fits the declaration.
#[derive(Debug, Clone)]
enum ShapeMutation {
    None,
    Replace { index: usize, dim: i64 },
    Push(i64),
    Pop,
    Negate(usize),
}

fn shape_mutation() -> impl Strategy<Value = ShapeMutation> {
    prop_oneof![
        6 => Just(ShapeMutation::None),
        1 => (any::<usize>(), adversarial_dim()).prop_map(|(index, dim)| ShapeMutation::Replace { index, dim }),
        1 => adversarial_dim().prop_map(ShapeMutation::Push),
        1 => Just(ShapeMutation::Pop),
        1 => any::<usize>().prop_map(ShapeMutation::Negate),
    ]
}

/// How the data departs from what the shape needs.
#[derive(Debug, Clone)]
struct DataPlan {
    /// Raw bytes for BYTES, elements for the others.
    wrong_kind: bool,
    /// Exact length (raw) or element count (BYTES) plus `delta`, clamped
    /// at 0 and capped.
    delta: i64,
    /// BOOL bytes are all 0 or 1.
    bool_clean: bool,
}

fn data_plan() -> impl Strategy<Value = DataPlan> {
    (
        prop::bool::weighted(0.1),
        prop_oneof![6 => Just(0i64), 1 => Just(-1i64), 1 => Just(1i64), 1 => -16i64..16],
        prop::bool::weighted(0.6),
    )
        .prop_map(|(wrong_kind, delta, bool_clean)| DataPlan {
            wrong_kind,
            delta,
            bool_clean,
        })
}

/// Largest tensor (in bytes) the matching-input strategy builds.
const MAX_DATA: usize = 4096;

#[derive(Debug, Clone)]
struct ValidateCase {
    spec: TensorSpec,
    input: InputTensor,
    max_batch_size: usize,
}

/// Inputs built from the declaration and then bent: most are close to
/// acceptable so that both outcomes are exercised.
fn near_valid_case() -> impl Strategy<Value = ValidateCase> {
    (
        datatype(),
        prop::collection::vec(spec_dim(), 0..4),
        prop::collection::vec(0i64..4, 4),
        prop_oneof![3 => Just(None), 1 => datatype().prop_map(Some)],
        shape_mutation(),
        data_plan(),
        prop_oneof![3 => Just(0usize), 3 => 0usize..6, 1 => any::<usize>()],
        any::<u64>(),
    )
        .prop_map(
            |(spec_type, spec_shape, fills, other_type, mutation, plan, max_batch_size, seed)| {
                // A concrete shape that fits the declaration.
                let mut shape: Vec<i64> = spec_shape
                    .iter()
                    .zip(fills.iter().cycle())
                    .map(|(&want, &fill)| if want < 0 { fill } else { want })
                    .collect();
                match mutation {
                    ShapeMutation::None => {}
                    ShapeMutation::Replace { index, dim } if !shape.is_empty() => {
                        let len = shape.len();
                        shape[index % len] = dim;
                    }
                    ShapeMutation::Replace { dim, .. } | ShapeMutation::Push(dim) => shape.push(dim),
                    ShapeMutation::Pop => {
                        shape.pop();
                    }
                    ShapeMutation::Negate(index) if !shape.is_empty() => {
                        let len = shape.len();
                        shape[index % len] = shape[index % len].wrapping_neg().min(-1);
                    }
                    ShapeMutation::Negate(_) => shape.push(-1),
                }
                let datatype = other_type.unwrap_or(spec_type);
                let elements = element_count(&shape).unwrap_or(0);
                let data = build_data(datatype, elements, &plan, seed);
                ValidateCase {
                    spec: TensorSpec {
                        name: "x".into(),
                        datatype: spec_type,
                        shape: spec_shape,
                    },
                    input: InputTensor {
                        name: "x".into(),
                        datatype,
                        shape,
                        data,
                    },
                    max_batch_size,
                }
            },
        )
}

fn build_data(datatype: DataType, elements: usize, plan: &DataPlan, seed: u64) -> TensorData {
    let adjust = |exact: usize, delta: i64| -> usize {
        let wanted = i128::try_from(exact).unwrap_or(i128::MAX) + i128::from(delta);
        usize::try_from(wanted.clamp(0, MAX_DATA as i128)).unwrap_or(0)
    };
    // Cheap deterministic filler bytes.
    let mut state = seed | 1;
    let mut next_byte = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state as u8
    };
    let DataPlan {
        wrong_kind,
        delta,
        bool_clean,
    } = *plan;
    match (datatype == DataType::Bytes) != wrong_kind {
        false => {
            let size = datatype.element_size().unwrap_or(1);
            let exact = elements.saturating_mul(size);
            let len = adjust(exact, delta);
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    let b = next_byte();
                    if bool_clean && datatype == DataType::Bool {
                        b & 1
                    } else {
                        b
                    }
                })
                .collect();
            TensorData::Raw(Bytes::from(bytes))
        }
        true => {
            let count = adjust(elements, delta);
            TensorData::Strings(
                (0..count)
                    .map(|_| {
                        // Near-valid strings are UTF-8; `wild_case` brings the rest.
                        let len = usize::from(next_byte() % 6);
                        Bytes::from((0..len).map(|_| b'a' + next_byte() % 26).collect::<Vec<_>>())
                    })
                    .collect(),
            )
        }
    }
}

/// Inputs with no relation to the declaration at all.
fn wild_case() -> impl Strategy<Value = ValidateCase> {
    (
        datatype(),
        prop::collection::vec(prop_oneof![spec_dim(), adversarial_dim()], 0..6),
        datatype(),
        prop::collection::vec(adversarial_dim(), 0..12),
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..256).prop_map(|b| TensorData::Raw(Bytes::from(b))),
            prop::collection::vec(prop::collection::vec(any::<u8>(), 0..8), 0..16)
                .prop_map(|items| TensorData::Strings(items.into_iter().map(Bytes::from).collect())),
        ],
        any::<usize>(),
    )
        .prop_map(
            |(spec_type, spec_shape, datatype, shape, data, max_batch_size)| ValidateCase {
                spec: TensorSpec {
                    name: "in put\u{0}'x".into(),
                    datatype: spec_type,
                    shape: spec_shape,
                },
                input: InputTensor {
                    name: "in put\u{0}'x".into(),
                    datatype,
                    shape,
                    data,
                },
                max_batch_size: if max_batch_size % 3 == 0 {
                    0
                } else {
                    max_batch_size % 16
                },
            },
        )
}

// ---------------------------------------------------------------------------
// Oracles, written independently of src/model/tensor.rs
// ---------------------------------------------------------------------------

/// Product of the dimensions, multiplied left to right in 128-bit integers;
/// `None` for a negative dimension or as soon as a partial product exceeds
/// `usize::MAX` (so `[2^40, 2^40, 0]` is `None`: the count is rejected as
/// "too many elements" before the zero is seen, a conservative choice).
fn oracle_count(shape: &[i64]) -> Option<usize> {
    let mut product: u128 = 1;
    for &dim in shape {
        if dim < 0 {
            return None;
        }
        product *= dim as u128; // < 2^64 * 2^63: cannot overflow u128
        if product > usize::MAX as u128 {
            return None;
        }
    }
    Some(product as usize)
}

/// Whether `validate` must accept.
fn oracle_accepts(case: &ValidateCase) -> bool {
    let ValidateCase {
        spec,
        input,
        max_batch_size,
    } = case;
    if input.datatype != spec.datatype || input.shape.len() != spec.shape.len() {
        return false;
    }
    for (&got, &want) in input.shape.iter().zip(&spec.shape) {
        if got < 0 || (want >= 0 && got != want) {
            return false;
        }
    }
    if *max_batch_size > 0 {
        // Rank 0 has no batch dimension: batch 0 is within any limit.
        let batch = input.shape.first().copied().unwrap_or(0);
        if batch < 0 || batch as u128 > *max_batch_size as u128 {
            return false;
        }
    }
    let Some(elements) = oracle_count(&input.shape) else {
        return false;
    };
    match (&input.data, input.datatype) {
        // ONNX Runtime string tensors are C strings of UTF-8: no NUL, valid UTF-8.
        (TensorData::Strings(items), DataType::Bytes) => {
            items.len() == elements
                && items
                    .iter()
                    .all(|i| std::str::from_utf8(i).is_ok() && !i.contains(&0))
        }
        (TensorData::Raw(_), DataType::Bytes) | (TensorData::Strings(_), _) => false,
        (TensorData::Raw(raw), datatype) => {
            let size: u128 = match datatype {
                DataType::Bool | DataType::Uint8 | DataType::Int8 => 1,
                DataType::Uint16 | DataType::Int16 | DataType::Fp16 | DataType::Bf16 => 2,
                DataType::Uint32 | DataType::Int32 | DataType::Fp32 => 4,
                DataType::Uint64 | DataType::Int64 | DataType::Fp64 => 8,
                DataType::Bytes => unreachable!(),
            };
            elements as u128 * size == raw.len() as u128
                && (datatype != DataType::Bool || raw.iter().all(|&b| b <= 1))
        }
    }
}

fn check_validate(case: &ValidateCase) -> Result<(), TestCaseError> {
    let expected = oracle_accepts(case);
    match case.input.validate(&case.spec, case.max_batch_size) {
        Ok(()) => prop_assert!(expected, "validate accepted, the oracle rejects: {case:?}"),
        Err(error) => {
            prop_assert!(
                !expected,
                "validate rejected ({error}), the oracle accepts: {case:?}"
            );
            let status: tonic::Status = error.into();
            prop_assert_eq!(status.code(), Code::InvalidArgument, "{}", status.message());
            let named = format!("'{}'", case.input.name);
            prop_assert!(
                status.message().contains(&named),
                "error does not name the input: {}",
                status.message()
            );
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Protobuf messages
// ---------------------------------------------------------------------------

fn contents() -> impl Strategy<Value = InferTensorContents> {
    (
        prop::collection::vec(any::<bool>(), 0..4),
        prop::collection::vec(any::<i32>(), 0..4),
        prop::collection::vec(any::<i64>(), 0..4),
        prop::collection::vec(any::<u32>(), 0..4),
        prop::collection::vec(any::<u64>(), 0..4),
        prop::collection::vec(any::<f32>(), 0..4),
        prop::collection::vec(any::<f64>(), 0..4),
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..6), 0..3),
    )
        .prop_map(|(b, i, i64s, u, u64s, f, d, bytes)| InferTensorContents {
            bool_contents: b,
            int_contents: i,
            int64_contents: i64s,
            uint_contents: u,
            uint64_contents: u64s,
            fp32_contents: f,
            fp64_contents: d,
            bytes_contents: bytes.into_iter().map(Bytes::from).collect(),
        })
}

fn parameter() -> impl Strategy<Value = InferParameter> {
    prop_oneof![
        any::<bool>().prop_map(infer_parameter::ParameterChoice::BoolParam),
        any::<i64>().prop_map(infer_parameter::ParameterChoice::Int64Param),
        ".{0,8}".prop_map(infer_parameter::ParameterChoice::StringParam),
        any::<f64>().prop_map(infer_parameter::ParameterChoice::DoubleParam),
        any::<u64>().prop_map(infer_parameter::ParameterChoice::Uint64Param),
    ]
    .prop_map(|choice| InferParameter {
        parameter_choice: Some(choice),
    })
}

fn datatype_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => datatype().prop_map(|t| t.as_str().to_string()),
        1 => ".{0,8}",
    ]
}

/// Well-formed requests with arbitrary field values, for the mutation property.
fn request() -> impl Strategy<Value = ModelInferRequest> {
    let input = (
        "[a-z]{0,6}",
        datatype_name(),
        prop::collection::vec(adversarial_dim(), 0..5),
        prop::option::of(contents()),
        prop::collection::hash_map("[a-z]{1,4}", parameter(), 0..2),
    )
        .prop_map(|(name, datatype, shape, contents, parameters)| InferInputTensor {
            name,
            datatype,
            shape,
            parameters,
            contents,
        });
    (
        "[a-z_0-9]{0,10}",
        "[0-9a-z-]{0,3}",
        ".{0,6}",
        prop::collection::vec(input, 0..4),
        prop::collection::vec("[a-z]{0,6}", 0..3),
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..4),
        prop::collection::hash_map("[a-z_]{1,8}", parameter(), 0..3),
    )
        .prop_map(
            |(model_name, model_version, id, inputs, outputs, raw, parameters)| ModelInferRequest {
                model_name,
                model_version,
                id,
                parameters,
                inputs,
                outputs: outputs
                    .into_iter()
                    .map(|name| InferRequestedOutputTensor {
                        name,
                        ..Default::default()
                    })
                    .collect(),
                raw_input_contents: raw.into_iter().map(Bytes::from).collect(),
            },
        )
}

#[derive(Debug, Clone)]
enum ByteEdit {
    Flip {
        at: usize,
        mask: u8,
    },
    Set {
        at: usize,
        value: u8,
    },
    Insert {
        at: usize,
        bytes: Vec<u8>,
    },
    Remove {
        at: usize,
        len: usize,
    },
    Truncate(usize),
    /// A varint that claims a huge length, dropped in somewhere.
    HugeLength {
        at: usize,
    },
}

fn byte_edit() -> impl Strategy<Value = ByteEdit> {
    prop_oneof![
        3 => (any::<usize>(), 1u8..=255).prop_map(|(at, mask)| ByteEdit::Flip { at, mask }),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(at, value)| ByteEdit::Set { at, value }),
        1 => (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8)).prop_map(|(at, bytes)| ByteEdit::Insert { at, bytes }),
        1 => (any::<usize>(), 1usize..8).prop_map(|(at, len)| ByteEdit::Remove { at, len }),
        1 => any::<usize>().prop_map(ByteEdit::Truncate),
        1 => any::<usize>().prop_map(|at| ByteEdit::HugeLength { at }),
    ]
}

fn apply(bytes: &mut Vec<u8>, edit: &ByteEdit) {
    let pos = |at: usize, len: usize| if len == 0 { 0 } else { at % len };
    match edit {
        ByteEdit::Flip { at, mask } if !bytes.is_empty() => {
            let i = pos(*at, bytes.len());
            bytes[i] ^= mask;
        }
        ByteEdit::Set { at, value } if !bytes.is_empty() => {
            let i = pos(*at, bytes.len());
            bytes[i] = *value;
        }
        ByteEdit::Insert { at, bytes: new } => {
            let i = pos(*at, bytes.len() + 1);
            bytes.splice(i..i, new.iter().copied());
        }
        ByteEdit::Remove { at, len } if !bytes.is_empty() => {
            let i = pos(*at, bytes.len());
            let end = (i + len).min(bytes.len());
            bytes.drain(i..end);
        }
        ByteEdit::Truncate(at) => {
            let i = pos(*at, bytes.len() + 1);
            bytes.truncate(i);
        }
        ByteEdit::HugeLength { at } => {
            let i = pos(*at, bytes.len() + 1);
            // Field 6 (raw_input_contents), wire type 2, length 2^40.
            let huge = [0x32, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20];
            bytes.splice(i..i, huge);
        }
        _ => {}
    }
}

/// A copy that compares equal exactly when the wire content is equal: floats
/// (NaN != NaN) are replaced by their bit patterns.
fn normalized(request: &ModelInferRequest) -> ModelInferRequest {
    fn bits(parameters: &mut std::collections::HashMap<String, InferParameter>) {
        for parameter in parameters.values_mut() {
            if let Some(infer_parameter::ParameterChoice::DoubleParam(value)) = parameter.parameter_choice {
                parameter.parameter_choice = Some(infer_parameter::ParameterChoice::StringParam(format!(
                    "f64 bits {:x}",
                    value.to_bits()
                )));
            }
        }
    }
    let mut request = request.clone();
    bits(&mut request.parameters);
    for input in &mut request.inputs {
        bits(&mut input.parameters);
        if let Some(contents) = &mut input.contents {
            let fp32 = std::mem::take(&mut contents.fp32_contents);
            let fp64 = std::mem::take(&mut contents.fp64_contents);
            contents.uint_contents.extend(fp32.iter().map(|v| v.to_bits()));
            contents.uint64_contents.extend(fp64.iter().map(|v| v.to_bits()));
            contents.int_contents.push(fp32.len() as i32);
            contents.int64_contents.push(fp64.len() as i64);
        }
    }
    for output in &mut request.outputs {
        bits(&mut output.parameters);
    }
    request
}

/// Decodes, and if that works, checks the message survives a re-encode and
/// that the library's own helpers cope with whatever it carries.
fn decode_request(bytes: &[u8]) -> Result<(), TestCaseError> {
    let Ok(request) = ModelInferRequest::decode(bytes) else {
        return Ok(());
    };
    let again = ModelInferRequest::decode(request.encode_to_vec().as_slice())
        .map_err(|e| TestCaseError::fail(format!("re-encoded message does not decode: {e}")))?;
    prop_assert_eq!(normalized(&again), normalized(&request));
    for input in &request.inputs {
        let _ = DataType::parse(&input.datatype);
        let _ = element_count(&input.shape);
    }
    for raw in &request.raw_input_contents {
        if let Ok(items) = split_bytes_elements("x", raw) {
            prop_assert_eq!(
                encode_bytes_elements(items.iter().map(|b| b.as_ref())),
                raw.clone()
            );
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

proptest! {
    /// Any byte string either splits into elements that re-encode to exactly
    /// the same bytes, or is rejected as INVALID_ARGUMENT naming the input.
    #[test]
    fn split_bytes_elements_never_panics_and_round_trips(
        raw in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..512),
            // mostly-valid framing with a corrupted tail
            (prop::collection::vec(prop::collection::vec(any::<u8>(), 0..16), 0..8), prop::collection::vec(any::<u8>(), 0..6))
                .prop_map(|(items, tail)| {
                    let mut raw = encode_bytes_elements(items.iter().map(Vec::as_slice)).to_vec();
                    raw.extend(tail);
                    raw
                }),
        ]
    ) {
        let raw = Bytes::from(raw);
        match split_bytes_elements("text", &raw) {
            Ok(items) => {
                let encoded = encode_bytes_elements(items.iter().map(|b| b.as_ref()));
                prop_assert_eq!(encoded, raw);
            }
            Err(error) => {
                let status: tonic::Status = error.into();
                prop_assert_eq!(status.code(), Code::InvalidArgument);
                prop_assert!(status.message().contains("'text'"), "{}", status.message());
            }
        }
    }

    /// Encoding then splitting gives back the elements (zero-copy slices).
    #[test]
    fn encode_then_split_is_identity(
        items in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..32)
    ) {
        let encoded = encode_bytes_elements(items.iter().map(Vec::as_slice));
        let expected_len: usize = items.iter().map(|i| 4 + i.len()).sum();
        prop_assert_eq!(encoded.len(), expected_len);
        let split = split_bytes_elements("x", &encoded).expect("own encoding splits");
        let split: Vec<Vec<u8>> = split.iter().map(|b| b.to_vec()).collect();
        prop_assert_eq!(split, items);
    }

    /// `element_count` equals checked left-to-right multiplication.
    #[test]
    fn element_count_matches_checked_multiplication(
        shape in prop::collection::vec(adversarial_dim(), 0..10)
    ) {
        prop_assert_eq!(element_count(&shape), oracle_count(&shape), "shape {:?}", shape);
    }

    /// `validate` accepts exactly what the oracle accepts, for inputs close
    /// to the declaration.
    #[test]
    fn validate_agrees_with_oracle_near_valid(case in near_valid_case()) {
        check_validate(&case)?;
    }

    /// ... and for inputs unrelated to it (huge, negative, many dimensions).
    #[test]
    fn validate_agrees_with_oracle_wild(case in wild_case()) {
        check_validate(&case)?;
    }

    /// Arbitrary bytes never panic the protobuf decoder.
    #[test]
    fn model_infer_request_decode_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
        decode_request(&bytes)?;
        // The response type and typed contents travel the same wire.
        let _ = ModelInferResponse::decode(bytes.as_slice());
        let _ = InferTensorContents::decode(bytes.as_slice());
    }

    /// Valid encodings with a few byte-level edits (flips, truncation,
    /// insertions, lengths claiming 2^40 bytes) never panic the decoder.
    #[test]
    fn model_infer_request_decode_mutated(
        request in request(),
        edits in prop::collection::vec(byte_edit(), 0..4),
    ) {
        let mut bytes = request.encode_to_vec();
        if edits.is_empty() {
            let decoded = ModelInferRequest::decode(bytes.as_slice());
            prop_assert_eq!(decoded.ok().as_ref().map(normalized), Some(normalized(&request)));
        }
        for edit in &edits {
            apply(&mut bytes, edit);
        }
        decode_request(&bytes)?;
    }
}

/// Guards the properties above against becoming vacuous: the near-valid
/// strategy must produce plenty of inputs on both sides of the oracle, and
/// the wild one must reach the huge and negative shapes.
#[test]
fn strategies_cover_accept_and_reject() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(Config::default().rng_algorithm),
    );
    let (mut accepted, mut rejected, mut overflowing, mut negative) = (0, 0, 0, 0);
    for _ in 0..2000 {
        let case = near_valid_case().new_tree(&mut runner).unwrap().current();
        if oracle_accepts(&case) {
            accepted += 1;
        } else {
            rejected += 1;
        }
        let wild = wild_case().new_tree(&mut runner).unwrap().current();
        if oracle_count(&wild.input.shape).is_none() {
            if wild.input.shape.iter().any(|&d| d < 0) {
                negative += 1;
            } else {
                overflowing += 1;
            }
        }
    }
    eprintln!(
        "near-valid: {accepted} accepted, {rejected} rejected; wild: {overflowing} overflowing, {negative} negative"
    );
    assert!(
        accepted > 400 && rejected > 400,
        "accepted {accepted}, rejected {rejected}"
    );
    assert!(
        overflowing > 50 && negative > 50,
        "overflowing {overflowing}, negative {negative}"
    );
}
