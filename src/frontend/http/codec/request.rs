//! The JSON inference request, deserialized in one pass: typed structs for
//! the envelope, a hand-written visitor for each input so that its `data`
//! can be packed as it is read, once its datatype is known (see `data.rs`).

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::data::{Flatten, Packer, Recorder};
use crate::tensor::{DataType, TensorData};

/// A `T` that must be a JSON object: derived structs alone would also
/// accept an array of their fields' values.
#[derive(Debug, Default)]
pub struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Map<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Map<T> {
            type Value = T;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map))
            }
        }
        deserializer.deserialize_map(Map(PhantomData)).map(Object)
    }
}

#[derive(Debug, Deserialize)]
pub struct RequestJson {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub parameters: Option<Object<RequestParams>>,
    #[serde(deserialize_with = "inputs")]
    pub inputs: Vec<InputJson>,
    #[serde(default)]
    pub outputs: Option<Vec<Object<OutputJson>>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RequestParams {
    #[serde(default)]
    pub binary_data_output: Option<bool>,
    /// The request's deadline in microseconds from arrival, as
    /// `tritonclient.http`'s `infer(..., timeout=...)` sends it.
    #[serde(default)]
    pub timeout: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub struct OutputJson {
    pub name: String,
    #[serde(default)]
    pub parameters: Option<Object<OutputParams>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct OutputParams {
    #[serde(default)]
    pub binary_data: Option<bool>,
    #[serde(default)]
    pub classification: Option<u64>,
    #[serde(default)]
    pub shared_memory_region: Option<IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
pub struct InputParams {
    #[serde(default)]
    pub binary_data_size: Option<u64>,
    #[serde(default)]
    pub shared_memory_region: Option<IgnoredAny>,
}

/// One input as the JSON gave it; the datatype is checked in `decode.rs`.
#[derive(Debug)]
pub struct InputJson {
    pub name: String,
    pub shape: Vec<i64>,
    /// The datatype as sent, and parsed if it is a known one.
    pub datatype: (String, Option<DataType>),
    pub parameters: InputParams,
    pub data: Data,
}

/// What the `data` member held.
#[derive(Debug)]
pub enum Data {
    Absent,
    /// Packed as read (the datatype came first).
    Packed(TensorData),
    /// Read before the datatype: packed by `decode.rs`.
    Recorded(Recorder),
    /// Present but skipped: the datatype is unknown or has no JSON form.
    Skipped,
}

/// `inputs`: each element knows its index, for messages before its name.
fn inputs<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<InputJson>, D::Error> {
    struct Inputs;
    impl<'de> Visitor<'de> for Inputs {
        type Value = Vec<InputJson>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("'inputs' as an array of input tensors")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut inputs = Vec::new();
            while let Some(input) = seq.next_element_seed(InputSeed(inputs.len()))? {
                inputs.push(input);
            }
            Ok(inputs)
        }
    }
    deserializer.deserialize_seq(Inputs)
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum Field {
    Name,
    Shape,
    Datatype,
    Parameters,
    Data,
    #[serde(other)]
    Other,
}

struct InputSeed(usize);

impl<'de> de::DeserializeSeed<'de> for InputSeed {
    type Value = InputJson;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<InputJson, D::Error> {
        deserializer.deserialize_map(self)
    }
}

/// The members of one input seen so far.
#[derive(Default)]
struct Partial {
    name: Option<String>,
    shape: Option<Vec<i64>>,
    datatype: Option<(String, Option<DataType>)>,
    parameters: Option<InputParams>,
    data: Option<Data>,
}

impl<'de> Visitor<'de> for InputSeed {
    type Value = InputJson;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "inputs[{}] as an object", self.0)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<InputJson, A::Error> {
        let mut seen = Partial::default();
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::Name => set(&mut seen.name, "name", map.next_value()?)?,
                Field::Shape => set(&mut seen.shape, "shape", map.next_value()?)?,
                Field::Datatype => {
                    let text: String = map.next_value()?;
                    let parsed = DataType::parse(&text);
                    set(&mut seen.datatype, "datatype", (text, parsed))?;
                }
                Field::Parameters => {
                    let Object(parameters) = map.next_value()?;
                    set(&mut seen.parameters, "parameters", parameters)?;
                }
                Field::Data => {
                    if seen.data.is_some() {
                        return Err(de::Error::duplicate_field("data"));
                    }
                    seen.data = Some(self.data(&mut map, &seen)?);
                }
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        self.finish(seen)
    }
}

fn set<T, E: de::Error>(slot: &mut Option<T>, field: &'static str, value: T) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::duplicate_field(field));
    }
    *slot = Some(value);
    Ok(())
}

impl InputSeed {
    fn label(&self, name: Option<&String>) -> String {
        match name {
            Some(name) => format!("input '{name}'"),
            None => format!("inputs[{}]", self.0),
        }
    }

    /// Reads `data`: packed now if the datatype is known, recorded if it
    /// has not been seen yet, skipped if it cannot have JSON data.
    fn data<'de, A: MapAccess<'de>>(&self, map: &mut A, seen: &Partial) -> Result<Data, A::Error> {
        let label = self.label(seen.name.as_ref());
        match &seen.datatype {
            None => {
                let mut recorder = Recorder::default();
                map.next_value_seed(Flatten {
                    sink: &mut recorder,
                    label: &label,
                    top: true,
                })?;
                Ok(Data::Recorded(recorder))
            }
            Some((_, Some(datatype))) if !matches!(datatype, DataType::Fp16 | DataType::Bf16) => {
                let mut packer = Packer::new(&label, *datatype);
                map.next_value_seed(Flatten {
                    sink: &mut packer,
                    label: &label,
                    top: true,
                })?;
                Ok(Data::Packed(packer.finish()))
            }
            Some(_) => {
                map.next_value::<IgnoredAny>()?;
                Ok(Data::Skipped)
            }
        }
    }

    fn finish<E: de::Error>(&self, seen: Partial) -> Result<InputJson, E> {
        let label = self.label(seen.name.as_ref());
        let missing = |field: &str| E::custom(format!("{label}: missing field '{field}'"));
        Ok(InputJson {
            shape: seen.shape.ok_or_else(|| missing("shape"))?,
            datatype: seen.datatype.ok_or_else(|| missing("datatype"))?,
            name: seen.name.ok_or_else(|| missing("name"))?,
            parameters: seen.parameters.unwrap_or_default(),
            data: seen.data.unwrap_or(Data::Absent),
        })
    }
}
