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
//!
//! Layout: the properties are here; `fuzz_decode/tensor_cases.rs` (inputs
//! and declarations for `validate`), `oracle.rs` (what `validate` and
//! `element_count` must answer), `messages.rs` (well-formed requests) and
//! `mutation.rs` (byte edits of them, and the decode round trip).

use bytes::Bytes;
use proptest::prelude::*;
use prost::Message;
use switchyard::proto::inference::model_infer_request::{InferInputTensor, InferRequestedOutputTensor};
use switchyard::proto::inference::{
    InferParameter, InferTensorContents, ModelInferRequest, ModelInferResponse, infer_parameter,
};
use switchyard::tensor::{
    DataType, InputTensor, TensorData, TensorSpec, element_count, encode_bytes_elements, split_bytes_elements,
};
use tonic::Code;

// The library API is imported above and nowhere else: the modules below take
// it from the crate root (`use crate::...`), so its paths are in one place.

#[path = "fuzz_decode/messages.rs"]
mod messages;
#[path = "fuzz_decode/mutation.rs"]
mod mutation;
#[path = "fuzz_decode/oracle.rs"]
mod oracle;
#[path = "fuzz_decode/tensor_cases.rs"]
mod tensor_cases;

use messages::request;
use mutation::{apply, byte_edit, decode_request, normalized};
use oracle::{check_validate, oracle_accepts, oracle_count};
use tensor_cases::{adversarial_dim, near_valid_case, wild_case};

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
                let status = switchyard::frontend::grpc::status(error);
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
