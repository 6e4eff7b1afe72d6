//! Triton's JSON form of its protobuf messages (model configuration,
//! statistics): protobuf's JSON mapping with the proto field names, every
//! scalar field printed, and 64-bit integers as JSON numbers (as Triton
//! prints `dims` and counters), rendered through the project's own
//! descriptors so the JSON always matches the gRPC messages.

use std::sync::LazyLock;

use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};

use crate::proto::FILE_DESCRIPTOR_SET;

static POOL: LazyLock<Option<DescriptorPool>> =
    LazyLock::new(|| DescriptorPool::decode(FILE_DESCRIPTOR_SET).ok());

/// `message` (of protobuf type `full_name`, e.g. `inference.ModelConfig`) as Triton's JSON.
pub fn to_json<M: Message>(message: &M, full_name: &str) -> Option<serde_json::Value> {
    let descriptor = POOL.as_ref()?.get_message_by_name(full_name)?;
    let dynamic = DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice()).ok()?;
    let options = SerializeOptions::new()
        .stringify_64_bit_integers(false)
        .use_proto_field_name(true)
        .skip_default_fields(false);
    dynamic
        .serialize_with_options(serde_json::value::Serializer, &options)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::inference::{ModelConfig, ModelInput};

    #[test]
    fn dims_are_numbers_and_names_are_the_protos() {
        let config = ModelConfig {
            name: "m".into(),
            max_batch_size: 8,
            input: vec![ModelInput {
                name: "x".into(),
                data_type: 11,
                dims: vec![-1, 4],
                ..Default::default()
            }],
            ..Default::default()
        };
        let json = to_json(&config, "inference.ModelConfig").expect("descriptor known");
        assert_eq!(json["max_batch_size"], 8);
        assert_eq!(json["input"][0]["dims"], serde_json::json!([-1, 4]));
        assert_eq!(json["input"][0]["data_type"], "TYPE_FP32");
    }
}
