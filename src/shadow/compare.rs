//! Comparing a primary's and a shadow's outputs: what ML engineers need
//! before promoting a model — how far apart the numbers are, and whether a
//! classifier still picks the same class.

use serde::Serialize;

use crate::tensor::{DataType, OutputTensor};

/// The comparison of one mirrored request.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Comparison {
    /// Outputs present in both answers with the same datatype and shape.
    pub compared: Vec<String>,
    /// Outputs present in both whose datatype or shape differ.
    pub mismatched: Vec<String>,
    /// Largest absolute difference over all compared elements.
    pub max_abs_diff: f64,
    /// Mean absolute difference over all compared elements.
    pub mean_abs_diff: f64,
    /// Rows (of float `[N, C]` outputs) whose argmax agreed.
    pub argmax_agree: u64,
    /// Rows whose argmax differed.
    pub argmax_disagree: u64,
}

impl Comparison {
    /// A datatype or shape mismatch, or nothing in common to compare.
    pub fn is_mismatch(&self) -> bool {
        !self.mismatched.is_empty() || self.compared.is_empty()
    }
}

/// Compares outputs by name. BYTES elements count as difference 1 when they
/// differ and 0 when equal.
pub fn compare(primary: &[OutputTensor], shadow: &[OutputTensor]) -> Comparison {
    let mut result = Comparison::default();
    let mut sum = 0.0;
    let mut count = 0usize;
    for p in primary {
        let Some(s) = shadow.iter().find(|s| s.name == p.name) else {
            continue;
        };
        if p.datatype != s.datatype || p.shape != s.shape {
            result.mismatched.push(p.name.clone());
            continue;
        }
        let diffs = match (decode(p), decode(s)) {
            (Some(a), Some(b)) if a.len() == b.len() => {
                if is_float(p.datatype) && p.shape.len() == 2 && p.shape[1] > 1 {
                    let columns = p.shape[1] as usize;
                    for (row_a, row_b) in a.chunks(columns).zip(b.chunks(columns)) {
                        if argmax(row_a) == argmax(row_b) {
                            result.argmax_agree += 1;
                        } else {
                            result.argmax_disagree += 1;
                        }
                    }
                }
                a.iter().zip(&b).map(|(x, y)| (x - y).abs()).collect::<Vec<_>>()
            }
            (None, None) if p.datatype == DataType::Bytes => bytes_diffs(&p.data, &s.data),
            _ => {
                result.mismatched.push(p.name.clone());
                continue;
            }
        };
        for diff in diffs {
            // NaN on either side counts as the largest possible difference.
            let diff = if diff.is_nan() { f64::INFINITY } else { diff };
            result.max_abs_diff = result.max_abs_diff.max(diff);
            sum += diff;
            count += 1;
        }
        result.compared.push(p.name.clone());
    }
    result.mean_abs_diff = if count == 0 { 0.0 } else { sum / count as f64 };
    result
}

fn is_float(datatype: DataType) -> bool {
    matches!(
        datatype,
        DataType::Fp16 | DataType::Bf16 | DataType::Fp32 | DataType::Fp64
    )
}

fn argmax(row: &[f64]) -> Option<usize> {
    row.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(index, _)| index)
}

/// Element values as f64; `None` for BYTES.
fn decode(tensor: &OutputTensor) -> Option<Vec<f64>> {
    let data = tensor.data.as_ref();
    let width = tensor.datatype.element_size()?;
    let values = data.chunks_exact(width);
    Some(match tensor.datatype {
        DataType::Bool | DataType::Uint8 => values.map(|c| f64::from(c[0])).collect(),
        DataType::Int8 => values.map(|c| f64::from(c[0] as i8)).collect(),
        DataType::Uint16 => values
            .map(|c| f64::from(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        DataType::Int16 => values
            .map(|c| f64::from(i16::from_le_bytes([c[0], c[1]])))
            .collect(),
        DataType::Fp16 => values
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f64())
            .collect(),
        DataType::Bf16 => values
            .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f64())
            .collect(),
        DataType::Uint32 => values
            .map(|c| f64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        DataType::Int32 => values
            .map(|c| f64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        DataType::Fp32 => values
            .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        DataType::Uint64 => values
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()) as f64)
            .collect(),
        DataType::Int64 => values
            .map(|c| i64::from_le_bytes(c.try_into().unwrap_or_default()) as f64)
            .collect(),
        DataType::Fp64 => values
            .map(|c| f64::from_le_bytes(c.try_into().unwrap_or_default()))
            .collect(),
        DataType::Bytes => return None,
    })
}

fn bytes_diffs(a: &bytes::Bytes, b: &bytes::Bytes) -> Vec<f64> {
    let split = |raw: &bytes::Bytes| crate::tensor::split_bytes_elements("", raw).unwrap_or_default();
    let (a, b) = (split(a), split(b));
    a.iter()
        .zip(&b)
        .map(|(x, y)| if x == y { 0.0 } else { 1.0 })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp32(name: &str, shape: &[i64], values: &[f32]) -> OutputTensor {
        OutputTensor::fp32(name, shape, values)
    }

    #[test]
    fn y_equals_x_against_y_equals_2x() {
        let x = [1.0, -2.0, 3.0, 4.0];
        let doubled: Vec<f32> = x.iter().map(|v| v * 2.0).collect();
        let c = compare(&[fp32("y", &[1, 4], &x)], &[fp32("y", &[1, 4], &doubled)]);
        assert_eq!(c.compared, vec!["y"]);
        assert_eq!(c.max_abs_diff, 4.0);
        assert_eq!(c.mean_abs_diff, 2.5);
        assert!(!c.is_mismatch());
    }

    #[test]
    fn argmax_agreement_per_row() {
        let a = fp32("logits", &[3, 3], &[3.0, 0.0, 0.0, 0.0, 3.0, 0.0, 0.0, 0.0, 3.0]);
        let b = fp32("logits", &[3, 3], &[3.0, 0.0, 0.0, 0.0, 0.0, 3.0, 0.0, 3.0, 0.0]);
        let c = compare(&[a], &[b]);
        assert_eq!((c.argmax_agree, c.argmax_disagree), (1, 2));
    }

    #[test]
    fn shape_or_datatype_mismatch_is_recorded() {
        let c = compare(&[fp32("y", &[1, 4], &[0.0; 4])], &[fp32("y", &[2, 2], &[0.0; 4])]);
        assert!(c.is_mismatch());
        assert_eq!(c.mismatched, vec!["y"]);
        let c = compare(&[fp32("y", &[1], &[0.0])], &[fp32("z", &[1], &[0.0])]);
        assert!(c.is_mismatch(), "nothing in common is a mismatch");
    }

    #[test]
    fn nan_counts_as_infinite_difference() {
        let c = compare(&[fp32("y", &[1], &[f32::NAN])], &[fp32("y", &[1], &[1.0])]);
        assert!(c.max_abs_diff.is_infinite());
    }
}
