//! Triton's `ModelConfig` message for a loaded version, so tools that read a
//! model's configuration (tritonclient's `get_model_config`, perf_analyzer)
//! work unchanged. The settings are reported in Triton's own spelling:
//! ONNX Runtime tuning as the `parameters` of Triton's ONNX Runtime backend,
//! execution providers as instance kind and execution accelerators.

use std::collections::HashMap;

use crate::backend::{ExecutionMode, GraphOptimization, ProviderKind, SessionSettings};
use crate::config::{ModelConfig as Settings, VersionPolicy};
use crate::engine::ModelDescription;
use crate::proto::inference::model_config::SchedulingChoice;
use crate::proto::inference::model_instance_group::Kind;
use crate::proto::inference::model_optimization_policy::execution_accelerators::Accelerator;
use crate::proto::inference::model_optimization_policy::{ExecutionAccelerators, Graph};
use crate::proto::inference::model_version_policy::{All, Latest, PolicyChoice, Specific};
use crate::proto::inference::{
    DataType as ProtoDataType, ModelConfig, ModelDynamicBatching, ModelInput, ModelInstanceGroup,
    ModelOptimizationPolicy, ModelOutput, ModelParameter, ModelQueuePolicy, ModelVersionPolicy,
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
    let session = &version.settings.session;
    ModelConfig {
        name: version.key.model.clone(),
        platform: super::PLATFORM.into(),
        backend: "onnxruntime".into(),
        version_policy: Some(version_policy(&config.version_policy)),
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
        instance_group: vec![instance_group(&version.key.model, config.instances, session)],
        scheduling_choice: dynamic_batching(config),
        optimization: optimization(session),
        parameters: parameters(session),
        default_model_filename: config.model_filename.clone().unwrap_or_default(),
        ..Default::default()
    }
}

fn version_policy(policy: &VersionPolicy) -> ModelVersionPolicy {
    let choice = match policy {
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
    ModelVersionPolicy {
        policy_choice: Some(choice),
    }
}

/// One group: `KIND_GPU` on the device of the first GPU provider, else `KIND_CPU`.
fn instance_group(model: &str, instances: usize, session: &SessionSettings) -> ModelInstanceGroup {
    let gpu = session.execution_providers.iter().find(|p| p.kind.is_gpu());
    let (kind, suffix, gpus) = match gpu {
        Some(provider) => {
            let device = provider
                .options
                .get("device_id")
                .and_then(|d| d.parse().ok())
                .unwrap_or(0);
            (Kind::Gpu, "gpu", vec![device])
        }
        None => (Kind::Cpu, "cpu", Vec::new()),
    };
    ModelInstanceGroup {
        name: format!("{model}_{suffix}"),
        kind: kind as i32,
        count: i32::try_from(instances).unwrap_or(i32::MAX),
        gpus,
        ..Default::default()
    }
}

fn dynamic_batching(config: &Settings) -> Option<SchedulingChoice> {
    let batching = config.dynamic_batching.as_ref()?;
    let timeout = config
        .queue_budget
        .map_or(0, |budget| u64::try_from(budget.as_micros()).unwrap_or(u64::MAX));
    Some(SchedulingChoice::DynamicBatching(ModelDynamicBatching {
        preferred_batch_size: batching
            .preferred_batch_size
            .iter()
            .map(|&s| i32::try_from(s).unwrap_or(i32::MAX))
            .collect(),
        max_queue_delay_microseconds: batching.max_queue_delay_us,
        default_queue_policy: Some(ModelQueuePolicy {
            max_queue_size: u32::try_from(config.max_queue_size).unwrap_or(u32::MAX),
            default_timeout_microseconds: timeout,
            ..Default::default()
        }),
        ..Default::default()
    }))
}

/// Triton's `optimization.graph.level` (-1 basic, 1 extended, 2 disabled,
/// unset = all) and the execution accelerators before the last provider.
fn optimization(session: &SessionSettings) -> Option<ModelOptimizationPolicy> {
    let level = match session.graph_optimization {
        GraphOptimization::Basic => Some(-1),
        GraphOptimization::Extended => Some(1),
        GraphOptimization::Disabled => Some(2),
        GraphOptimization::All => None,
    };
    let mut accelerators = ExecutionAccelerators::default();
    for provider in &session.execution_providers {
        let mut parameters: HashMap<String, String> = provider.options.clone().into_iter().collect();
        let list = match provider.kind {
            ProviderKind::Cpu => continue,
            // CUDA is Triton's GPU default; only options make it an accelerator entry.
            ProviderKind::Cuda => {
                parameters.remove("device_id");
                if parameters.is_empty() {
                    continue;
                }
                &mut accelerators.gpu_execution_accelerator
            }
            ProviderKind::TensorRt | ProviderKind::Rocm => &mut accelerators.gpu_execution_accelerator,
            ProviderKind::OpenVino => &mut accelerators.cpu_execution_accelerator,
        };
        list.push(Accelerator {
            name: provider.kind.name().into(),
            parameters,
        });
    }
    let has_accelerators = !accelerators.gpu_execution_accelerator.is_empty()
        || !accelerators.cpu_execution_accelerator.is_empty();
    if level.is_none() && !has_accelerators {
        return None;
    }
    Some(ModelOptimizationPolicy {
        graph: level.map(|level| Graph { level }),
        execution_accelerators: has_accelerators.then_some(accelerators),
        ..Default::default()
    })
}

/// ONNX Runtime tuning as Triton's ONNX Runtime backend names it.
fn parameters(session: &SessionSettings) -> HashMap<String, ModelParameter> {
    let flag = |on: bool| if on { "1" } else { "0" }.to_string();
    let mode = flag(session.execution_mode == ExecutionMode::Parallel);
    let mut entries = vec![
        ("intra_op_thread_count", session.intra_op_threads.to_string()),
        ("inter_op_thread_count", session.inter_op_threads.to_string()),
        ("execution_mode", mode),
    ];
    entries.extend(session.memory_arena.map(|on| ("enable_mem_arena", flag(on))));
    entries.extend(session.memory_pattern.map(|on| ("enable_mem_pattern", flag(on))));
    entries
        .into_iter()
        .map(|(key, value)| (key.to_string(), ModelParameter { string_value: value }))
        .collect()
}
