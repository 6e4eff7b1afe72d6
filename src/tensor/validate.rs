//! Checks of one input against the model's declaration: datatype, rank,
//! fixed dimensions, batch limit and the amount of data present. Nothing is
//! allocated from the claimed shape before it matches the bytes sent.

use super::{DataType, InputTensor, TensorData, TensorSpec, element_count, shape_text};
use crate::error::ServeError;

impl InputTensor {
    /// Checks this input against `spec`; `max_batch_size > 0` caps the first dimension.
    pub fn validate(&self, spec: &TensorSpec, max_batch_size: usize) -> Result<(), ServeError> {
        self.check_datatype(spec)?;
        self.check_shape(spec)?;
        self.check_batch(max_batch_size)?;
        let Some(elements) = element_count(&self.shape) else {
            return Err(ServeError::invalid(format!(
                "input '{}': shape {} has too many elements",
                self.name,
                shape_text(&self.shape)
            )));
        };
        match (&self.data, self.datatype.element_size()) {
            (TensorData::Raw(raw), Some(size)) => self.check_raw(raw, elements, size),
            (TensorData::Strings(items), None) => self.check_strings(items, elements),
            _ => Err(ServeError::invalid(format!(
                "input '{}': data does not match datatype {}",
                self.name, self.datatype
            ))),
        }
    }

    fn check_datatype(&self, spec: &TensorSpec) -> Result<(), ServeError> {
        if self.datatype == spec.datatype {
            return Ok(());
        }
        Err(ServeError::invalid(format!(
            "input '{}': expected datatype {}, got {}",
            self.name, spec.datatype, self.datatype
        )))
    }

    fn check_shape(&self, spec: &TensorSpec) -> Result<(), ServeError> {
        let matches = self.shape.len() == spec.shape.len()
            && self
                .shape
                .iter()
                .zip(&spec.shape)
                .all(|(&got, &want)| got >= 0 && (want < 0 || got == want));
        if matches {
            return Ok(());
        }
        Err(ServeError::invalid(format!(
            "input '{}': expected shape {}, got {}",
            self.name,
            shape_text(&spec.shape),
            shape_text(&self.shape)
        )))
    }

    fn check_batch(&self, max_batch_size: usize) -> Result<(), ServeError> {
        let batch = self.shape.first().copied().unwrap_or(0);
        if max_batch_size == 0 || batch as u64 <= max_batch_size as u64 {
            return Ok(());
        }
        Err(ServeError::invalid(format!(
            "input '{}': expected batch size at most {max_batch_size} (max_batch_size), got {batch}",
            self.name
        )))
    }

    fn check_raw(&self, raw: &[u8], elements: usize, size: usize) -> Result<(), ServeError> {
        let expected = elements.checked_mul(size);
        if expected != Some(raw.len()) {
            return Err(ServeError::invalid(format!(
                "input '{}': expected {} bytes for shape {} of {}, got {} bytes",
                self.name,
                expected.map_or_else(|| "more than addressable".into(), |n| n.to_string()),
                shape_text(&self.shape),
                self.datatype,
                raw.len()
            )));
        }
        if self.datatype == DataType::Bool && raw.iter().any(|&b| b > 1) {
            return Err(ServeError::invalid(format!(
                "input '{}': expected BOOL bytes of 0 or 1",
                self.name
            )));
        }
        Ok(())
    }

    fn check_strings(&self, items: &[bytes::Bytes], elements: usize) -> Result<(), ServeError> {
        if items.len() != elements {
            return Err(ServeError::invalid(format!(
                "input '{}': expected {elements} BYTES elements for shape {}, got {}",
                self.name,
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
                "input '{}': BYTES element {index} is not UTF-8 without NUL bytes, \
                 which ONNX Runtime string tensors need",
                self.name
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

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
    fn rejects_bool_bytes_other_than_zero_and_one() {
        let input = InputTensor {
            name: "b".into(),
            datatype: DataType::Bool,
            shape: vec![2],
            data: TensorData::Raw(Bytes::from_static(&[1, 2])),
        };
        let spec = TensorSpec {
            name: "b".into(),
            datatype: DataType::Bool,
            shape: vec![2],
        };
        assert!(input.validate(&spec, 0).unwrap_err().to_string().contains("BOOL"));
    }
}
