//! Oracles for shape arithmetic and `InputTensor::validate`, written
//! independently of the library's tensor checks.

use proptest::prelude::*;
use tonic::Code;

use crate::tensor_cases::ValidateCase;
use crate::{DataType, TensorData};

/// Product of the dimensions, multiplied left to right in 128-bit integers;
/// `None` for a negative dimension or as soon as a partial product exceeds
/// `usize::MAX` (so `[2^40, 2^40, 0]` is `None`: the count is rejected as
/// "too many elements" before the zero is seen, a conservative choice).
pub fn oracle_count(shape: &[i64]) -> Option<usize> {
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
pub fn oracle_accepts(case: &ValidateCase) -> bool {
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

pub fn check_validate(case: &ValidateCase) -> Result<(), TestCaseError> {
    let expected = oracle_accepts(case);
    match case.input.validate(&case.spec, case.max_batch_size) {
        Ok(()) => prop_assert!(expected, "validate accepted, the oracle rejects: {case:?}"),
        Err(error) => {
            prop_assert!(
                !expected,
                "validate rejected ({error}), the oracle accepts: {case:?}"
            );
            let status = switchyard::frontend::grpc::status(error);
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
