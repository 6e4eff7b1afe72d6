//! Strategies for `InputTensor::validate`: a declaration (`TensorSpec`)
//! and an input to check against it, either bent from one that fits
//! ([`near_valid_case`]) or unrelated to it ([`wild_case`]).

use bytes::Bytes;
use proptest::prelude::*;

use crate::{DataType, InputTensor, TensorData, TensorSpec, element_count};

/// Every datatype, with the two that have extra rules (BOOL bytes must be
/// 0 or 1; BYTES carries elements, not raw bytes) drawn more often.
pub fn datatype() -> impl Strategy<Value = DataType> {
    prop_oneof![
        10 => prop::sample::select(DataType::ALL.to_vec()),
        2 => Just(DataType::Bool),
        2 => Just(DataType::Bytes),
    ]
}

/// Any i64, biased towards the values that break shape arithmetic.
pub fn adversarial_dim() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => 0i64..8,
        1 => Just(-1i64),
        1 => Just(i64::MIN),
        1 => Just(i64::MAX),
        1 => Just(1i64 << 32),
        1 => Just(1i64 << 40),
        1 => Just(1i64 << 62),
        1 => (1u32..63).prop_map(|bit| 1i64 << bit),
        2 => any::<i64>(),
    ]
}

/// A declared dimension: dynamic (-1) or fixed.
fn spec_dim() -> impl Strategy<Value = i64> {
    prop_oneof![2 => Just(-1i64), 3 => 0i64..5]
}

/// How a request's shape departs from one that fits the declaration.
#[derive(Debug, Clone)]
enum ShapeMutation {
    None,
    Replace { index: usize, dim: i64 },
    Push(i64),
    Pop,
    Negate(usize),
}

fn shape_mutation() -> impl Strategy<Value = ShapeMutation> {
    prop_oneof![
        6 => Just(ShapeMutation::None),
        1 => (any::<usize>(), adversarial_dim()).prop_map(|(index, dim)| ShapeMutation::Replace { index, dim }),
        1 => adversarial_dim().prop_map(ShapeMutation::Push),
        1 => Just(ShapeMutation::Pop),
        1 => any::<usize>().prop_map(ShapeMutation::Negate),
    ]
}

/// How the data departs from what the shape needs.
#[derive(Debug, Clone)]
struct DataPlan {
    /// Raw bytes for BYTES, elements for the others.
    wrong_kind: bool,
    /// Exact length (raw) or element count (BYTES) plus `delta`, clamped
    /// at 0 and capped.
    delta: i64,
    /// BOOL bytes are all 0 or 1.
    bool_clean: bool,
}

fn data_plan() -> impl Strategy<Value = DataPlan> {
    (
        prop::bool::weighted(0.1),
        prop_oneof![6 => Just(0i64), 1 => Just(-1i64), 1 => Just(1i64), 1 => -16i64..16],
        prop::bool::weighted(0.6),
    )
        .prop_map(|(wrong_kind, delta, bool_clean)| DataPlan {
            wrong_kind,
            delta,
            bool_clean,
        })
}

/// Largest tensor (in bytes) the matching-input strategy builds.
const MAX_DATA: usize = 4096;

#[derive(Debug, Clone)]
pub struct ValidateCase {
    pub spec: TensorSpec,
    pub input: InputTensor,
    pub max_batch_size: usize,
}

/// Inputs built from the declaration and then bent: most are close to
/// acceptable so that both outcomes are exercised.
pub fn near_valid_case() -> impl Strategy<Value = ValidateCase> {
    (
        datatype(),
        prop::collection::vec(spec_dim(), 0..4),
        prop::collection::vec(0i64..4, 4),
        prop_oneof![3 => Just(None), 1 => datatype().prop_map(Some)],
        shape_mutation(),
        data_plan(),
        prop_oneof![3 => Just(0usize), 3 => 0usize..6, 1 => any::<usize>()],
        any::<u64>(),
    )
        .prop_map(
            |(spec_type, spec_shape, fills, other_type, mutation, plan, max_batch_size, seed)| {
                // A concrete shape that fits the declaration.
                let mut shape: Vec<i64> = spec_shape
                    .iter()
                    .zip(fills.iter().cycle())
                    .map(|(&want, &fill)| if want < 0 { fill } else { want })
                    .collect();
                match mutation {
                    ShapeMutation::None => {}
                    ShapeMutation::Replace { index, dim } if !shape.is_empty() => {
                        let len = shape.len();
                        shape[index % len] = dim;
                    }
                    ShapeMutation::Replace { dim, .. } | ShapeMutation::Push(dim) => shape.push(dim),
                    ShapeMutation::Pop => {
                        shape.pop();
                    }
                    ShapeMutation::Negate(index) if !shape.is_empty() => {
                        let len = shape.len();
                        shape[index % len] = shape[index % len].wrapping_neg().min(-1);
                    }
                    ShapeMutation::Negate(_) => shape.push(-1),
                }
                let datatype = other_type.unwrap_or(spec_type);
                let elements = element_count(&shape).unwrap_or(0);
                let data = build_data(datatype, elements, &plan, seed);
                ValidateCase {
                    spec: TensorSpec {
                        name: "x".into(),
                        datatype: spec_type,
                        shape: spec_shape,
                    },
                    input: InputTensor {
                        name: "x".into(),
                        datatype,
                        shape,
                        data,
                    },
                    max_batch_size,
                }
            },
        )
}

fn build_data(datatype: DataType, elements: usize, plan: &DataPlan, seed: u64) -> TensorData {
    let adjust = |exact: usize, delta: i64| -> usize {
        let wanted = i128::try_from(exact).unwrap_or(i128::MAX) + i128::from(delta);
        usize::try_from(wanted.clamp(0, MAX_DATA as i128)).unwrap_or(0)
    };
    // Cheap deterministic filler bytes.
    let mut state = seed | 1;
    let mut next_byte = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state as u8
    };
    let DataPlan {
        wrong_kind,
        delta,
        bool_clean,
    } = *plan;
    match (datatype == DataType::Bytes) != wrong_kind {
        false => {
            let size = datatype.element_size().unwrap_or(1);
            let exact = elements.saturating_mul(size);
            let len = adjust(exact, delta);
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    let b = next_byte();
                    if bool_clean && datatype == DataType::Bool {
                        b & 1
                    } else {
                        b
                    }
                })
                .collect();
            TensorData::Raw(Bytes::from(bytes))
        }
        true => {
            let count = adjust(elements, delta);
            TensorData::Strings(
                (0..count)
                    .map(|_| {
                        // Near-valid strings are UTF-8; `wild_case` brings the rest.
                        let len = usize::from(next_byte() % 6);
                        Bytes::from((0..len).map(|_| b'a' + next_byte() % 26).collect::<Vec<_>>())
                    })
                    .collect(),
            )
        }
    }
}

/// Inputs with no relation to the declaration at all.
pub fn wild_case() -> impl Strategy<Value = ValidateCase> {
    (
        datatype(),
        prop::collection::vec(prop_oneof![spec_dim(), adversarial_dim()], 0..6),
        datatype(),
        prop::collection::vec(adversarial_dim(), 0..12),
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..256).prop_map(|b| TensorData::Raw(Bytes::from(b))),
            prop::collection::vec(prop::collection::vec(any::<u8>(), 0..8), 0..16)
                .prop_map(|items| TensorData::Strings(items.into_iter().map(Bytes::from).collect())),
        ],
        any::<usize>(),
    )
        .prop_map(
            |(spec_type, spec_shape, datatype, shape, data, max_batch_size)| ValidateCase {
                spec: TensorSpec {
                    name: "in put\u{0}'x".into(),
                    datatype: spec_type,
                    shape: spec_shape,
                },
                input: InputTensor {
                    name: "in put\u{0}'x".into(),
                    datatype,
                    shape,
                    data,
                },
                max_batch_size: if max_batch_size % 3 == 0 {
                    0
                } else {
                    max_batch_size % 16
                },
            },
        )
}
