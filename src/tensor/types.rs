//! The tensor types: what a model declares ([`TensorSpec`]), what a request
//! brings ([`InputTensor`]) and what goes back ([`OutputTensor`]).

use bytes::Bytes;

use super::DataType;

/// A model input or output as declared by the model; `-1` marks a dynamic
/// dimension.
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

impl OutputTensor {
    /// An FP32 output holding `values` (tests and fake backends).
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

/// Dummy data for warm-up: dynamic dimensions become 1, values are zero.
pub fn warmup_input(spec: &TensorSpec) -> InputTensor {
    let shape: Vec<i64> = spec.shape.iter().map(|&d| if d < 0 { 1 } else { d }).collect();
    let elements = element_count(&shape).unwrap_or(0);
    let data = match spec.datatype.element_size() {
        Some(size) => TensorData::Raw(Bytes::from(vec![0u8; elements * size])),
        None => TensorData::Strings(vec![Bytes::new(); elements]),
    };
    InputTensor {
        name: spec.name.clone(),
        datatype: spec.datatype,
        shape,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_count_rejects_overflow_and_negative() {
        assert_eq!(element_count(&[2, 3]), Some(6));
        assert_eq!(element_count(&[]), Some(1));
        assert_eq!(element_count(&[0, 5]), Some(0));
        assert_eq!(element_count(&[-1, 3]), None);
        assert_eq!(element_count(&[1 << 40, 1 << 40]), None);
    }

    #[test]
    fn warmup_input_fills_dynamic_dimensions_with_one() {
        let spec = TensorSpec {
            name: "x".into(),
            datatype: DataType::Fp32,
            shape: vec![-1, 3],
        };
        let input = warmup_input(&spec);
        assert_eq!(input.shape, vec![1, 3]);
        let TensorData::Raw(raw) = input.data else {
            panic!("raw data expected")
        };
        assert_eq!(raw.len(), 12);
    }
}
