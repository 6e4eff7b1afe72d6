//! A parsed Triton `config.pbtxt` as Switchyard's [`ModelConfig`]: each
//! honoured field mapped the way Triton's ONNX Runtime backend reads it.

use std::time::Duration;

use super::devices::placement;
use super::ignored;
use super::schema::{self, TritonConfig};
use crate::backend::{ExecutionMode, GraphOptimization};
use crate::config::declared_io::{DeclaredIo, DeclaredTensor};
use crate::config::{ConfigError, DynamicBatching, ModelConfig, VersionPolicy};
use crate::tensor::DataType;

/// Builds the settings; `json` is the same file as JSON, for the list of
/// fields set but not honoured.
pub fn model_config(config: &TritonConfig, json: &serde_json::Value) -> Result<ModelConfig, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid(message);
    let max_batch_size = usize::try_from(config.max_batch_size)
        .map_err(|_| invalid(format!("max_batch_size {} is negative", config.max_batch_size)))?;
    let placement = placement(config)?;
    let mut result = ModelConfig {
        instances: placement.instances,
        intra_op_threads: thread_count(config, "intra_op_thread_count")?,
        inter_op_threads: thread_count(config, "inter_op_thread_count")?,
        graph_optimization_level: graph_level(config),
        execution_mode: execution_mode(config)?,
        memory_arena: flag(config, "enable_mem_arena")?,
        memory_pattern: flag(config, "enable_mem_pattern")?,
        execution_providers: placement.providers,
        version_policy: version_policy(config.version_policy.as_ref())?,
        warmup: !config.model_warmup.is_empty(),
        max_batch_size,
        model_filename: model_filename(&config.default_model_filename)?,
        declared_io: declared_io(config, max_batch_size > 0)?,
        ..ModelConfig::default()
    };
    if let Some(batching) = &config.dynamic_batching {
        apply_batching(&mut result, batching)?;
    }
    let mut ignored = ignored::fields(json, placement.gpu);
    ignored.extend(placement.ignored);
    ignored.sort();
    result.source.ignored = ignored;
    Ok(result)
}

fn parameter<'a>(config: &'a TritonConfig, key: &str) -> Option<&'a str> {
    config.parameters.get(key).map(|p| p.string_value.trim())
}

/// Triton's thread counts: a number, 0 = ONNX Runtime's default (one per
/// core). Absent, Switchyard's default of 1 applies, not Triton's.
fn thread_count(config: &TritonConfig, key: &str) -> Result<usize, ConfigError> {
    match parameter(config, key) {
        None => Ok(1),
        Some(value) => value
            .parse()
            .map_err(|_| ConfigError::Invalid(format!("parameters {key} '{value}' is not a thread count"))),
    }
}

/// `"0"` sequential, `"1"` parallel, as Triton.
fn execution_mode(config: &TritonConfig) -> Result<ExecutionMode, ConfigError> {
    match parameter(config, "execution_mode") {
        None | Some("0") => Ok(ExecutionMode::Sequential),
        Some("1") => Ok(ExecutionMode::Parallel),
        Some(other) => Err(ConfigError::Invalid(format!(
            "parameters execution_mode '{other}' must be 0 (sequential) or 1 (parallel)"
        ))),
    }
}

/// Triton's boolean spellings: true/on/1 and false/off/0, any case.
fn flag(config: &TritonConfig, key: &str) -> Result<Option<bool>, ConfigError> {
    let Some(value) = parameter(config, key) else {
        return Ok(None);
    };
    match value.to_ascii_lowercase().as_str() {
        "true" | "on" | "1" => Ok(Some(true)),
        "false" | "off" | "0" => Ok(Some(false)),
        _ => Err(ConfigError::Invalid(format!(
            "parameters {key} '{value}' must be 1 or 0 (true or false)"
        ))),
    }
}

/// Triton's `optimization.graph.level`: -1 basic, 1 extended, 2 disabled,
/// anything else (or absent) all.
fn graph_level(config: &TritonConfig) -> GraphOptimization {
    let level = config
        .optimization
        .as_ref()
        .and_then(|o| o.graph.as_ref())
        .map(|g| g.level);
    match level {
        Some(-1) => GraphOptimization::Basic,
        Some(1) => GraphOptimization::Extended,
        Some(2) => GraphOptimization::Disabled,
        _ => GraphOptimization::All,
    }
}

fn version_policy(policy: Option<&schema::VersionPolicy>) -> Result<VersionPolicy, ConfigError> {
    let Some(policy) = policy else {
        return Ok(VersionPolicy::default());
    };
    if let Some(latest) = &policy.latest {
        return Ok(VersionPolicy::Latest(latest.num_versions as usize));
    }
    if policy.all.is_some() {
        return Ok(VersionPolicy::All(true));
    }
    let versions = policy
        .specific
        .as_ref()
        .map(|s| s.versions.as_slice())
        .unwrap_or_default();
    let versions = versions
        .iter()
        .map(|&v| u64::try_from(v).ok().filter(|&v| v > 0))
        .collect::<Option<Vec<u64>>>()
        .ok_or_else(|| {
            ConfigError::Invalid(format!(
                "version_policy specific {versions:?}: versions are positive"
            ))
        })?;
    Ok(VersionPolicy::Specific(versions))
}

/// A file name inside the version directory; no paths.
fn model_filename(name: &str) -> Result<Option<String>, ConfigError> {
    if name.is_empty() {
        return Ok(None);
    }
    if name.contains('/') || name == "." || name == ".." {
        return Err(ConfigError::Invalid(format!(
            "default_model_filename '{name}' must be a file name in the version directory"
        )));
    }
    Ok(Some(name.to_string()))
}

fn declared_io(config: &TritonConfig, batched: bool) -> Result<Option<DeclaredIo>, ConfigError> {
    if config.input.is_empty() && config.output.is_empty() {
        return Ok(None);
    }
    let tensors = |list: &[schema::Tensor], kind: &str| {
        list.iter()
            .map(|t| {
                let datatype = DataType::ALL
                    .into_iter()
                    .find(|d| d.config_name() == t.data_type)
                    .ok_or_else(|| {
                        ConfigError::Invalid(format!(
                            "{kind} '{}' needs a data_type (TYPE_FP32, ...)",
                            t.name
                        ))
                    })?;
                Ok(DeclaredTensor {
                    name: t.name.clone(),
                    datatype,
                    dims: t.dims.clone(),
                })
            })
            .collect::<Result<Vec<_>, ConfigError>>()
    };
    Ok(Some(DeclaredIo {
        batched,
        inputs: tensors(&config.input, "input")?,
        outputs: tensors(&config.output, "output")?,
    }))
}

/// Triton's dynamic batcher: delay (0 when unset, as Triton), preferred
/// sizes, and the default queue policy's size (0 = unset: Switchyard keeps
/// its bound) and timeout (the queue budget).
fn apply_batching(config: &mut ModelConfig, batching: &schema::DynamicBatching) -> Result<(), ConfigError> {
    let preferred_batch_size = batching
        .preferred_batch_size
        .iter()
        .map(|&size| usize::try_from(size).ok())
        .collect::<Option<Vec<usize>>>()
        .ok_or_else(|| ConfigError::Invalid("preferred_batch_size must be positive".into()))?;
    config.dynamic_batching = Some(DynamicBatching {
        max_queue_delay_us: batching.max_queue_delay_microseconds,
        preferred_batch_size,
    });
    if let Some(policy) = &batching.default_queue_policy {
        if policy.max_queue_size > 0 {
            config.max_queue_size = policy.max_queue_size as usize;
        }
        if policy.default_timeout_microseconds > 0 {
            config.queue_budget = Some(Duration::from_micros(policy.default_timeout_microseconds));
        }
    }
    Ok(())
}
