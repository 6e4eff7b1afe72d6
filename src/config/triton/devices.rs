//! Where a Triton model runs: `instance_group` (how many instances, CPU or
//! GPU) and `optimization.execution_accelerators` become Switchyard's
//! instance count and execution provider list. `KIND_GPU` means the CUDA
//! provider, after TensorRT when that accelerator is asked for; CPU
//! instances run on the CPU provider, after OpenVINO when asked for.

use std::collections::BTreeMap;

use super::schema::{Accelerator, InstanceGroup, TritonConfig};
use crate::backend::ort::check_options;
use crate::backend::{ExecutionProvider, ProviderKind};
use crate::config::ConfigError;

/// Instances, providers and the accelerators that do not apply.
#[derive(Debug, PartialEq, Eq)]
pub struct Placement {
    pub instances: usize,
    pub gpu: bool,
    pub providers: Vec<ExecutionProvider>,
    pub ignored: Vec<String>,
}

/// Reads `instance_group` and the accelerators of `config`.
pub fn placement(config: &TritonConfig) -> Result<Placement, ConfigError> {
    let (instances, device) = instance_groups(&config.instance_group)?;
    let accelerators = config
        .optimization
        .as_ref()
        .and_then(|o| o.execution_accelerators.as_ref());
    let (gpu_list, cpu_list) = accelerators.map_or((&[][..], &[][..]), |a| {
        (
            a.gpu_execution_accelerator.as_slice(),
            a.cpu_execution_accelerator.as_slice(),
        )
    });
    let mut ignored = Vec::new();
    let not_for = |list: &str, kind: &str| {
        format!("optimization.execution_accelerators.{list} (instances are not {kind})")
    };
    let providers = match device {
        Some(device_id) => {
            if !cpu_list.is_empty() {
                ignored.push(not_for("cpu_execution_accelerator", "KIND_CPU"));
            }
            gpu_providers(gpu_list, device_id, &config.parameters)?
        }
        None => {
            if !gpu_list.is_empty() {
                ignored.push(not_for("gpu_execution_accelerator", "KIND_GPU"));
            }
            cpu_providers(cpu_list)?
        }
    };
    Ok(Placement {
        instances,
        gpu: device.is_some(),
        providers,
        ignored,
    })
}

/// The instance count and, for `KIND_GPU`, the device. Switchyard runs all
/// instances of a model alike, so the groups must agree on kind and device.
fn instance_groups(groups: &[InstanceGroup]) -> Result<(usize, Option<i32>), ConfigError> {
    if groups.is_empty() {
        return Ok((1, None));
    }
    let unsupported = |what: String| ConfigError::Unsupported(format!("instance_group: {what}"));
    let mut instances = 0usize;
    let mut gpu = None;
    let mut cpu = false;
    for group in groups {
        let count = match group.count {
            0 => 1,
            n => usize::try_from(n)
                .map_err(|_| ConfigError::Invalid(format!("instance_group count {n} is negative")))?,
        };
        instances += count;
        match group.kind.as_str() {
            "" | "KIND_AUTO" | "KIND_CPU" => cpu = true,
            "KIND_GPU" => {
                let device = match group.gpus.as_slice() {
                    [] => 0,
                    [one] => *one,
                    many => {
                        return Err(unsupported(format!(
                            "gpus {many:?}: every instance of a model runs on one device; list one GPU"
                        )));
                    }
                };
                if gpu.is_some_and(|d| d != device) {
                    return Err(unsupported(
                        "groups on different GPUs; every instance of a model runs on one device".into(),
                    ));
                }
                gpu = Some(device);
            }
            other => {
                return Err(unsupported(format!(
                    "kind {other} is not supported (use KIND_CPU or KIND_GPU)"
                )));
            }
        }
    }
    if cpu && gpu.is_some() {
        return Err(unsupported(
            "KIND_GPU and KIND_CPU groups in one model; every instance of a model runs on the same execution providers".into(),
        ));
    }
    Ok((instances, gpu))
}

/// `[tensorrt,] cuda`: Triton always adds CUDA as the GPU provider.
fn gpu_providers(
    accelerators: &[Accelerator],
    device_id: i32,
    parameters: &BTreeMap<String, super::schema::Parameter>,
) -> Result<Vec<ExecutionProvider>, ConfigError> {
    let mut cuda = ExecutionProvider::new(ProviderKind::Cuda);
    for (key, parameter) in parameters {
        if let Some(value) = cuda_parameter(key, &parameter.string_value)? {
            cuda.options.insert(key.clone(), value);
        }
    }
    let mut providers = Vec::new();
    for accelerator in accelerators {
        match accelerator.name.as_str() {
            "tensorrt" => {
                let mut trt = ExecutionProvider::new(ProviderKind::TensorRt);
                for (key, value) in &accelerator.parameters {
                    if let Some((key, value)) = tensorrt_parameter(key, value)? {
                        trt.options.insert(key, value);
                    }
                }
                trt.options.insert("device_id".into(), device_id.to_string());
                providers.push(trt);
            }
            "cuda" => cuda.options.extend(accelerator.parameters.clone()),
            other => {
                return Err(unknown_accelerator(
                    other,
                    "gpu_execution_accelerator",
                    "tensorrt, cuda",
                ));
            }
        }
    }
    cuda.options.insert("device_id".into(), device_id.to_string());
    providers.push(cuda);
    checked(providers)
}

/// `[openvino,] cpu`.
fn cpu_providers(accelerators: &[Accelerator]) -> Result<Vec<ExecutionProvider>, ConfigError> {
    let mut providers = Vec::new();
    for accelerator in accelerators {
        match accelerator.name.as_str() {
            "openvino" => providers.push(ExecutionProvider {
                kind: ProviderKind::OpenVino,
                options: accelerator.parameters.clone(),
            }),
            other => {
                return Err(unknown_accelerator(
                    other,
                    "cpu_execution_accelerator",
                    "openvino",
                ));
            }
        }
    }
    providers.push(ExecutionProvider::cpu());
    checked(providers)
}

fn checked(providers: Vec<ExecutionProvider>) -> Result<Vec<ExecutionProvider>, ConfigError> {
    for provider in &providers {
        check_options(provider.kind, &provider.options)
            .map_err(|e| ConfigError::Invalid(format!("optimization.execution_accelerators: {e}")))?;
    }
    Ok(providers)
}

fn unknown_accelerator(name: &str, list: &str, known: &str) -> ConfigError {
    ConfigError::Invalid(format!(
        "unknown execution accelerator '{name}' in {list} (known: {known})"
    ))
}

/// Triton's TensorRT accelerator parameters as ONNX Runtime's option names.
fn tensorrt_parameter(key: &str, value: &str) -> Result<Option<(String, String)>, ConfigError> {
    let renamed = match key {
        "precision_mode" => {
            return match value {
                "FP32" => Ok(None),
                "FP16" => Ok(Some(("trt_fp16_enable".into(), "1".into()))),
                "BF16" => Ok(Some(("trt_bf16_enable".into(), "1".into()))),
                "INT8" => Ok(Some(("trt_int8_enable".into(), "1".into()))),
                other => Err(ConfigError::Invalid(format!(
                    "tensorrt precision_mode '{other}' is not one of FP32, FP16, BF16, INT8"
                ))),
            };
        }
        "max_workspace_size_bytes" => "trt_max_workspace_size".to_string(),
        "int8_calibration_table_name" | "int8_use_native_calibration_table" => format!("trt_{key}"),
        other => other.to_string(),
    };
    Ok(Some((renamed, value.to_string())))
}

/// Triton's older spelling of CUDA options as model `parameters`.
fn cuda_parameter(key: &str, value: &str) -> Result<Option<String>, ConfigError> {
    let invalid = || ConfigError::Invalid(format!("parameters {key} '{value}' is not valid"));
    Ok(Some(match key {
        "cudnn_conv_algo_search" => match value {
            "0" => "EXHAUSTIVE",
            "1" => "HEURISTIC",
            "2" => "DEFAULT",
            _ => return Err(invalid()),
        }
        .to_string(),
        "arena_extend_strategy" => match value {
            "0" => "kNextPowerOfTwo",
            "1" => "kSameAsRequested",
            _ => return Err(invalid()),
        }
        .to_string(),
        "gpu_mem_limit" | "do_copy_in_default_stream" => value.to_string(),
        _ => return Ok(None),
    }))
}
