use std::time::Duration;

use super::*;
use crate::backend::{ExecutionMode, GraphOptimization, ProviderKind};
use crate::config::VersionPolicy;
use crate::tensor::DataType;

/// Triton's documented example for the ONNX Runtime backend, trimmed.
const EXAMPLE: &str = r#"
name: "simple"
platform: "onnxruntime_onnx"
max_batch_size: 8
version_policy: { latest: { num_versions: 2 } }
input [
  { name: "a" data_type: TYPE_FP32 dims: [ 4 ] },
  { name: "b" data_type: TYPE_FP32 dims: [ 4 ] }
]
output [ { name: "sum" data_type: TYPE_FP32 dims: [ 4 ] } ]
instance_group [ { count: 2 kind: KIND_CPU } ]
dynamic_batching {
  preferred_batch_size: [ 4, 8 ]
  max_queue_delay_microseconds: 100
  default_queue_policy { max_queue_size: 16 default_timeout_microseconds: 250000 }
}
parameters { key: "intra_op_thread_count" value: { string_value: "2" } }
parameters { key: "inter_op_thread_count" value: { string_value: "3" } }
parameters { key: "execution_mode" value: { string_value: "1" } }
parameters { key: "enable_mem_arena" value: { string_value: "0" } }
parameters { key: "enable_mem_pattern" value: { string_value: "true" } }
optimization { graph: { level: 1 } }
default_model_filename: "simple.onnx"
"#;

fn parse(text: &str) -> Result<ModelConfig, ConfigError> {
    parse_pbtxt(text, "simple")
}

#[test]
fn honoured_fields_map_to_settings() {
    let config = parse(EXAMPLE).unwrap();
    assert_eq!(config.instances, 2);
    assert_eq!(config.max_batch_size, 8);
    assert_eq!(config.version_policy, VersionPolicy::Latest(2));
    assert_eq!((config.intra_op_threads, config.inter_op_threads), (2, 3));
    assert_eq!(config.execution_mode, ExecutionMode::Parallel);
    assert_eq!(
        (config.memory_arena, config.memory_pattern),
        (Some(false), Some(true))
    );
    assert_eq!(config.graph_optimization_level, GraphOptimization::Extended);
    assert_eq!(config.model_file_name(), "simple.onnx");
    assert!(!config.warmup, "no model_warmup: no warm-up, as Triton");
    let batching = config.dynamic_batching.as_ref().unwrap();
    assert_eq!(batching.preferred_batch_size, vec![4, 8]);
    assert_eq!(batching.max_queue_delay_us, 100);
    assert_eq!(config.max_queue_size, 16);
    assert_eq!(config.queue_budget, Some(Duration::from_millis(250)));
    assert_eq!(
        config.version_settings().queue_budget,
        Some(Duration::from_millis(250))
    );
    let kinds: Vec<_> = config.execution_providers.iter().map(|p| p.kind).collect();
    assert_eq!(kinds, [ProviderKind::Cpu]);
    let io = config.declared_io.as_ref().unwrap();
    assert!(io.batched);
    assert_eq!(io.inputs.len(), 2);
    assert_eq!(
        (io.outputs[0].datatype, io.outputs[0].dims.clone()),
        (DataType::Fp32, vec![4])
    );
    assert!(config.source.ignored.is_empty(), "{:?}", config.source.ignored);
}

#[test]
fn absent_fields_keep_switchyard_defaults() {
    let config = parse("").unwrap();
    assert_eq!(
        (config.instances, config.intra_op_threads, config.inter_op_threads),
        (1, 1, 1)
    );
    assert_eq!(config.graph_optimization_level, GraphOptimization::All);
    assert_eq!(config.declared_io, None);
    assert_eq!(parse("input [ ]\noutput: []\n").unwrap().declared_io, None);
    let zero = parse("parameters { key: \"intra_op_thread_count\" value: { string_value: \"0\" } }").unwrap();
    assert_eq!(zero.intra_op_threads, 0, "Triton's 0: ONNX Runtime's default");
    for (level, expected) in [
        (-1, GraphOptimization::Basic),
        (2, GraphOptimization::Disabled),
        (0, GraphOptimization::All),
    ] {
        let config = parse(&format!("optimization {{ graph {{ level: {level} }} }}")).unwrap();
        assert_eq!(config.graph_optimization_level, expected, "level {level}");
    }
    let warm = parse("model_warmup [{ name: \"w\" batch_size: 1 inputs { key: \"a\" value: { data_type: TYPE_FP32 dims: [4] zero_data: true } } }]").unwrap();
    assert!(warm.warmup);
    assert_eq!(
        warm.source.ignored,
        [
            "model_warmup.batch_size",
            "model_warmup.inputs.data_type",
            "model_warmup.inputs.dims"
        ]
    );
}

#[test]
fn gpu_instances_mean_cuda_after_tensorrt() {
    let config = parse(
        r#"
instance_group [ { count: 1 kind: KIND_GPU gpus: [ 1 ] } ]
optimization { execution_accelerators {
  gpu_execution_accelerator : [ {
    name : "tensorrt"
    parameters { key: "precision_mode" value: "FP16" }
    parameters { key: "max_workspace_size_bytes" value: "1073741824" }
    parameters { key: "trt_engine_cache_enable" value: "1" }
  }, {
    name : "cuda"
    parameters { key: "cudnn_conv_use_max_workspace" value: "0" }
  } ]
  cpu_execution_accelerator : [ { name : "openvino" } ]
}}
parameters { key: "cudnn_conv_algo_search" value: { string_value: "1" } }
"#,
    )
    .unwrap();
    let providers = &config.execution_providers;
    assert_eq!(
        providers.iter().map(|p| p.kind).collect::<Vec<_>>(),
        [ProviderKind::TensorRt, ProviderKind::Cuda]
    );
    let trt = &providers[0].options;
    assert_eq!(trt["trt_fp16_enable"], "1");
    assert_eq!(trt["trt_max_workspace_size"], "1073741824");
    assert_eq!(trt["trt_engine_cache_enable"], "1");
    assert_eq!(trt["device_id"], "1");
    let cuda = &providers[1].options;
    assert_eq!(cuda["device_id"], "1");
    assert_eq!(cuda["cudnn_conv_use_max_workspace"], "0");
    assert_eq!(cuda["cudnn_conv_algo_search"], "HEURISTIC");
    assert_eq!(
        config.source.ignored,
        ["optimization.execution_accelerators.cpu_execution_accelerator (instances are not KIND_CPU)"]
    );
    let plain = parse("instance_group [ { kind: KIND_GPU } ]").unwrap();
    assert_eq!(plain.execution_providers.len(), 1);
    assert_eq!(plain.execution_providers[0].kind, ProviderKind::Cuda);
    assert_eq!(plain.execution_providers[0].options["device_id"], "0");
}

#[test]
fn cpu_instances_take_openvino_and_ignore_gpu_accelerators() {
    let config = parse(
        r#"instance_group [ { count: 2 kind: KIND_CPU }, { count: 1 } ]
optimization { execution_accelerators {
  cpu_execution_accelerator : [ { name : "openvino" } ]
  gpu_execution_accelerator : [ { name : "tensorrt" } ]
}}
parameters { key: "gpu_mem_limit" value: { string_value: "1000" } }"#,
    )
    .unwrap();
    assert_eq!(config.instances, 3);
    let kinds: Vec<_> = config.execution_providers.iter().map(|p| p.kind).collect();
    assert_eq!(kinds, [ProviderKind::OpenVino, ProviderKind::Cpu]);
    assert_eq!(config.source.ignored.len(), 2, "{:?}", config.source.ignored);
}

#[test]
fn refusals_say_what_is_not_supported() {
    for (text, expected) in [
        (
            "platform: \"ensemble\"\nensemble_scheduling { step [ { model_name: \"a\" model_version: -1 } ] }",
            "ensemble_scheduling is not supported",
        ),
        (
            "sequence_batching { max_sequence_idle_microseconds: 5000000 }",
            "sequence_batching is not supported",
        ),
        (
            "platform: \"tensorrt_plan\"",
            "platform 'tensorrt_plan' is not supported",
        ),
        ("backend: \"python\"", "backend 'python' is not supported"),
        ("instance_group [ { kind: KIND_MODEL } ]", "KIND_MODEL"),
        ("instance_group [ { kind: KIND_GPU gpus: [0, 1] } ]", "one device"),
        (
            "instance_group [ { kind: KIND_GPU }, { kind: KIND_CPU } ]",
            "KIND_GPU and KIND_CPU",
        ),
    ] {
        let err = parse(text).unwrap_err();
        assert!(matches!(err, ConfigError::Unsupported(_)), "{text}: {err:?}");
        assert!(err.to_string().contains(expected), "{text}: {err}");
    }
}

#[test]
fn invalid_files_are_errors_with_position() {
    let err = parse("# é\nname: \"simplé\" bogus: 1\n").unwrap_err().to_string();
    assert!(err.contains("bogus") && err.contains("line 2 column 16"), "{err}");
    let err = parse("max_batch_size: 8\ninstance_grup [ { count: 1 } ]\n").unwrap_err();
    assert!(matches!(err, ConfigError::Syntax(_)), "{err:?}");
    let err = err.to_string();
    assert!(
        err.contains("instance_grup") && err.contains("line 2 column 1"),
        "{err}"
    );
    for (text, expected) in [
        ("name: \"other\"", "'other'"),
        ("max_batch_size: -1", "negative"),
        (
            "parameters { key: \"execution_mode\" value: { string_value: \"2\" } }",
            "execution_mode",
        ),
        (
            "parameters { key: \"enable_mem_arena\" value: { string_value: \"maybe\" } }",
            "enable_mem_arena",
        ),
        (
            "parameters { key: \"intra_op_thread_count\" value: { string_value: \"many\" } }",
            "intra_op_thread_count",
        ),
        ("dynamic_batching { }", "max_batch_size"),
        (
            "max_batch_size: 4\ndynamic_batching { preferred_batch_size: [ 8 ] }",
            "preferred_batch_size 8",
        ),
        ("input [ { name: \"a\" dims: [ 4 ] } ]", "data_type"),
        ("default_model_filename: \"../x.onnx\"", "default_model_filename"),
        ("version_policy { latest { num_versions: 0 } }", "latest"),
        (
            "instance_group [ { kind: KIND_GPU } ]\noptimization { execution_accelerators { gpu_execution_accelerator: [ { name: \"tvm\" } ] } }",
            "'tvm'",
        ),
        (
            "instance_group [ { kind: KIND_GPU } ]\noptimization { execution_accelerators { gpu_execution_accelerator: [ { name: \"tensorrt\" parameters { key: \"precision_mode\" value: \"FP8\" } } ] } }",
            "FP8",
        ),
        (
            "instance_group [ { kind: KIND_GPU } ]\noptimization { execution_accelerators { gpu_execution_accelerator: [ { name: \"tensorrt\" parameters { key: \"trt_turbo\" value: \"1\" } } ] } }",
            "trt_turbo",
        ),
    ] {
        let err = parse(text).unwrap_err().to_string();
        assert!(err.contains(expected), "{text}: {err}");
    }
}

#[test]
fn unhonoured_fields_are_listed() {
    let config = parse(
        r#"max_batch_size: 4
input [ { name: "a" data_type: TYPE_FP32 dims: [ 4 ] reshape: { shape: [ 2, 2 ] } } ]
output [ { name: "y" data_type: TYPE_FP32 dims: [ 4 ] label_filename: "labels.txt" } ]
dynamic_batching { preserve_ordering: true }
response_cache { enable: true }
model_repository_agents { agents [ { name: "checksum" } ] }
parameters { key: "share_session_between_instances" value: { string_value: "1" } }
"#,
    )
    .unwrap();
    assert_eq!(
        config.source.ignored,
        [
            "dynamic_batching.preserve_ordering",
            "input.reshape",
            "model_repository_agents",
            "output.label_filename",
            "parameters.share_session_between_instances",
            "response_cache",
        ]
    );
}
