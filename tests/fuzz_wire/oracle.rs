//! The contract (README, "Protocol") as an oracle, written independently of
//! the server: for a request, the status it must get and, for an OK answer,
//! the exact output values, so that an answer belonging to another request,
//! or a request that should have been refused, is caught too.

use std::collections::HashMap;

use half::f16;
use switchyard::proto::inference::{InferTensorContents, ModelInferRequest, ModelInferResponse};

use crate::common::f32_values;
use crate::models::{MAX_BYTES_ELEMENTS, MAX_TENSORS, Spec, datatype, encode_bytes, spec};

#[derive(Debug, Clone)]
enum Data {
    Raw(Vec<u8>),
    Strings(Vec<Vec<u8>>),
}

#[derive(Debug)]
struct Decoded {
    name: String,
    datatype: &'static str,
    shape: Vec<i64>,
    data: Data,
}

#[derive(Debug, Clone, PartialEq)]
enum Values {
    F32(Vec<u32>),
    F16(Vec<u16>),
    I64(Vec<i64>),
    Bytes(Vec<u8>),
}

#[derive(Debug, Clone)]
pub struct Expected {
    name: &'static str,
    datatype: &'static str,
    shape: Vec<i64>,
    values: Values,
}

#[derive(Debug, Clone)]
pub enum Verdict {
    Ok(Vec<Expected>),
    /// The contract does not rank an unknown model or version against a
    /// malformed request: when both apply, either answer is right.
    NotFound {
        also_invalid: bool,
    },
    /// INVALID_ARGUMENT, for the reason given (shown in failure messages).
    Invalid(#[allow(dead_code)] String),
    /// ONNX Runtime refuses at run time (batch sizes that do not broadcast).
    Runtime,
}

/// Step 1 of the contract: the protobuf → tensors conversion.
fn decode_inputs(request: &ModelInferRequest) -> Result<Vec<Decoded>, String> {
    if request.inputs.len() > MAX_TENSORS || request.outputs.len() > MAX_TENSORS {
        return Err("too many tensors".into());
    }
    let use_raw = !request.raw_input_contents.is_empty();
    if use_raw && request.raw_input_contents.len() != request.inputs.len() {
        return Err("raw count".into());
    }
    let mut decoded = Vec::new();
    for (i, tensor) in request.inputs.iter().enumerate() {
        let (datatype, _) = datatype(&tensor.datatype).ok_or("unknown datatype")?;
        let contents = tensor.contents.clone().unwrap_or_default();
        let data = if use_raw {
            if contents != InferTensorContents::default() {
                return Err("raw and contents".into());
            }
            let raw = request.raw_input_contents[i].to_vec();
            if datatype == "BYTES" {
                // Bounded before splitting: never more elements than the shape claims.
                let claimed = count(&tensor.shape).unwrap_or(usize::MAX);
                if claimed > MAX_BYTES_ELEMENTS {
                    return Err("too many BYTES elements claimed".into());
                }
                let items = split_bytes(&raw).ok_or("bad BYTES framing")?;
                if items.len() > claimed {
                    return Err("more BYTES elements than the shape".into());
                }
                Data::Strings(items)
            } else {
                Data::Raw(raw)
            }
        } else {
            typed(datatype, &contents)?
        };
        decoded.push(Decoded {
            name: tensor.name.clone(),
            datatype,
            shape: tensor.shape.clone(),
            data,
        });
    }
    Ok(decoded)
}

fn split_bytes(raw: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut items = Vec::new();
    let mut rest = raw;
    while !rest.is_empty() {
        let len = u32::from_le_bytes(rest.get(..4)?.try_into().unwrap()) as usize;
        rest = &rest[4..];
        items.push(rest.get(..len)?.to_vec());
        rest = &rest[len..];
    }
    Some(items)
}

fn typed(datatype: &str, c: &InferTensorContents) -> Result<Data, String> {
    fn le<T: Copy, const N: usize>(values: &[T], f: impl Fn(T) -> [u8; N]) -> Data {
        Data::Raw(values.iter().flat_map(|&v| f(v)).collect())
    }
    let narrow = |ok: bool| ok.then_some(()).ok_or_else(|| "value out of range".to_string());
    Ok(match datatype {
        "BOOL" => Data::Raw(c.bool_contents.iter().map(|&b| u8::from(b)).collect()),
        "UINT8" => {
            narrow(c.uint_contents.iter().all(|&v| v <= u8::MAX as u32))?;
            le(&c.uint_contents, |v| [v as u8])
        }
        "UINT16" => {
            narrow(c.uint_contents.iter().all(|&v| v <= u16::MAX as u32))?;
            le(&c.uint_contents, |v| (v as u16).to_le_bytes())
        }
        "UINT32" => le(&c.uint_contents, u32::to_le_bytes),
        "UINT64" => le(&c.uint64_contents, u64::to_le_bytes),
        "INT8" => {
            narrow(c.int_contents.iter().all(|&v| i8::try_from(v).is_ok()))?;
            le(&c.int_contents, |v| [v as u8])
        }
        "INT16" => {
            narrow(c.int_contents.iter().all(|&v| i16::try_from(v).is_ok()))?;
            le(&c.int_contents, |v| (v as i16).to_le_bytes())
        }
        "INT32" => le(&c.int_contents, i32::to_le_bytes),
        "INT64" => le(&c.int64_contents, i64::to_le_bytes),
        "FP32" => le(&c.fp32_contents, f32::to_le_bytes),
        "FP64" => le(&c.fp64_contents, f64::to_le_bytes),
        "BYTES" => Data::Strings(c.bytes_contents.iter().map(|b| b.to_vec()).collect()),
        "FP16" | "BF16" => {
            if *c != InferTensorContents::default() {
                return Err("FP16/BF16 typed contents".into());
            }
            Data::Raw(Vec::new())
        }
        other => unreachable!("{other}"),
    })
}

/// Number of elements, or `None` when negative or beyond `usize`.
fn count(shape: &[i64]) -> Option<usize> {
    let mut product: u128 = 1;
    for &d in shape {
        product = product.checked_mul(u128::try_from(d).ok()?)?;
        if product > usize::MAX as u128 {
            return None;
        }
    }
    Some(product as usize)
}

/// Step 2: one decoded input against the model's declaration of it.
fn check_input(spec: &Spec, tensor: &Decoded, datatype: &str, shape: &[i64]) -> Result<(), String> {
    if tensor.datatype != datatype {
        return Err("datatype".into());
    }
    let fits = tensor.shape.len() == shape.len()
        && tensor
            .shape
            .iter()
            .zip(shape)
            .all(|(&g, &w)| g >= 0 && (w < 0 || g == w));
    if !fits {
        return Err("shape".into());
    }
    if spec.max_batch_size > 0 && tensor.shape[0] as u64 > spec.max_batch_size as u64 {
        return Err("batch over max_batch_size".into());
    }
    let n = count(&tensor.shape).ok_or("too many elements")?;
    match &tensor.data {
        Data::Raw(raw) if datatype != "BYTES" => {
            let size = self::datatype(datatype).unwrap().1;
            if n as u128 * size as u128 != raw.len() as u128 {
                return Err("byte count".into());
            }
        }
        Data::Strings(items) if datatype == "BYTES" => {
            if items.len() != n {
                return Err("BYTES element count".into());
            }
            // ONNX Runtime string tensors are C strings of UTF-8: refused
            // at validation, before the request can join a batch.
            if items
                .iter()
                .any(|i| std::str::from_utf8(i).is_err() || i.contains(&0))
            {
                return Err("BYTES element not UTF-8 without NUL".into());
            }
        }
        _ => return Err("data does not match the datatype".into()),
    }
    Ok(())
}

/// The status (and for OK, the outputs) the contract gives `request`.
pub fn judge(request: &ModelInferRequest) -> Verdict {
    let inputs = decode_inputs(request);
    let not_found = Verdict::NotFound {
        also_invalid: inputs.is_err(),
    };
    let Some(spec) = spec(&request.model_name) else {
        return not_found;
    };
    // Only the canonical decimal spelling names version 1: "01" or "+1" do not.
    if !(request.model_version.is_empty() || request.model_version == "1") {
        return not_found;
    }
    let inputs = match inputs {
        Ok(inputs) => inputs,
        Err(why) => return Verdict::Invalid(why),
    };
    let mut by_name: HashMap<&'static str, &Decoded> = HashMap::new();
    for tensor in &inputs {
        let Some(&(name, datatype, shape)) = spec.inputs.iter().find(|i| i.0 == tensor.name) else {
            return Verdict::Invalid(format!("unknown input {:?}", tensor.name));
        };
        if by_name.insert(name, tensor).is_some() {
            return Verdict::Invalid("duplicate input".into());
        }
        if let Err(why) = check_input(spec, tensor, datatype, shape) {
            return Verdict::Invalid(format!("input {name}: {why}"));
        }
    }
    if by_name.len() != spec.inputs.len() {
        return Verdict::Invalid("missing input".into());
    }
    if spec.max_batch_size > 0 && inputs.iter().any(|i| i.shape[0] != inputs[0].shape[0]) {
        return Verdict::Invalid("inputs disagree on the batch size".into());
    }
    let mut wanted: Vec<&'static str> = Vec::new();
    if request.outputs.is_empty() {
        wanted = spec.outputs.iter().map(|o| o.0).collect();
    }
    for out in &request.outputs {
        let Some(&(name, _)) = spec.outputs.iter().find(|o| o.0 == out.name) else {
            return Verdict::Invalid("unknown output".into());
        };
        if wanted.contains(&name) {
            return Verdict::Invalid("duplicate output".into());
        }
        wanted.push(name);
    }
    let Some(outputs) = compute(spec.fixture, &by_name) else {
        return Verdict::Runtime;
    };
    Verdict::Ok(
        wanted
            .into_iter()
            .map(|name| outputs.iter().find(|o| o.name == name).unwrap().clone())
            .collect(),
    )
}

/// What the fixture computes from valid inputs (`None`: ONNX Runtime refuses).
fn compute(fixture: &str, by_name: &HashMap<&'static str, &Decoded>) -> Option<Vec<Expected>> {
    let raw = |name: &str| match &by_name[name].data {
        Data::Raw(raw) => raw.clone(),
        Data::Strings(_) => unreachable!(),
    };
    let shape = |name: &str| by_name[name].shape.clone();
    let expected = |name, datatype, shape, values| Expected {
        name,
        datatype,
        shape,
        values,
    };
    Some(match fixture {
        "add_fp32" => {
            let (ra, rb) = (shape("a")[0], shape("b")[0]);
            // Add/Sub broadcast: equal rows, or one side has a single row.
            let rows = match (ra, rb) {
                _ if ra == rb => ra,
                (1, _) => rb,
                (_, 1) => ra,
                _ => return None,
            };
            let (a, b) = (f32_values(&raw("a")), f32_values(&raw("b")));
            let at =
                |v: &[f32], r: i64, own: i64, c: usize| v[(if own == 1 { 0 } else { r as usize }) * 4 + c];
            let (mut sum, mut diff) = (Vec::new(), Vec::new());
            for r in 0..rows {
                for c in 0..4 {
                    let (x, y) = (at(&a, r, ra, c), at(&b, r, rb, c));
                    sum.push((x + y).to_bits());
                    diff.push((x - y).to_bits());
                }
            }
            vec![
                expected("sum", "FP32", vec![rows, 4], Values::F32(sum)),
                expected("diff", "FP32", vec![rows, 4], Values::F32(diff)),
            ]
        }
        "string_identity" => {
            let Data::Strings(items) = &by_name["text"].data else {
                unreachable!()
            };
            let values = Values::Bytes(encode_bytes(items));
            vec![expected("out", "BYTES", shape("text"), values)]
        }
        "int64_ops" => {
            let y = raw("x")
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap()).wrapping_mul(3))
                .collect();
            vec![expected("y", "INT64", shape("x"), Values::I64(y))]
        }
        "fp16_ops" => {
            let y = raw("x")
                .chunks_exact(2)
                .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32() + 1.0)
                .map(|y| f16::from_f32(y).to_bits())
                .collect();
            vec![expected("y", "FP16", shape("x"), Values::F16(y))]
        }
        other => unreachable!("{other}"),
    })
}

/// Compares an OK answer with the oracle's outputs (NaN matches any NaN).
pub fn check_outputs(
    request: &ModelInferRequest,
    expected: &[Expected],
    response: &ModelInferResponse,
) -> Result<(), String> {
    if response.model_name != request.model_name || response.model_version != "1" || response.id != request.id
    {
        return Err(format!(
            "answer names {:?} v{:?} id {}, request was {:?} id {}",
            response.model_name,
            response.model_version,
            crate::report::clip(&response.id, 40),
            request.model_name,
            crate::report::clip(&request.id, 40)
        ));
    }
    if response.outputs.len() != expected.len() || response.raw_output_contents.len() != expected.len() {
        return Err(format!(
            "{} outputs / {} raw, expected {}",
            response.outputs.len(),
            response.raw_output_contents.len(),
            expected.len()
        ));
    }
    let outputs = response.outputs.iter().zip(&response.raw_output_contents);
    for ((got, raw), want) in outputs.zip(expected) {
        if got.name != want.name || got.datatype != want.datatype || got.shape != want.shape {
            return Err(format!(
                "output {} {} {:?}, expected {} {} {:?}",
                got.name, got.datatype, got.shape, want.name, want.datatype, want.shape
            ));
        }
        let same = match &want.values {
            Values::F32(bits) => {
                let nan = |b: u32| f32::from_bits(b).is_nan();
                let got = raw
                    .chunks_exact(4)
                    .map(|c| u32::from_le_bytes(c.try_into().unwrap()));
                raw.len() == bits.len() * 4 && got.zip(bits).all(|(g, &w)| g == w || (nan(g) && nan(w)))
            }
            Values::F16(bits) => {
                let nan = |b: u16| f16::from_bits(b).is_nan();
                let got = raw.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
                raw.len() == bits.len() * 2 && got.zip(bits).all(|(g, &w)| g == w || (nan(g) && nan(w)))
            }
            Values::I64(values) => {
                let want: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
                raw.as_ref() == want.as_slice()
            }
            Values::Bytes(want) => raw.as_ref() == want.as_slice(),
        };
        if !same {
            return Err(format!(
                "output {}: wrong values {raw:?}, expected {:?}",
                want.name, want.values
            ));
        }
    }
    Ok(())
}
