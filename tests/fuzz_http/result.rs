//! Reading an answer the way tritonclient's `InferResult` does: the first
//! `Inference-Header-Content-Length` bytes are JSON (python-rapidjson, which
//! also reads `NaN` and `Infinity`), the rest is each binary output's
//! `binary_data_size` bytes in output order; JSON `data` is turned into the
//! datatype's elements (`np.array(data, dtype)`).

use serde_json::Value;

use crate::{DataType, encode_bytes_elements};

#[derive(Debug, Clone, PartialEq)]
pub struct ReadOutput {
    pub name: String,
    pub datatype: String,
    pub shape: Vec<i64>,
    /// The elements in v2 raw layout.
    pub raw: Vec<u8>,
    pub binary: bool,
}

pub fn read(body: &[u8], header_length: Option<usize>) -> Result<Vec<ReadOutput>, String> {
    let length = header_length.unwrap_or(body.len());
    let json = body.get(..length).ok_or("header length beyond the body")?;
    let text = std::str::from_utf8(json).map_err(|e| format!("JSON is not UTF-8: {e}"))?;
    let value: Value = serde_json::from_str(&quote_non_finite(text)).map_err(|e| format!("{e}: {text}"))?;
    let mut buffer = &body[length..];
    let outputs = value["outputs"].as_array().ok_or("no outputs array")?;
    let mut read = Vec::new();
    for output in outputs {
        let datatype = output["datatype"].as_str().ok_or("no datatype")?.to_string();
        let shape = output["shape"]
            .as_array()
            .ok_or("no shape")?
            .iter()
            .map(|d| d.as_i64().unwrap_or(-99))
            .collect();
        let size = &output["parameters"]["binary_data_size"];
        let (raw, binary) = if let Some(size) = size.as_u64() {
            let (raw, rest) = buffer
                .split_at_checked(size as usize)
                .ok_or("binary data too short")?;
            buffer = rest;
            (raw.to_vec(), true)
        } else {
            let parsed = DataType::parse(&datatype).ok_or("unknown datatype")?;
            (json_elements(parsed, &output["data"])?, false)
        };
        let name = output["name"].as_str().ok_or("no name")?.to_string();
        read.push(ReadOutput {
            name,
            datatype,
            shape,
            raw,
            binary,
        });
    }
    if !buffer.is_empty() {
        return Err(format!("{} bytes after the last binary output", buffer.len()));
    }
    Ok(read)
}

/// `NaN`, `Infinity`, `-Infinity` outside strings become the strings
/// `"NaN"`, `"Infinity"`, `"-Infinity"` (serde_json reads no bare ones).
fn quote_non_finite(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if !in_string {
            let token = ["-Infinity", "Infinity", "NaN"]
                .into_iter()
                .find(|t| rest.starts_with(t));
            if let Some(token) = token {
                out.push_str(&format!("\"{token}\""));
                rest = &rest[token.len()..];
                continue;
            }
        }
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            _ => {}
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

fn float(value: &Value) -> Result<f64, String> {
    match value {
        Value::String(s) if s == "NaN" => Ok(f64::NAN),
        Value::String(s) if s == "Infinity" => Ok(f64::INFINITY),
        Value::String(s) if s == "-Infinity" => Ok(f64::NEG_INFINITY),
        _ => value.as_f64().ok_or_else(|| format!("not a number: {value}")),
    }
}

fn json_elements(datatype: DataType, data: &Value) -> Result<Vec<u8>, String> {
    let items = data.as_array().ok_or("no data array")?;
    let mut raw = Vec::new();
    if datatype == DataType::Bytes {
        let strings: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
        let strings = strings.ok_or("BYTES data not strings")?;
        return Ok(encode_bytes_elements(strings.iter().map(|s| s.as_bytes())).to_vec());
    }
    for item in items {
        let int = || {
            item.as_i64()
                .map(i128::from)
                .or(item.as_u64().map(i128::from))
                .ok_or(format!("not an integer: {item}"))
        };
        macro_rules! put {
            ($t:ty) => {
                raw.extend(
                    <$t>::try_from(int()?)
                        .map_err(|_| format!("{item} out of range"))?
                        .to_le_bytes(),
                )
            };
        }
        match datatype {
            DataType::Bool => raw.push(u8::from(item.as_bool().ok_or("not a bool")?)),
            DataType::Uint8 => put!(u8),
            DataType::Uint16 => put!(u16),
            DataType::Uint32 => put!(u32),
            DataType::Uint64 => put!(u64),
            DataType::Int8 => put!(i8),
            DataType::Int16 => put!(i16),
            DataType::Int32 => put!(i32),
            DataType::Int64 => put!(i64),
            DataType::Fp32 => raw.extend((float(item)? as f32).to_le_bytes()),
            DataType::Fp64 => raw.extend(float(item)?.to_le_bytes()),
            DataType::Fp16 | DataType::Bf16 | DataType::Bytes => return Err(format!("{datatype} as JSON")),
        }
    }
    Ok(raw)
}

/// Whether two raw buffers hold the same elements: bitwise, except that
/// any NaN equals any NaN (JSON has one NaN) and BOOL compares truth.
pub fn same_elements(datatype: DataType, got: &[u8], want: &[u8]) -> bool {
    if got.len() != want.len() {
        return false;
    }
    match datatype {
        DataType::Fp32 => got
            .as_chunks::<4>()
            .0
            .iter()
            .zip(want.as_chunks::<4>().0)
            .all(|(a, b)| {
                let (a, b) = (f32::from_le_bytes(*a), f32::from_le_bytes(*b));
                a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
            }),
        DataType::Fp64 => got
            .as_chunks::<8>()
            .0
            .iter()
            .zip(want.as_chunks::<8>().0)
            .all(|(a, b)| {
                let (a, b) = (f64::from_le_bytes(*a), f64::from_le_bytes(*b));
                a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
            }),
        DataType::Bool => got.iter().zip(want).all(|(a, b)| (*a != 0) == (*b != 0)),
        _ => got == want,
    }
}
