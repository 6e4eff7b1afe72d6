//! Triton's `ModelConfig` message for a loaded version, so tools that read a
//! model's configuration (tritonclient's `get_model_config`, perf_analyzer)
//! work unchanged.

use crate::config::VersionPolicy;
use crate::engine::ModelDescription;
use crate::proto::inference::model_config::SchedulingChoice;
use crate::proto::inference::model_instance_group::Kind;
use crate::proto::inference::model_version_policy::{All, Latest, PolicyChoice, Specific};
use crate::proto::inference::{
    DataType as ProtoDataType, ModelConfig, ModelDynamicBatching, ModelInput, ModelInstanceGroup,
    ModelOutput, ModelVersionPolicy,
};
use crate::tensor::TensorSpec;

/// Describes `version` the way Triton would: with `max_batch_size > 0` the
/// batch dimension is implicit and left out of `dims`.
pub fn model_config(description: &ModelDescription) -> ModelConfig {
    let ModelDescription { version, config } = description;
    let batched = config.max_batch_size > 0;
    let dims = |spec: &TensorSpec| {
        let skip = usize::from(batched && !spec.shape.is_empty());
        spec.shape[skip..].to_vec()
    };
    let data_type = |spec: &TensorSpec| {
        ProtoDataType::from_str_name(spec.datatype.config_name()).unwrap_or(ProtoDataType::TypeInvalid) as i32
    };
    let policy = match &config.version_policy {
        VersionPolicy::Latest(n) => PolicyChoice::Latest(Latest {
            num_versions: u32::try_from(*n).unwrap_or(u32::MAX),
        }),
        VersionPolicy::All(_) => PolicyChoice::All(All {}),
        VersionPolicy::Specific(versions) => PolicyChoice::Specific(Specific {
            versions: versions
                .iter()
                .map(|&v| i64::try_from(v).unwrap_or(i64::MAX))
                .collect(),
        }),
    };
    ModelConfig {
        name: version.key.model.clone(),
        platform: super::PLATFORM.into(),
        backend: "onnxruntime".into(),
        version_policy: Some(ModelVersionPolicy {
            policy_choice: Some(policy),
        }),
        max_batch_size: i32::try_from(config.max_batch_size).unwrap_or(i32::MAX),
        input: version
            .inputs
            .iter()
            .map(|spec| ModelInput {
                name: spec.name.clone(),
                data_type: data_type(spec),
                dims: dims(spec),
                ..Default::default()
            })
            .collect(),
        output: version
            .outputs
            .iter()
            .map(|spec| ModelOutput {
                name: spec.name.clone(),
                data_type: data_type(spec),
                dims: dims(spec),
                ..Default::default()
            })
            .collect(),
        instance_group: vec![ModelInstanceGroup {
            name: format!("{}_cpu", version.key.model),
            kind: Kind::Cpu as i32,
            count: i32::try_from(config.instances).unwrap_or(i32::MAX),
            ..Default::default()
        }],
        scheduling_choice: config.dynamic_batching.as_ref().map(|batching| {
            SchedulingChoice::DynamicBatching(ModelDynamicBatching {
                preferred_batch_size: batching
                    .preferred_batch_size
                    .iter()
                    .map(|&s| i32::try_from(s).unwrap_or(i32::MAX))
                    .collect(),
                max_queue_delay_microseconds: batching.max_queue_delay_us,
                ..Default::default()
            })
        }),
        ..Default::default()
    }
}
