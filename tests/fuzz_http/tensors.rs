//! Tensors as a client holds them (datatype, shape, elements) with their v2
//! raw layout and their JSON renderings: flat as tritonclient writes them
//! (`[v.item() for v in array.flatten()]`, rapidjson numbers, ASCII-only
//! strings), or nested and in other number spellings as other clients do.

use proptest::prelude::*;

use crate::{DataType, encode_bytes_elements};

/// One tensor's elements.
#[derive(Debug, Clone, PartialEq)]
pub enum Elements {
    /// Little-endian, `element_size` bytes each.
    Fixed(Vec<u8>),
    Strings(Vec<Vec<u8>>),
}

#[derive(Debug, Clone)]
pub struct Tensor {
    pub name: String,
    pub datatype: DataType,
    pub shape: Vec<i64>,
    pub elements: Elements,
}

impl Tensor {
    /// The v2 raw layout (BYTES length-prefixed), as binary sections carry it.
    pub fn raw(&self) -> Vec<u8> {
        match &self.elements {
            Elements::Fixed(raw) => raw.clone(),
            Elements::Strings(items) => encode_bytes_elements(items.iter().map(Vec::as_slice)).to_vec(),
        }
    }

    /// Whether the tensor can be written as JSON data at all.
    pub fn has_json_form(&self) -> bool {
        match (&self.elements, self.datatype) {
            (_, DataType::Fp16 | DataType::Bf16) => false,
            (Elements::Strings(items), _) => items.iter().all(|i| std::str::from_utf8(i).is_ok()),
            (Elements::Fixed(raw), DataType::Fp32) => raw
                .as_chunks::<4>()
                .0
                .iter()
                .all(|b| f32::from_le_bytes(*b).is_finite()),
            (Elements::Fixed(raw), DataType::Fp64) => raw
                .as_chunks::<8>()
                .0
                .iter()
                .all(|b| f64::from_le_bytes(*b).is_finite()),
            _ => true,
        }
    }
}

/// How a JSON rendering spells things.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// Nested by the shape (row-major) instead of flat.
    pub nested: bool,
    /// Strings with `\uXXXX` for every non-ASCII character (rapidjson's
    /// `ensure_ascii`, tritonclient's default) instead of raw UTF-8.
    pub ascii: bool,
    /// FP32 as the shortest FP32 form (`0.1`) instead of the FP64 form of
    /// the widened value (`0.10000000149011612`, what tritonclient writes).
    pub short_fp32: bool,
    /// Whole floats as integers (`2` instead of `2.0`).
    pub integral_floats: bool,
}

pub fn style() -> impl Strategy<Value = Style> {
    (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
        |(nested, ascii, short_fp32, integral_floats)| Style {
            nested,
            ascii,
            short_fp32,
            integral_floats,
        },
    )
}

/// The tensor's `data` as JSON text (it must have a JSON form).
pub fn json_data(tensor: &Tensor, style: Style) -> String {
    let items = element_texts(tensor, style);
    if !style.nested || tensor.shape.is_empty() {
        return format!("[{}]", items.join(","));
    }
    let mut next = items.into_iter();
    nest(&tensor.shape, &mut next)
}

fn nest(shape: &[i64], items: &mut impl Iterator<Item = String>) -> String {
    let (&dim, rest) = shape.split_first().expect("a non-empty shape");
    let parts: Vec<String> = (0..dim)
        .map(|_| {
            if rest.is_empty() {
                items.next().unwrap_or_default()
            } else {
                nest(rest, items)
            }
        })
        .collect();
    format!("[{}]", parts.join(","))
}

fn element_texts(tensor: &Tensor, style: Style) -> Vec<String> {
    let raw = match &tensor.elements {
        Elements::Strings(items) => {
            return items
                .iter()
                .map(|i| string_text(std::str::from_utf8(i).expect("UTF-8"), style.ascii))
                .collect();
        }
        Elements::Fixed(raw) => raw.as_slice(),
    };
    macro_rules! each {
        ($n:literal, $f:expr) => {
            raw.as_chunks::<$n>().0.iter().map(|b| $f(*b)).collect()
        };
    }
    match tensor.datatype {
        DataType::Bool => each!(1, |b: [u8; 1]| (b[0] != 0).to_string()),
        DataType::Uint8 => each!(1, |b| u8::from_le_bytes(b).to_string()),
        DataType::Uint16 => each!(2, |b| u16::from_le_bytes(b).to_string()),
        DataType::Uint32 => each!(4, |b| u32::from_le_bytes(b).to_string()),
        DataType::Uint64 => each!(8, |b| u64::from_le_bytes(b).to_string()),
        DataType::Int8 => each!(1, |b| i8::from_le_bytes(b).to_string()),
        DataType::Int16 => each!(2, |b| i16::from_le_bytes(b).to_string()),
        DataType::Int32 => each!(4, |b| i32::from_le_bytes(b).to_string()),
        DataType::Int64 => each!(8, |b| i64::from_le_bytes(b).to_string()),
        DataType::Fp32 => each!(4, |b| {
            let v = f32::from_le_bytes(b);
            let text = if style.short_fp32 {
                ryu::Buffer::new().format(v).to_string()
            } else {
                float_text(f64::from(v))
            };
            integral(text, f64::from(v), style)
        }),
        DataType::Fp64 => each!(8, |b| {
            let v = f64::from_le_bytes(b);
            integral(float_text(v), v, style)
        }),
        DataType::Fp16 | DataType::Bf16 | DataType::Bytes => unreachable!("no JSON form"),
    }
}

/// rapidjson writes doubles in their shortest round-trip form, as ryu does.
fn float_text(v: f64) -> String {
    ryu::Buffer::new().format(v).to_string()
}

fn integral(text: String, v: f64, style: Style) -> String {
    let whole = v.fract() == 0.0 && v.abs() < 1e15 && !(v == 0.0 && v.is_sign_negative());
    if style.integral_floats && whole {
        format!("{}", v as i64)
    } else {
        text
    }
}

/// A JSON string literal, optionally ASCII-only with surrogate pairs.
pub fn string_text(text: &str, ascii: bool) -> String {
    let plain = serde_json::to_string(text).expect("strings serialize");
    if !ascii {
        return plain;
    }
    let mut out = String::with_capacity(plain.len());
    for c in plain.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04X}"));
            }
        }
    }
    out
}

pub fn datatype() -> impl Strategy<Value = DataType> {
    prop::sample::select(DataType::ALL.to_vec())
}

pub fn shape() -> impl Strategy<Value = Vec<i64>> {
    prop::collection::vec(0i64..4, 0..4)
}

fn count(shape: &[i64]) -> usize {
    shape.iter().product::<i64>() as usize
}

/// Text that is mostly ASCII with quotes, escapes, controls and non-BMP
/// characters mixed in.
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![4 => "[a-z0-9 ]", 1 => r#"["\\/\n\t\x00-\x1f]"#, 1 => "[é日😀\u{7f}\u{2028}]"],
        0..6,
    )
    .prop_map(|parts| parts.concat())
}

/// Elements for `datatype` and `shape`; `json` asks for values with a JSON
/// form (finite floats, UTF-8 strings), the binary form takes any bits.
pub fn elements(datatype: DataType, shape: &[i64], json: bool) -> BoxedStrategy<Elements> {
    let n = count(shape);
    match (datatype, datatype.element_size()) {
        (DataType::Bytes, _) if json => prop::collection::vec(text().prop_map(String::into_bytes), n)
            .prop_map(Elements::Strings)
            .boxed(),
        (DataType::Bytes, _) => prop::collection::vec(prop::collection::vec(any::<u8>(), 0..6), n)
            .prop_map(Elements::Strings)
            .boxed(),
        (DataType::Bool, _) => prop::collection::vec(0u8..=1, n)
            .prop_map(Elements::Fixed)
            .boxed(),
        (DataType::Fp32, _) if json => prop::collection::vec(finite_f32(), n)
            .prop_map(|v| Elements::Fixed(v.iter().flat_map(|f| f.to_le_bytes()).collect()))
            .boxed(),
        (DataType::Fp64, _) if json => prop::collection::vec(finite_f64(), n)
            .prop_map(|v| Elements::Fixed(v.iter().flat_map(|f| f.to_le_bytes()).collect()))
            .boxed(),
        (_, Some(size)) => prop::collection::vec(any::<u8>(), n * size)
            .prop_map(Elements::Fixed)
            .boxed(),
        (_, None) => unreachable!("only BYTES has no element size"),
    }
}

fn finite_f32() -> impl Strategy<Value = f32> {
    prop_oneof![
        any::<u32>()
            .prop_map(f32::from_bits)
            .prop_filter("finite", |f| f.is_finite()),
        -1e6f32..1e6,
        Just(-0.0f32)
    ]
}

fn finite_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<u64>()
            .prop_map(f64::from_bits)
            .prop_filter("finite", |f| f.is_finite()),
        -1e9f64..1e9,
        Just(-0.0f64)
    ]
}

/// A tensor named `name`; `json` as for [`elements`].
pub fn tensor(name: String, json: bool) -> impl Strategy<Value = Tensor> {
    (datatype(), shape())
        .prop_flat_map(move |(datatype, shape)| {
            let json = json && !matches!(datatype, DataType::Fp16 | DataType::Bf16);
            (Just(datatype), elements(datatype, &shape, json), Just(shape))
        })
        .prop_map(move |(datatype, elements, shape)| Tensor {
            name: name.clone(),
            datatype,
            shape,
            elements,
        })
}
