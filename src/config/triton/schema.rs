//! The fields of Triton's `ModelConfig` that Switchyard reads, in the JSON
//! form of the parsed message (protobuf's JSON mapping with the proto field
//! names, enums by name, 64-bit integers as numbers, unset fields left out).
//! Everything else is found by `ignored::fields` or refused in `mod.rs`.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TritonConfig {
    pub name: String,
    pub platform: String,
    pub backend: String,
    pub version_policy: Option<VersionPolicy>,
    pub max_batch_size: i32,
    pub input: Vec<Tensor>,
    pub output: Vec<Tensor>,
    pub instance_group: Vec<InstanceGroup>,
    pub dynamic_batching: Option<DynamicBatching>,
    pub default_model_filename: String,
    pub parameters: BTreeMap<String, Parameter>,
    pub optimization: Option<Optimization>,
    pub model_warmup: Vec<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct VersionPolicy {
    pub latest: Option<Latest>,
    pub all: Option<serde_json::Value>,
    pub specific: Option<Specific>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Latest {
    pub num_versions: u32,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Specific {
    pub versions: Vec<i64>,
}

/// An `input` or `output` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Tensor {
    pub name: String,
    /// `TYPE_FP32`, ...; empty when unset (`TYPE_INVALID`).
    pub data_type: String,
    pub dims: Vec<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct InstanceGroup {
    /// `KIND_GPU`, `KIND_CPU`, `KIND_MODEL`; empty when unset (`KIND_AUTO`).
    pub kind: String,
    /// 0 when unset, which Triton reads as 1.
    pub count: i32,
    pub gpus: Vec<i32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DynamicBatching {
    pub preferred_batch_size: Vec<i32>,
    pub max_queue_delay_microseconds: u64,
    pub default_queue_policy: Option<QueuePolicy>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct QueuePolicy {
    pub max_queue_size: u32,
    pub default_timeout_microseconds: u64,
}

/// A `parameters` value: Triton's ONNX Runtime backend reads `string_value`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Parameter {
    pub string_value: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Optimization {
    pub graph: Option<Graph>,
    pub execution_accelerators: Option<ExecutionAccelerators>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Graph {
    pub level: i32,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ExecutionAccelerators {
    pub gpu_execution_accelerator: Vec<Accelerator>,
    pub cpu_execution_accelerator: Vec<Accelerator>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Accelerator {
    pub name: String,
    pub parameters: BTreeMap<String, String>,
}
