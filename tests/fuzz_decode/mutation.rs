//! Byte-level edits of encoded messages (flips, insertions, truncation,
//! lengths claiming 2^40 bytes), and what decoding must then hold: whatever
//! decodes re-encodes to an equal message.

use proptest::prelude::*;
use prost::Message;

use crate::{
    DataType, InferParameter, ModelInferRequest, element_count, encode_bytes_elements, infer_parameter,
    split_bytes_elements,
};

#[derive(Debug, Clone)]
pub enum ByteEdit {
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

pub fn byte_edit() -> impl Strategy<Value = ByteEdit> {
    prop_oneof![
        3 => (any::<usize>(), 1u8..=255).prop_map(|(at, mask)| ByteEdit::Flip { at, mask }),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(at, value)| ByteEdit::Set { at, value }),
        1 => (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8)).prop_map(|(at, bytes)| ByteEdit::Insert { at, bytes }),
        1 => (any::<usize>(), 1usize..8).prop_map(|(at, len)| ByteEdit::Remove { at, len }),
        1 => any::<usize>().prop_map(ByteEdit::Truncate),
        1 => any::<usize>().prop_map(|at| ByteEdit::HugeLength { at }),
    ]
}

pub fn apply(bytes: &mut Vec<u8>, edit: &ByteEdit) {
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
pub fn normalized(request: &ModelInferRequest) -> ModelInferRequest {
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
pub fn decode_request(bytes: &[u8]) -> Result<(), TestCaseError> {
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
