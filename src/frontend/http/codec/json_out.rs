//! Writing JSON by hand into a byte buffer: strings, integers (`itoa`),
//! floats (`ryu`, shortest round-trip form), and a tensor's elements as a
//! flat array. No intermediate `serde_json::Value`.

use crate::tensor::DataType;

/// Appends `text` as a JSON string literal.
pub fn string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut start = 0;
    for (at, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..at]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 15)],
            ]);
        } else {
            out.extend_from_slice(escape);
        }
        start = at + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Appends `"key":` (the key needs no escaping).
pub fn key(out: &mut Vec<u8>, key: &str) {
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

/// Appends an integer.
pub fn int(out: &mut Vec<u8>, value: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// Appends a float; non-finite values as Triton writes them.
fn float<F: ryu::Float + Into<f64> + Copy>(out: &mut Vec<u8>, buffer: &mut ryu::Buffer, value: F) {
    let wide: f64 = value.into();
    if wide.is_finite() {
        out.extend_from_slice(buffer.format_finite(value).as_bytes());
    } else if wide.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if wide > 0.0 {
        out.extend_from_slice(b"Infinity");
    } else {
        out.extend_from_slice(b"-Infinity");
    }
}

/// Appends `[v0,v1,...]` for fixed-size elements of `N` bytes; `false`
/// (nothing written) if `data` is not a whole number of elements.
fn elements<const N: usize>(
    out: &mut Vec<u8>,
    data: &[u8],
    mut write: impl FnMut(&mut Vec<u8>, [u8; N]),
) -> bool {
    let (items, rest) = data.as_chunks::<N>();
    if !rest.is_empty() {
        return false;
    }
    out.push(b'[');
    for (i, &item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write(out, item);
    }
    out.push(b']');
    true
}

/// Appends the BYTES elements of v2 raw `data` as strings; `false` if an
/// element is not UTF-8 or the framing is broken (the caller rewinds).
fn strings(out: &mut Vec<u8>, data: &[u8]) -> bool {
    out.push(b'[');
    let mut rest = data;
    let mut first = true;
    while let Some((prefix, tail)) = rest.split_first_chunk::<4>() {
        let len = u32::from_le_bytes(*prefix) as usize;
        let Some((item, tail)) = tail.split_at_checked(len) else {
            return false;
        };
        let Ok(text) = std::str::from_utf8(item) else {
            return false;
        };
        if !first {
            out.push(b',');
        }
        first = false;
        string(out, text);
        rest = tail;
    }
    out.push(b']');
    rest.is_empty()
}

/// Appends `data` (v2 raw layout) as a flat JSON array of `datatype`
/// elements. Returns `false` if it has no faithful JSON form (FP16, BF16,
/// non-UTF-8 BYTES, a partial element); the buffer may then hold a partial
/// array, which the caller truncates.
pub fn tensor_data(out: &mut Vec<u8>, datatype: DataType, data: &[u8]) -> bool {
    let mut ryu = ryu::Buffer::new();
    let mut itoa = itoa::Buffer::new();
    macro_rules! ints {
        ($t:ty) => {
            elements(out, data, |out, b| {
                out.extend_from_slice(itoa.format(<$t>::from_le_bytes(b)).as_bytes())
            })
        };
    }
    match datatype {
        DataType::Bool => elements(out, data, |out, [b]: [u8; 1]| {
            out.extend_from_slice(if b == 0 { b"false" } else { b"true" })
        }),
        DataType::Uint8 => ints!(u8),
        DataType::Uint16 => ints!(u16),
        DataType::Uint32 => ints!(u32),
        DataType::Uint64 => ints!(u64),
        DataType::Int8 => ints!(i8),
        DataType::Int16 => ints!(i16),
        DataType::Int32 => ints!(i32),
        DataType::Int64 => ints!(i64),
        DataType::Fp32 => elements(out, data, |out, b| float(out, &mut ryu, f32::from_le_bytes(b))),
        DataType::Fp64 => elements(out, data, |out, b| float(out, &mut ryu, f64::from_le_bytes(b))),
        DataType::Bytes => strings(out, data),
        DataType::Fp16 | DataType::Bf16 => false,
    }
}

/// An upper bound of the JSON length of `len` bytes of `datatype` data
/// (strings: without escapes), to size the buffer once.
pub fn size_hint(datatype: DataType, len: usize) -> usize {
    let per_element = match datatype {
        DataType::Bool => 6,
        DataType::Uint8 | DataType::Int8 => 5,
        DataType::Uint16 | DataType::Int16 => 7,
        DataType::Uint32 | DataType::Int32 => 12,
        DataType::Uint64 | DataType::Int64 => 21,
        DataType::Fp32 => 16,
        DataType::Fp64 => 25,
        DataType::Fp16 | DataType::Bf16 => 0,
        // A 4-byte prefix becomes `"",`: never longer.
        DataType::Bytes => return len + 2,
    };
    let size = datatype.element_size().unwrap_or(1);
    (len / size).saturating_mul(per_element).saturating_add(2)
}
