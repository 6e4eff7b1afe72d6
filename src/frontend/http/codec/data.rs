//! An input's JSON `data` (flat or nested arrays, row-major) flattened into
//! the engine's layout while it is deserialized.
//!
//! Why a visitor rather than `serde_json::Value`: a `Value` tree costs about
//! 32 bytes and a match per element plus a second walk, for tensors that may
//! hold millions of elements. The [`Flatten`] seed hands each scalar to a
//! [`Sink`] as the parser meets it; when the datatype is already known (it
//! precedes `data` in every object tritonclient writes), the [`Packer`]
//! writes it straight into the little-endian buffer, range-checked, so the
//! only allocation is the tensor itself, sized by the elements actually
//! present (never by the claimed shape). Only when `data` precedes
//! `datatype` does a [`Recorder`] keep a compact tagged copy (at most 9
//! bytes per number) that is packed once the datatype is known.

use std::fmt;

use bytes::Bytes;
use serde::de::{DeserializeSeed, Error, SeqAccess, Visitor};

use super::{MAX_BYTES_ELEMENT_LEN, MAX_BYTES_ELEMENTS};
use crate::tensor::{DataType, TensorData};

/// One JSON element of a tensor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar<'a> {
    Bool(bool),
    /// Every JSON integer fits (serde_json reads them as `i64` or `u64`).
    Int(i128),
    Float(f64),
    Str(&'a str),
}

impl fmt::Display for Scalar<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bool(v) => write!(f, "{v}"),
            Self::Int(v) => write!(f, "{v}"),
            Self::Float(v) => write!(f, "{v:?}"),
            Self::Str(v) if v.chars().nth(32).is_some() => {
                let cut: String = v.chars().take(32).collect();
                write!(f, "string \"{cut}…\"")
            }
            Self::Str(v) => write!(f, "string {v:?}"),
        }
    }
}

/// Receives the elements of a flattened `data` array in order.
pub trait Sink {
    fn push(&mut self, value: Scalar<'_>) -> Result<(), String>;
}

/// Deserializes one `data` value into `sink`: the top level must be an
/// array; nested arrays are flattened.
pub struct Flatten<'s, S> {
    pub sink: &'s mut S,
    /// `input 'x'` or `inputs[3]`, for messages.
    pub label: &'s str,
    pub top: bool,
}

impl<'de, S: Sink> DeserializeSeed<'de> for Flatten<'_, S> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if self.top {
            deserializer.deserialize_seq(self)
        } else {
            deserializer.deserialize_any(self)
        }
    }
}

impl<'de, S: Sink> Visitor<'de> for Flatten<'_, S> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: 'data' as an array of booleans, numbers or strings, flat or nested",
            self.label
        )
    }

    fn visit_bool<E: Error>(self, v: bool) -> Result<(), E> {
        self.sink.push(Scalar::Bool(v)).map_err(E::custom)
    }

    fn visit_i64<E: Error>(self, v: i64) -> Result<(), E> {
        self.sink.push(Scalar::Int(v.into())).map_err(E::custom)
    }

    fn visit_u64<E: Error>(self, v: u64) -> Result<(), E> {
        self.sink.push(Scalar::Int(v.into())).map_err(E::custom)
    }

    fn visit_f64<E: Error>(self, v: f64) -> Result<(), E> {
        self.sink.push(Scalar::Float(v)).map_err(E::custom)
    }

    fn visit_str<E: Error>(self, v: &str) -> Result<(), E> {
        self.sink.push(Scalar::Str(v)).map_err(E::custom)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let label = self.label;
        loop {
            let nested = Flatten {
                sink: &mut *self.sink,
                label,
                top: false,
            };
            if seq.next_element_seed(nested)?.is_none() {
                return Ok(());
            }
        }
    }
}

/// Packs elements of one datatype into the engine's layout.
pub struct Packer<'a> {
    label: &'a str,
    datatype: DataType,
    raw: Vec<u8>,
    /// BYTES: where each element ends in `raw`.
    ends: Vec<usize>,
}

impl<'a> Packer<'a> {
    /// A packer for a datatype with a JSON form (not FP16 or BF16).
    pub fn new(label: &'a str, datatype: DataType) -> Self {
        Self {
            label,
            datatype,
            raw: Vec::new(),
            ends: Vec::new(),
        }
    }

    pub fn finish(self) -> TensorData {
        let raw = Bytes::from(self.raw);
        if self.datatype != DataType::Bytes {
            return TensorData::Raw(raw);
        }
        let mut start = 0;
        let items = self.ends.iter().map(|&end| {
            let item = raw.slice(start..end);
            start = end;
            item
        });
        TensorData::Strings(items.collect())
    }

    fn out_of_range(&self, value: Scalar<'_>) -> String {
        format!(
            "{}: value {value} does not fit datatype {}",
            self.label, self.datatype
        )
    }

    fn wrong_kind(&self, value: Scalar<'_>) -> String {
        let expected = match self.datatype {
            DataType::Bool => "true or false",
            DataType::Bytes => "strings",
            DataType::Fp32 | DataType::Fp64 => "numbers",
            DataType::Fp16 | DataType::Bf16 => "binary data (it has no JSON form)",
            _ => "integers",
        };
        format!(
            "{}: expected {} data as {expected}, got {value}",
            self.label, self.datatype
        )
    }

    fn string(&mut self, value: &str) -> Result<(), String> {
        if self.ends.len() >= MAX_BYTES_ELEMENTS {
            return Err(format!(
                "{}: at most {MAX_BYTES_ELEMENTS} BYTES elements per input",
                self.label
            ));
        }
        if value.len() > MAX_BYTES_ELEMENT_LEN {
            return Err(format!(
                "{}: a BYTES element of {} bytes exceeds the limit of {MAX_BYTES_ELEMENT_LEN}",
                self.label,
                value.len()
            ));
        }
        self.raw.extend_from_slice(value.as_bytes());
        self.ends.push(self.raw.len());
        Ok(())
    }

    fn fp32(&mut self, value: f64) -> Result<(), String> {
        let narrow = value as f32;
        if narrow.is_infinite() && value.is_finite() {
            return Err(self.out_of_range(Scalar::Float(value)));
        }
        self.raw.extend_from_slice(&narrow.to_le_bytes());
        Ok(())
    }

    fn integer(&mut self, value: i128) -> Result<(), String> {
        macro_rules! put {
            ($t:ty) => {
                <$t>::try_from(value).map(|v| self.raw.extend_from_slice(&v.to_le_bytes()))
            };
        }
        let fits = match self.datatype {
            DataType::Uint8 => put!(u8),
            DataType::Uint16 => put!(u16),
            DataType::Uint32 => put!(u32),
            DataType::Uint64 => put!(u64),
            DataType::Int8 => put!(i8),
            DataType::Int16 => put!(i16),
            DataType::Int32 => put!(i32),
            DataType::Int64 => put!(i64),
            _ => return Err(self.wrong_kind(Scalar::Int(value))),
        };
        fits.map_err(|_| self.out_of_range(Scalar::Int(value)))
    }
}

impl Sink for Packer<'_> {
    fn push(&mut self, value: Scalar<'_>) -> Result<(), String> {
        match (self.datatype, value) {
            (DataType::Bool, Scalar::Bool(v)) => self.raw.push(u8::from(v)),
            (DataType::Bytes, Scalar::Str(v)) => return self.string(v),
            (DataType::Fp32, Scalar::Float(v)) => return self.fp32(v),
            (DataType::Fp32, Scalar::Int(v)) => self.raw.extend_from_slice(&(v as f32).to_le_bytes()),
            (DataType::Fp64, Scalar::Float(v)) => self.raw.extend_from_slice(&v.to_le_bytes()),
            (DataType::Fp64, Scalar::Int(v)) => self.raw.extend_from_slice(&(v as f64).to_le_bytes()),
            (_, Scalar::Int(v)) => return self.integer(v),
            (_, other) => return Err(self.wrong_kind(other)),
        }
        Ok(())
    }
}

const TAG_FALSE: u8 = 0;
const TAG_TRUE: u8 = 1;
const TAG_INT: u8 = 2;
const TAG_UINT: u8 = 3;
const TAG_FLOAT: u8 = 4;
const TAG_STR: u8 = 5;

/// Keeps elements whose datatype is not known yet as a tagged byte stream:
/// a tag byte, then 8 bytes for a number, or an 8-byte length and the
/// bytes for a string.
#[derive(Debug, Default)]
pub struct Recorder {
    pub stream: Vec<u8>,
}

impl Sink for Recorder {
    fn push(&mut self, value: Scalar<'_>) -> Result<(), String> {
        let out = &mut self.stream;
        match value {
            Scalar::Bool(v) => out.push(if v { TAG_TRUE } else { TAG_FALSE }),
            Scalar::Int(v) => match i64::try_from(v) {
                Ok(v) => {
                    out.push(TAG_INT);
                    out.extend_from_slice(&v.to_le_bytes());
                }
                Err(_) => {
                    out.push(TAG_UINT);
                    out.extend_from_slice(&(v as u64).to_le_bytes());
                }
            },
            Scalar::Float(v) => {
                out.push(TAG_FLOAT);
                out.extend_from_slice(&v.to_le_bytes());
            }
            Scalar::Str(v) => {
                out.push(TAG_STR);
                out.extend_from_slice(&(v.len() as u64).to_le_bytes());
                out.extend_from_slice(v.as_bytes());
            }
        }
        Ok(())
    }
}

/// Feeds recorded elements to `sink`, in order.
pub fn replay(stream: &[u8], sink: &mut impl Sink) -> Result<(), String> {
    let mut rest = stream;
    while let Some((&tag, tail)) = rest.split_first() {
        let word = tail.first_chunk::<8>().copied().unwrap_or_default();
        let after = tail.get(8..).unwrap_or_default();
        rest = after;
        let value = match tag {
            TAG_FALSE | TAG_TRUE => {
                rest = tail;
                Scalar::Bool(tag == TAG_TRUE)
            }
            TAG_INT => Scalar::Int(i64::from_le_bytes(word).into()),
            TAG_UINT => Scalar::Int(u64::from_le_bytes(word).into()),
            TAG_FLOAT => Scalar::Float(f64::from_le_bytes(word)),
            _ => {
                let len = usize::try_from(u64::from_le_bytes(word)).unwrap_or(usize::MAX);
                let (text, tail) = after.split_at_checked(len).unwrap_or((after, &[]));
                rest = tail;
                Scalar::Str(std::str::from_utf8(text).unwrap_or_default())
            }
        };
        sink.push(value)?;
    }
    Ok(())
}
