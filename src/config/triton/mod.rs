//! Triton's `config.pbtxt`: the protobuf text format of Triton's
//! `ModelConfig`, parsed by prost-reflect over the project's own descriptor
//! of that message (`proto/model_config.proto`), so every field Triton
//! defines parses and a misspelt one is an error with its line and column.
//! The parsed message is read through its JSON form (`schema`), turned into
//! a [`ModelConfig`] (`convert`, `devices`), and every field that is set
//! but not honoured is listed (`ignored`).

mod convert;
mod devices;
mod ignored;
mod lists;
mod schema;

use std::sync::LazyLock;

use miette::Diagnostic;
use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};
use serde_json::Value;

use super::{ConfigError, ModelConfig};

/// The descriptors `build.rs` compiles from `proto/`. Included here rather
/// than through the generated protocol module: the configuration layer reads
/// the message by its descriptor and never names the transport's types.
const DESCRIPTORS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/inference_descriptor.bin"));

/// The message a `config.pbtxt` holds.
const MESSAGE: &str = "inference.ModelConfig";

static POOL: LazyLock<Result<DescriptorPool, String>> =
    LazyLock::new(|| DescriptorPool::decode(DESCRIPTORS).map_err(|e| e.to_string()));

/// Parses a `config.pbtxt` of the model in directory `model_dir_name`.
pub fn parse_pbtxt(text: &str, model_dir_name: &str) -> Result<ModelConfig, ConfigError> {
    let json = parse_to_json(text)?;
    refuse_unsupported(&json)?;
    let config: schema::TritonConfig =
        serde_json::from_value(json.clone()).map_err(|e| ConfigError::Syntax(e.to_string()))?;
    if !config.name.is_empty() && config.name != model_dir_name {
        return Err(ConfigError::Invalid(format!(
            "name '{}' is not the model directory's name '{model_dir_name}'",
            config.name
        )));
    }
    let model_config = convert::model_config(&config, &json)?;
    model_config.validate().map_err(ConfigError::Invalid)?;
    Ok(model_config)
}

/// The text-format message as JSON: proto field names, enums by name,
/// 64-bit integers as numbers, unset fields left out.
fn parse_to_json(text: &str) -> Result<Value, ConfigError> {
    let pool = POOL
        .as_ref()
        .map_err(|e| ConfigError::Unreadable(format!("descriptors: {e}")))?;
    let descriptor = pool
        .get_message_by_name(MESSAGE)
        .ok_or_else(|| ConfigError::Unreadable(format!("descriptor of {MESSAGE} missing")))?;
    let (fixed, inserted) = lists::with_list_colons(text);
    let message = DynamicMessage::parse_text_format(descriptor, &fixed)
        .map_err(|e| ConfigError::Syntax(with_position(&e, text, &inserted)))?;
    let options = SerializeOptions::new()
        .stringify_64_bit_integers(false)
        .use_proto_field_name(true)
        .skip_default_fields(true);
    message
        .serialize_with_options(serde_json::value::Serializer, &options)
        .map_err(|e| ConfigError::Syntax(e.to_string()))
}

/// A parse error as "... at line L column C" where the parser knows the spot.
fn with_position(error: &prost_reflect::text_format::ParseError, text: &str, inserted: &[usize]) -> String {
    let offset = error
        .labels()
        .and_then(|mut labels| labels.next())
        .map(|label| lists::original_offset(label.offset(), inserted));
    match offset {
        Some(offset) => {
            let mut end = offset.min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            let before = &text[..end];
            let line = before.matches('\n').count() + 1;
            let column = before[before.rfind('\n').map_or(0, |i| i + 1)..].chars().count() + 1;
            format!("{error} at line {line} column {column}")
        }
        None => error.to_string(),
    }
}

/// What Switchyard does not do fails the load, saying so.
fn refuse_unsupported(json: &Value) -> Result<(), ConfigError> {
    for (field, what) in [
        ("ensemble_scheduling", "ensembles"),
        ("sequence_batching", "the sequence batcher (stateful models)"),
    ] {
        if json.get(field).is_some() {
            return Err(ConfigError::Unsupported(format!(
                "{field} is not supported: Switchyard serves single ONNX models and has no {what}"
            )));
        }
    }
    let text = |field: &str| {
        json.get(field)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    for (field, value, ours) in [
        ("platform", text("platform"), "onnxruntime_onnx"),
        ("backend", text("backend"), "onnxruntime"),
    ] {
        if !value.is_empty() && value != ours {
            return Err(ConfigError::Unsupported(format!(
                "{field} '{value}' is not supported: Switchyard serves ONNX models with ONNX Runtime \
                 (platform onnxruntime_onnx, backend onnxruntime)"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
