//! Tensors as the gateway sees them, independent of protobuf and ONNX Runtime:
//! what a model declares ([`TensorSpec`]), what a request brings
//! ([`InputTensor`]) and what goes back ([`OutputTensor`]), plus the checks
//! that make a request safe to hand to ONNX Runtime.

use bytes::{BufMut, Bytes, BytesMut};

use super::DataType;
use crate::error::ServeError;

/// A model input or output as declared by the ONNX graph; `-1` marks a
/// dynamic dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSpec {
    pub name: String,
    pub datatype: DataType,
    pub shape: Vec<i64>,
}

/// Element data of a tensor.
#[derive(Debug, Clone)]
pub enum TensorData {
    /// Little-endian elements, exactly `elements × element_size` bytes.
    Raw(Bytes),
    /// One entry per BYTES element.
    Strings(Vec<Bytes>),
}

/// One input of a request, already decoded from the wire.
#[derive(Debug, Clone)]
pub struct InputTensor {
    pub name: String,
    pub datatype: DataType,
    pub shape: Vec<i64>,
    pub data: TensorData,
}

/// One output of a response; `data` is in v2 raw layout (BYTES elements
/// carry a 4-byte little-endian length prefix).
#[derive(Debug, Clone, PartialEq)]
pub struct OutputTensor {
    pub name: String,
    pub datatype: DataType,
    pub shape: Vec<i64>,
    pub data: Bytes,
}

#[cfg(test)]
impl OutputTensor {
    /// An FP32 output holding `values` (for unit tests).
    pub fn fp32(name: &str, shape: &[i64], values: &[f32]) -> Self {
        Self {
            name: name.into(),
            datatype: DataType::Fp32,
            shape: shape.to_vec(),
            data: values
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<u8>>()
                .into(),
        }
    }
}

/// Number of elements of a concrete shape, rejecting negative dimensions and
/// overflow so that no allocation is ever sized from an unchecked product.
pub fn element_count(shape: &[i64]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &dim| {
        let dim = usize::try_from(dim).ok()?;
        acc.checked_mul(dim)
    })
}

/// Formats a shape the way error messages show it: `[-1, 4]`.
pub fn shape_text(shape: &[i64]) -> String {
    format!("{shape:?}")
}

/// Splits v2 BYTES raw content (`u32` little-endian length, then the bytes,
/// repeated) into its elements without copying them.
pub fn split_bytes_elements(input: &str, raw: &Bytes) -> Result<Vec<Bytes>, ServeError> {
    let mut elements = Vec::new();
    let mut offset = 0usize;
    while offset < raw.len() {
        let Some(prefix) = raw.get(offset..offset + 4) else {
            return Err(ServeError::invalid(format!(
                "input '{input}': truncated BYTES length prefix at byte {offset}"
            )));
        };
        let len = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
        let start = offset + 4;
        let end = start.checked_add(len).filter(|&end| end <= raw.len());
        let Some(end) = end else {
            return Err(ServeError::invalid(format!(
                "input '{input}': BYTES element at byte {offset} claims {len} bytes, only {} remain",
                raw.len() - start
            )));
        };
        elements.push(raw.slice(start..end));
        offset = end;
    }
    Ok(elements)
}

/// Encodes BYTES elements in v2 raw layout.
pub fn encode_bytes_elements<'a>(elements: impl IntoIterator<Item = &'a [u8]>) -> Bytes {
    let mut out = BytesMut::new();
    for element in elements {
        out.put_u32_le(element.len() as u32);
        out.put_slice(element);
    }
    out.freeze()
}

impl InputTensor {
    /// Checks this input against the model's declaration: datatype, rank,
    /// fixed dimensions, batch limit and the amount of data present. Nothing
    /// is allocated from the claimed shape before it matches the bytes sent.
    pub fn validate(&self, spec: &TensorSpec, max_batch_size: usize) -> Result<(), ServeError> {
        let name = &self.name;
        if self.datatype != spec.datatype {
            return Err(ServeError::invalid(format!(
                "input '{name}': expected datatype {}, got {}",
                spec.datatype, self.datatype
            )));
        }
        let shape_matches = self.shape.len() == spec.shape.len()
            && self
                .shape
                .iter()
                .zip(&spec.shape)
                .all(|(&got, &want)| got >= 0 && (want < 0 || got == want));
        if !shape_matches {
            return Err(ServeError::invalid(format!(
                "input '{name}': expected shape {}, got {}",
                shape_text(&spec.shape),
                shape_text(&self.shape)
            )));
        }
        if max_batch_size > 0 {
            let batch = self.shape.first().copied().unwrap_or(0);
            if batch as u64 > max_batch_size as u64 {
                return Err(ServeError::invalid(format!(
                    "input '{name}': expected batch size at most {max_batch_size} (max_batch_size), got {batch}"
                )));
            }
        }
        let Some(elements) = element_count(&self.shape) else {
            return Err(ServeError::invalid(format!(
                "input '{name}': shape {} has too many elements",
                shape_text(&self.shape)
            )));
        };
        match (&self.data, self.datatype.element_size()) {
            (TensorData::Raw(raw), Some(size)) => {
                let expected = elements.checked_mul(size);
                if expected != Some(raw.len()) {
                    return Err(ServeError::invalid(format!(
                        "input '{name}': expected {} bytes for shape {} of {}, got {} bytes",
                        expected.map_or_else(|| "more than addressable".into(), |n| n.to_string()),
                        shape_text(&self.shape),
                        self.datatype,
                        raw.len()
                    )));
                }
                if self.datatype == DataType::Bool && raw.iter().any(|&b| b > 1) {
                    return Err(ServeError::invalid(format!(
                        "input '{name}': expected BOOL bytes of 0 or 1"
                    )));
                }
            }
            (TensorData::Strings(items), None) => {
                if items.len() != elements {
                    return Err(ServeError::invalid(format!(
                        "input '{name}': expected {elements} BYTES elements for shape {}, got {}",
                        shape_text(&self.shape),
                        items.len()
                    )));
                }
                // ONNX Runtime string tensors are C strings of UTF-8.
                if let Some(index) = items
                    .iter()
                    .position(|i| std::str::from_utf8(i).is_err() || i.contains(&0))
                {
                    return Err(ServeError::invalid(format!(
                        "input '{name}': BYTES element {index} is not UTF-8 without NUL bytes, \
                         which ONNX Runtime string tensors need"
                    )));
                }
            }
            _ => {
                return Err(ServeError::invalid(format!(
                    "input '{name}': data does not match datatype {}",
                    self.datatype
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(shape: &[i64]) -> TensorSpec {
        TensorSpec {
            name: "x".into(),
            datatype: DataType::Fp32,
            shape: shape.to_vec(),
        }
    }

    fn raw_input(shape: &[i64], bytes: usize) -> InputTensor {
        InputTensor {
            name: "x".into(),
            datatype: DataType::Fp32,
            shape: shape.to_vec(),
            data: TensorData::Raw(Bytes::from(vec![0u8; bytes])),
        }
    }

    #[test]
    fn element_count_rejects_overflow_and_negative() {
        assert_eq!(element_count(&[2, 3]), Some(6));
        assert_eq!(element_count(&[]), Some(1));
        assert_eq!(element_count(&[0, 5]), Some(0));
        assert_eq!(element_count(&[-1, 3]), None);
        assert_eq!(element_count(&[1 << 40, 1 << 40]), None);
    }

    #[test]
    fn accepts_matching_input() {
        raw_input(&[2, 4], 32).validate(&spec(&[-1, 4]), 0).unwrap();
    }

    #[test]
    fn rejects_wrong_shape_naming_both() {
        let err = raw_input(&[2, 5], 40).validate(&spec(&[-1, 4]), 0).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("'x'") && msg.contains("[-1, 4]") && msg.contains("[2, 5]"),
            "{msg}"
        );
    }

    #[test]
    fn rejects_byte_count_mismatch_without_allocating() {
        // A claimed shape of 2^40 elements with 8 bytes present must fail on the count.
        let err = raw_input(&[1, 1 << 40], 8)
            .validate(&spec(&[-1, -1]), 0)
            .unwrap_err();
        assert!(err.to_string().contains("got 8 bytes"), "{err}");
        let err = raw_input(&[1 << 40, 1 << 40], 8)
            .validate(&spec(&[-1, -1]), 0)
            .unwrap_err();
        assert!(err.to_string().contains("too many elements"), "{err}");
    }

    #[test]
    fn rejects_batch_over_limit() {
        let err = raw_input(&[9, 4], 144).validate(&spec(&[-1, 4]), 8).unwrap_err();
        assert!(err.to_string().contains("max_batch_size"), "{err}");
    }

    #[test]
    fn rejects_wrong_datatype() {
        let mut input = raw_input(&[1, 4], 16);
        input.datatype = DataType::Int32;
        let err = input.validate(&spec(&[-1, 4]), 0).unwrap_err();
        assert!(
            err.to_string().contains("expected datatype FP32, got INT32"),
            "{err}"
        );
    }

    #[test]
    fn bytes_elements_round_trip() {
        let encoded = encode_bytes_elements([b"ab".as_slice(), b"".as_slice(), b"xyz".as_slice()]);
        let items = split_bytes_elements("t", &encoded).unwrap();
        assert_eq!(items, vec![Bytes::from("ab"), Bytes::new(), Bytes::from("xyz")]);
    }

    #[test]
    fn bytes_elements_reject_truncation() {
        let mut encoded = encode_bytes_elements([b"abcd".as_slice()]).to_vec();
        encoded.truncate(6);
        assert!(split_bytes_elements("t", &Bytes::from(encoded)).is_err());
        assert!(split_bytes_elements("t", &Bytes::from_static(&[1, 0])).is_err());
        let huge = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 1]);
        assert!(split_bytes_elements("t", &huge).is_err());
    }
}
