//! The echo check: what decodes is compared with what the client built,
//! sent back as the answer's outputs, and read as tritonclient reads it.

use bytes::Bytes;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use crate::client::{self, Form, Request};
use crate::result;
use crate::tensors::Elements;
use crate::{
    BinaryOutputs, DataType, InferResponse, OutputTensor, TensorData, decode_infer, encode_bytes_elements,
    encode_infer,
};

fn elements_of(data: &TensorData) -> Elements {
    match data {
        TensorData::Raw(raw) => Elements::Fixed(raw.to_vec()),
        TensorData::Strings(items) => Elements::Strings(items.iter().map(|b| b.to_vec()).collect()),
    }
}

/// Whether `output` has a faithful JSON form (else it is always binary).
fn has_json_form(output: &OutputTensor) -> bool {
    let data = output.data.as_ref();
    match (output.datatype, output.datatype.element_size()) {
        (DataType::Fp16 | DataType::Bf16, _) => false,
        (_, Some(size)) => data.len() % size == 0,
        (_, None) => {
            let mut rest = data;
            while let Some((prefix, tail)) = rest.split_first_chunk::<4>() {
                let Some((item, tail)) = tail.split_at_checked(u32::from_le_bytes(*prefix) as usize) else {
                    return false;
                };
                if std::str::from_utf8(item).is_err() {
                    return false;
                }
                rest = tail;
            }
            rest.is_empty()
        }
    }
}

/// Encodes `outputs`, reads the body as tritonclient does, and checks each
/// output came back whole, binary exactly when `binary(name)` or when it
/// has no JSON form.
pub fn check_answer(
    outputs: Vec<OutputTensor>,
    choice: &BinaryOutputs,
    binary: impl Fn(&str) -> bool,
) -> Result<(), TestCaseError> {
    let response = InferResponse {
        model_name: "m".into(),
        model_version: "2".into(),
        id: "id".into(),
        outputs,
    };
    let encoded = encode_infer(&response, choice);
    let body = encoded.body.clone().into_bytes();
    prop_assert_eq!(body.len(), encoded.body.len());
    let read = result::read(&body, encoded.header_length).map_err(TestCaseError::fail)?;
    prop_assert_eq!(read.len(), response.outputs.len());
    let mut binary_bytes = 0;
    for (got, want) in read.iter().zip(&response.outputs) {
        prop_assert_eq!(&got.name, &want.name);
        prop_assert_eq!(got.datatype.as_str(), want.datatype.as_str());
        prop_assert_eq!(&got.shape, &want.shape);
        let expect_binary = binary(&want.name) || !has_json_form(want);
        prop_assert_eq!(
            got.binary,
            expect_binary,
            "output {} ({})",
            want.name,
            want.datatype
        );
        prop_assert!(
            result::same_elements(want.datatype, &got.raw, &want.data),
            "output {}: {:?} vs {:?}",
            want.name,
            got.raw,
            want.data
        );
        binary_bytes += if got.binary { got.raw.len() } else { 0 };
    }
    prop_assert_eq!(encoded.header_length.is_some(), binary_bytes > 0);
    Ok(())
}

/// Decodes a tritonclient request, compares it with what was built, echoes
/// the inputs back as outputs and checks the answer.
pub fn round_trip(request: &Request) -> Result<(), TestCaseError> {
    let (body, header) = client::body(request);
    let body = Bytes::from(body);
    let decoded = decode_infer("m", "2", body.clone(), header.as_deref()).map_err(|e| {
        TestCaseError::fail(format!(
            "valid request refused: {e}\n{}",
            String::from_utf8_lossy(&body)
        ))
    })?;
    let inputs = &decoded.request.inputs;
    prop_assert_eq!(inputs.len(), request.inputs.len());
    for (got, want) in inputs.iter().zip(&request.inputs) {
        let t = &want.tensor;
        prop_assert_eq!(
            (&got.name, got.datatype, &got.shape),
            (&t.name, t.datatype, &t.shape)
        );
        prop_assert_eq!(elements_of(&got.data), t.elements.clone(), "input {}", t.name);
        if let (Form::Binary, TensorData::Raw(raw)) = (&want.form, &got.data)
            && !raw.is_empty()
        {
            prop_assert!(body.as_ptr_range().contains(&raw.as_ptr()), "binary data copied");
        }
    }
    let requested: Vec<&str> = request.outputs.iter().map(|(n, _)| n.as_str()).collect();
    prop_assert_eq!(&decoded.request.outputs, &requested);
    let names: Vec<&str> = if requested.is_empty() {
        inputs.iter().map(|i| i.name.as_str()).collect()
    } else {
        requested
    };
    let outputs = names
        .iter()
        .filter_map(|name| inputs.iter().find(|i| i.name == *name))
        .map(|input| OutputTensor {
            name: input.name.clone(),
            datatype: input.datatype,
            shape: input.shape.clone(),
            data: match &input.data {
                TensorData::Raw(raw) => raw.clone(),
                TensorData::Strings(items) => encode_bytes_elements(items.iter().map(|b| b.as_ref())),
            },
        })
        .collect();
    check_answer(outputs, &decoded.binary_outputs, |name| {
        request.wants_binary(name)
    })
}
