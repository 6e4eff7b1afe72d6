//! Property-based fuzzing of the REST inference codec
//! (`frontend::http::codec`), on stable Rust with proptest:
//!
//! - arbitrary bytes, JSON-ish text and header values never panic
//!   `decode_infer`, and every refusal is INVALID_ARGUMENT;
//! - requests built as tritonclient builds them (every datatype, JSON or
//!   binary, flat or nested, members in any order, outputs requested or not)
//!   decode to exactly their tensors, binary sections as slices of the body;
//!   echoed back through `encode_infer` and read as tritonclient's
//!   `InferResult` reads, they give the same elements, binary exactly where
//!   asked for (or where JSON has no faithful form);
//! - mutated valid bodies, wrong header lengths, truncated or extended
//!   binary sections, and huge declared shapes and sizes never panic; what
//!   must fail fails with INVALID_ARGUMENT; whatever decodes holds no more
//!   data than the body could carry (4 bytes per JSON byte at most: `0,`
//!   as FP64) and passes `InputTensor::validate` without panicking;
//! - `encode_infer` of arbitrary outputs (any bits, broken BYTES framing,
//!   partial elements, names needing escapes) always yields a body
//!   tritonclient can read, with the same elements.
//!
//! Cases per property: `PROPTEST_CASES` (default 256, a few seconds in a
//! debug build); seed: `PROPTEST_RNG_SEED`.
//!
//! Layout: the properties are here; `fuzz_http/tensors.rs` (tensors and
//! their JSON spellings), `client.rs` (tritonclient's request bodies),
//! `result.rs` (tritonclient's reading of answers), `echo.rs` (the round
//! trip's checks), `mutation.rs` (edits).

use bytes::Bytes;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use switchyard::engine::InferResponse;
use switchyard::error::{Code, ServeError};
use switchyard::frontend::http::codec::{BinaryOutputs, InferBody, decode_infer, encode_infer};
use switchyard::tensor::{DataType, OutputTensor, TensorData, TensorSpec, encode_bytes_elements};

// The library API is imported above; the modules take it from the crate
// root (`use crate::...`).

#[path = "fuzz_http/client.rs"]
mod client;
#[path = "fuzz_http/echo.rs"]
mod echo;
#[path = "fuzz_http/mutation.rs"]
mod mutation;
#[path = "fuzz_http/result.rs"]
mod result;
#[path = "fuzz_http/tensors.rs"]
mod tensors;

use client::{Form, request};
use echo::{check_answer, round_trip};

/// Decodes; a refusal must be INVALID_ARGUMENT, a success bounded.
fn decode(body: &[u8], header: Option<&str>) -> Result<Result<InferBody, ServeError>, TestCaseError> {
    let result = decode_infer("m", "", Bytes::copy_from_slice(body), header);
    match &result {
        Err(error) => prop_assert_eq!(error.code(), Code::InvalidArgument, "{}", error),
        Ok(decoded) => check_decoded(decoded, body.len())?,
    }
    Ok(result)
}

/// No more data than the body carries, and the engine's checks run safely.
fn check_decoded(decoded: &InferBody, body_len: usize) -> Result<(), TestCaseError> {
    let mut total = 0usize;
    for input in &decoded.request.inputs {
        total += match &input.data {
            TensorData::Raw(raw) => raw.len(),
            TensorData::Strings(items) => {
                prop_assert!(items.len() <= body_len);
                items.iter().map(Bytes::len).sum()
            }
        };
        let spec = TensorSpec {
            name: input.name.clone(),
            datatype: input.datatype,
            shape: vec![-1; input.shape.len()],
        };
        let _ = input.validate(&spec, 8);
    }
    prop_assert!(
        total <= 4 * body_len,
        "{} bytes of data from a body of {}",
        total,
        body_len
    );
    Ok(())
}

fn must_fail(body: &[u8], header: Option<&str>, why: &str) -> Result<(), TestCaseError> {
    match decode(body, header)? {
        Ok(decoded) => Err(TestCaseError::fail(format!(
            "{why}: accepted {:?}",
            decoded.request.inputs
        ))),
        Err(_) => Ok(()),
    }
}

fn header_value() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        2 => Just(None),
        2 => (0usize..600).prop_map(|n| Some(n.to_string())),
        1 => ".{0,12}".prop_map(Some),
        1 => prop_oneof![Just(u64::MAX.to_string()), Just("1".repeat(40)), Just(" 3 ".into()), Just("-0".into())].prop_map(Some),
    ]
}

/// Text made of JSON's own characters, to get past the first byte.
fn json_ish() -> impl Strategy<Value = Vec<u8>> {
    let atom = prop_oneof![
        r#"[\[\]{}",:0-9a-z. \-]"#,
        prop::sample::select(vec![
            r#""inputs""#,
            r#""name""#,
            r#""shape""#,
            r#""datatype""#,
            r#""data""#,
            r#""parameters""#,
            r#""binary_data_size""#,
            r#""FP32""#,
            r#""BYTES""#,
            r#""outputs""#,
            "true",
            "null",
            "1e999",
        ])
        .prop_map(String::from),
    ];
    prop::collection::vec(atom, 0..80)
        .prop_map(|atoms| format!("{{\"inputs\":[{}", atoms.concat()).into_bytes())
}

/// An output as an engine (or a broken one) could produce it.
fn any_output(index: usize) -> impl Strategy<Value = OutputTensor> {
    let data = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..40),
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..5), 0..5)
            .prop_map(|items| encode_bytes_elements(items.iter().map(Vec::as_slice)).to_vec()),
        prop::collection::vec(".{0,4}", 0..5)
            .prop_map(|items| encode_bytes_elements(items.iter().map(|s| s.as_bytes())).to_vec()),
    ];
    let name = prop::sample::select(vec!["out", "q\"", "\\", "\u{1}", "é", "😀"])
        .prop_map(move |p| format!("{p}{index}"));
    let shape = prop::collection::vec(prop_oneof![0i64..5, any::<i64>()], 0..4);
    (name, tensors::datatype(), shape, data).prop_map(|(name, datatype, shape, data)| OutputTensor {
        name,
        datatype,
        shape,
        data: data.into(),
    })
}

proptest! {
    /// Arbitrary bytes, JSON-ish text and header values never panic.
    #[test]
    fn arbitrary_bodies_never_panic(
        body in prop_oneof![prop::collection::vec(any::<u8>(), 0..512), json_ish()],
        header in header_value(),
    ) {
        decode(&body, header.as_deref())?.ok();
    }

    /// tritonclient's requests decode exactly and their echo reads back whole.
    #[test]
    fn tritonclient_requests_round_trip(request in request()) {
        round_trip(&request)?;
    }

    /// Edited valid bodies never panic (the original header is kept); JSON
    /// edits are also tried with the header following the JSON's new length.
    #[test]
    fn mutated_bodies_never_panic(
        request in request(),
        edits in prop::collection::vec(mutation::edit(), 1..4),
    ) {
        let (mut body, header) = client::body(&request);
        let mut json = client::json(&request).into_bytes();
        for edit in &edits {
            mutation::apply(&mut body, edit);
            mutation::apply(&mut json, edit);
        }
        decode(&body, header.as_deref())?.ok();
        let header = header.map(|_| json.len().to_string());
        json.extend(client::sections(&request));
        decode(&json, header.as_deref())?.ok();
    }

    /// A header that is off by any amount, or missing while binary data
    /// follows, is refused.
    #[test]
    fn wrong_header_lengths_are_refused(request in request(), delta in -40i64..40) {
        let (body, header) = client::body(&request);
        let json_len = client::json(&request).len() as i64;
        let sections = body.len() as i64 - json_len;
        if delta != 0 && json_len + delta >= 0 {
            must_fail(&body, Some(&(json_len + delta).to_string()), "wrong header length")?;
        }
        if header.is_some() && sections > 0 {
            must_fail(&body, None, "binary data without the header")?;
        }
    }

    /// Binary sections cut short, or followed by extra bytes, are refused.
    #[test]
    fn truncated_or_extended_sections_are_refused(request in request(), cut in 1usize..64, extra in prop::collection::vec(any::<u8>(), 1..8)) {
        let (body, header) = client::body(&request);
        let sections = client::sections(&request).len();
        if let Some(header) = header {
            if sections > 0 {
                let cut = cut.min(sections);
                must_fail(&body[..body.len() - cut], Some(&header), "truncated sections")?;
            }
            let mut longer = body.clone();
            longer.extend(&extra);
            must_fail(&longer, Some(&header), "extra binary data")?;
        }
    }

    /// Huge or negative shapes and sizes, and BYTES length prefixes claiming
    /// up to 4 GiB, neither panic nor allocate what they claim.
    #[test]
    fn huge_claims_are_harmless(
        dims in prop::collection::vec(prop_oneof![any::<i64>(), Just(i64::MAX), Just(1i64 << 40), Just(-1i64), 0i64..4], 0..4),
        size in prop_oneof![any::<u64>(), Just(u64::MAX), Just(1u64 << 40), 0u64..16],
        datatype in tensors::datatype(),
        prefix in prop_oneof![any::<u32>(), Just(u32::MAX), 0u32..8],
        tail in prop::collection::vec(any::<u8>(), 0..12),
        json_data in any::<bool>(),
    ) {
        let dims = format!("{dims:?}");
        let dt = datatype.as_str();
        let mut binary = prefix.to_le_bytes().to_vec();
        binary.extend(&tail);
        let json = if json_data {
            format!(r#"{{"inputs":[{{"name":"x","shape":{dims},"datatype":"{dt}","data":[0,1,[1,0]]}}]}}"#)
        } else {
            format!(r#"{{"inputs":[{{"name":"x","shape":{dims},"datatype":"{dt}","parameters":{{"binary_data_size":{size}}}}}]}}"#)
        };
        let header = json.len().to_string();
        let mut body = json.into_bytes();
        body.extend(&binary);
        let result = decode(&body, Some(&header))?;
        if !json_data && size != binary.len() as u64 {
            prop_assert!(result.is_err(), "binary_data_size {} for {} bytes accepted", size, binary.len());
        }
    }

    /// Any outputs, with any binary choices, encode to a body tritonclient
    /// reads back whole.
    #[test]
    fn any_answer_reads_back(
        outputs in (0usize..5).prop_flat_map(|n| (0..n).map(any_output).collect::<Vec<_>>()),
        all in any::<bool>(),
        own in prop::collection::vec(prop::option::of(any::<bool>()), 5),
    ) {
        let mut choice = BinaryOutputs::all(all);
        for (output, own) in outputs.iter().zip(&own) {
            if let Some(binary) = own {
                choice = choice.with(&output.name, *binary);
            }
        }
        check_answer(outputs, &choice.clone(), |name| choice.is_binary(name))?;
    }
}

/// Guards the properties against becoming vacuous: the request strategy
/// must give every datatype in binary form, every datatype with a JSON form
/// as JSON, and both member orders.
#[test]
fn request_strategy_covers_every_datatype_and_form() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, TestRng, TestRunner};
    let config = Config::default();
    let mut runner =
        TestRunner::new_with_rng(config.clone(), TestRng::deterministic_rng(config.rng_algorithm));
    let (mut binary, mut json, mut data_first, mut nested) = (Vec::new(), Vec::new(), 0, 0);
    for _ in 0..1500 {
        let request = request().new_tree(&mut runner).unwrap().current();
        for input in &request.inputs {
            let datatype = input.tensor.datatype;
            match input.form {
                Form::Binary => binary.push(datatype),
                Form::Json(style) => {
                    json.push(datatype);
                    nested += usize::from(style.nested && input.tensor.shape.len() > 1);
                }
            }
            data_first += usize::from(input.data_first);
        }
    }
    for datatype in DataType::ALL {
        assert!(binary.contains(&datatype), "{datatype} never binary");
        let jsonable = !matches!(datatype, DataType::Fp16 | DataType::Bf16);
        assert_eq!(json.contains(&datatype), jsonable, "{datatype} as JSON");
    }
    assert!(
        data_first > 100 && nested > 100,
        "data first {data_first}, nested {nested}"
    );
}
