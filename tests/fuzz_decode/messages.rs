//! Strategies for well-formed protobuf messages with arbitrary field values:
//! typed tensor contents, parameters, and whole `ModelInferRequest`s.

use bytes::Bytes;
use proptest::prelude::*;

use crate::tensor_cases::{adversarial_dim, datatype};
use crate::{
    InferInputTensor, InferParameter, InferRequestedOutputTensor, InferTensorContents, ModelInferRequest,
    infer_parameter,
};

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
pub fn request() -> impl Strategy<Value = ModelInferRequest> {
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
