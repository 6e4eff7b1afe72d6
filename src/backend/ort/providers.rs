//! Execution providers: which ones the loaded library offers, which options
//! each accepts, and registering a preference list on a session builder so
//! that a provider that is missing or fails to initialise fails the load
//! instead of falling back to the CPU.

use std::collections::BTreeMap;
use std::ffi::{CStr, c_char, c_int};
use std::path::Path;

use ::ort::ep::{
    self, ArbitrarilyConfigurableExecutionProvider, ExecutionProvider as _, ExecutionProviderDispatch,
};
use ::ort::session::builder::SessionBuilder;

use crate::backend::{BackendError, ExecutionProvider, ProviderKind};

/// Options of the CUDA provider (ONNX Runtime's CUDA execution provider
/// documentation); pointer-valued ones (streams, allocators) are left out.
const CUDA_OPTIONS: &[&str] = &[
    "device_id",
    "gpu_mem_limit",
    "arena_extend_strategy",
    "cudnn_conv_algo_search",
    "do_copy_in_default_stream",
    "cudnn_conv_use_max_workspace",
    "cudnn_conv1d_pad_to_nc1d",
    "enable_cuda_graph",
    "enable_skip_layer_norm_strict_mode",
    "use_tf32",
    "prefer_nhwc",
    "use_ep_level_unified_stream",
    "tunable_op_enable",
    "tunable_op_tuning_enable",
    "tunable_op_max_tuning_duration_ms",
    "sdpa_kernel",
    "fuse_conv_bias",
];

/// Options of the TensorRT provider.
const TENSORRT_OPTIONS: &[&str] = &[
    "device_id",
    "trt_max_workspace_size",
    "trt_min_subgraph_size",
    "trt_max_partition_iterations",
    "trt_fp16_enable",
    "trt_bf16_enable",
    "trt_int8_enable",
    "trt_int8_calibration_table_name",
    "trt_int8_use_native_calibration_table",
    "trt_dla_enable",
    "trt_dla_core",
    "trt_engine_cache_enable",
    "trt_engine_cache_path",
    "trt_engine_cache_prefix",
    "trt_dump_subgraphs",
    "trt_force_sequential_engine_build",
    "trt_context_memory_sharing_enable",
    "trt_layer_norm_fp32_fallback",
    "trt_timing_cache_enable",
    "trt_timing_cache_path",
    "trt_force_timing_cache",
    "trt_detailed_build_log",
    "trt_build_heuristics_enable",
    "trt_sparsity_enable",
    "trt_builder_optimization_level",
    "trt_auxiliary_streams",
    "trt_tactic_sources",
    "trt_extra_plugin_lib_paths",
    "trt_profile_min_shapes",
    "trt_profile_max_shapes",
    "trt_profile_opt_shapes",
    "trt_cuda_graph_enable",
    "trt_dump_ep_context_model",
    "trt_ep_context_file_path",
    "trt_ep_context_embed_mode",
    "trt_weight_stripped_engine_enable",
    "trt_onnx_model_folder_path",
    "trt_engine_decryption_enable",
    "trt_engine_decryption_lib_path",
    "trt_engine_hw_compatible",
    "trt_op_types_to_exclude",
];

/// Options of the OpenVINO provider.
const OPENVINO_OPTIONS: &[&str] = &[
    "device_type",
    "precision",
    "num_of_threads",
    "num_streams",
    "cache_dir",
    "load_config",
    "enable_opencl_throttling",
    "enable_qdq_optimizer",
    "disable_dynamic_shapes",
    "model_priority",
    "reshape_input",
    "layout",
];

/// Options of the ROCm provider.
const ROCM_OPTIONS: &[&str] = &[
    "device_id",
    "gpu_mem_limit",
    "arena_extend_strategy",
    "miopen_conv_exhaustive_search",
    "miopen_conv_use_max_workspace",
    "do_copy_in_default_stream",
    "enable_hip_graph",
    "tunable_op_enable",
    "tunable_op_tuning_enable",
    "tunable_op_max_tuning_duration_ms",
];

/// The option names `kind` accepts (none for the CPU provider, whose arena
/// is the `memory_arena` setting).
pub fn known_options(kind: ProviderKind) -> &'static [&'static str] {
    match kind {
        ProviderKind::Cpu => &[],
        ProviderKind::Cuda => CUDA_OPTIONS,
        ProviderKind::TensorRt => TENSORRT_OPTIONS,
        ProviderKind::OpenVino => OPENVINO_OPTIONS,
        ProviderKind::Rocm => ROCM_OPTIONS,
    }
}

/// Checks option names against [`known_options`]; the error names the
/// first unknown one and lists the known ones.
pub fn check_options(kind: ProviderKind, options: &BTreeMap<String, String>) -> Result<(), String> {
    let known = known_options(kind);
    match options.keys().find(|key| !known.contains(&key.as_str())) {
        None => Ok(()),
        Some(unknown) if known.is_empty() => {
            Err(format!("provider {kind} takes no options, got '{unknown}'"))
        }
        Some(unknown) => Err(format!(
            "unknown option '{unknown}' for provider {kind}; known options: {}",
            known.join(", ")
        )),
    }
}

/// ONNX Runtime's name of the provider (`CUDAExecutionProvider`, ...).
pub fn runtime_name(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Cpu => ep::CPU::NAME,
        ProviderKind::Cuda => ep::CUDA::NAME,
        ProviderKind::TensorRt => ep::TensorRT::NAME,
        ProviderKind::OpenVino => "OpenVINOExecutionProvider",
        ProviderKind::Rocm => ep::ROCm::NAME,
    }
}

/// The execution providers the loaded library was built with, by ONNX
/// Runtime's names. Call after `init`.
pub fn available_providers() -> Result<Vec<String>, String> {
    let api = ::ort::api();
    let mut names: *mut *mut c_char = std::ptr::null_mut();
    let mut count: c_int = 0;
    // SAFETY: ONNX Runtime fills `names` with `count` NUL-terminated strings
    // that stay valid until ReleaseAvailableProviders, called below.
    let status = unsafe { (api.GetAvailableProviders)(&mut names, &mut count) };
    if !status.0.is_null() {
        // SAFETY: a non-null status is an OrtStatus owned by us; read, then freed once.
        let message = unsafe { CStr::from_ptr((api.GetErrorMessage)(status.0)) }
            .to_string_lossy()
            .into_owned();
        unsafe { (api.ReleaseStatus)(status.0) };
        return Err(message);
    }
    if names.is_null() {
        return Ok(Vec::new());
    }
    let listed = (0..usize::try_from(count).unwrap_or(0))
        // SAFETY: `i < count`, so the pointer read is inside the array.
        .map(|i| {
            unsafe { CStr::from_ptr(*names.add(i)) }
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    // SAFETY: the array came from GetAvailableProviders with this count.
    let status = unsafe { (api.ReleaseAvailableProviders)(names, count) };
    if !status.0.is_null() {
        // SAFETY: as above; the release itself failed and its status is freed.
        unsafe { (api.ReleaseStatus)(status.0) };
    }
    Ok(listed)
}

/// Registers `providers` on `builder` in order. A provider the library was
/// not built with, or one that fails to initialise, is an error naming it
/// and the library; nothing falls back silently.
pub fn register(
    mut builder: SessionBuilder,
    providers: &[ExecutionProvider],
    memory_arena: Option<bool>,
    library: &Path,
) -> Result<SessionBuilder, BackendError> {
    let fail = |kind: ProviderKind, reason: String| BackendError::Provider {
        provider: kind,
        library: library.to_path_buf(),
        reason,
    };
    let offered = available_providers().map_err(|e| fail(ProviderKind::Cpu, e))?;
    for provider in providers {
        let name = runtime_name(provider.kind);
        check_options(provider.kind, &provider.options).map_err(|e| fail(provider.kind, e))?;
        if !offered.iter().any(|o| o == name) {
            return Err(fail(
                provider.kind,
                format!(
                    "({name}) is not in this ONNX Runtime library, which offers {}",
                    offered.join(", ")
                ),
            ));
        }
        // ONNX Runtime always has its CPU provider; nothing to register.
        let Some(dispatch) = dispatch(provider) else {
            continue;
        };
        builder = builder
            .with_execution_providers([dispatch.error_on_failure()])
            .map_err(|e| {
                fail(
                    provider.kind,
                    format!("({name}) failed to initialise: {}", e.to_string().trim_end()),
                )
            })?;
    }
    // Registering `ort`'s CPU provider sets the CPU arena on or off, so it is
    // registered only when the arena is configured.
    if let Some(arena) = memory_arena {
        let cpu = ep::CPU::default().with_arena_allocator(arena).build();
        builder = builder
            .with_execution_providers([cpu.error_on_failure()])
            .map_err(|e| fail(ProviderKind::Cpu, format!("memory arena: {e}")))?;
    }
    Ok(builder)
}

/// The `ort` provider for one entry with its options; `None` for the CPU
/// provider, which every session has.
fn dispatch(provider: &ExecutionProvider) -> Option<ExecutionProviderDispatch> {
    fn with_options<E: ArbitrarilyConfigurableExecutionProvider>(
        mut ep: E,
        options: &BTreeMap<String, String>,
    ) -> E {
        for (key, value) in options {
            ep = ep.with_arbitrary_config(key, value);
        }
        ep
    }
    let options = &provider.options;
    Some(match provider.kind {
        ProviderKind::Cpu => return None,
        ProviderKind::Cuda => with_options(ep::CUDA::default(), options).build(),
        ProviderKind::TensorRt => with_options(ep::TensorRT::default(), options).build(),
        ProviderKind::OpenVino => with_options(ep::OpenVINO::default(), options).build(),
        ProviderKind::Rocm => with_options(ep::ROCm::default(), options).build(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked_by_name() {
        let mut options = BTreeMap::new();
        options.insert("trt_fp16_enable".to_string(), "1".to_string());
        assert!(check_options(ProviderKind::TensorRt, &options).is_ok());
        let err = check_options(ProviderKind::Cuda, &options).unwrap_err();
        assert!(
            err.contains("'trt_fp16_enable'") && err.contains("device_id"),
            "{err}"
        );
        let err = check_options(ProviderKind::Cpu, &options).unwrap_err();
        assert!(err.contains("takes no options"), "{err}");
    }
}
