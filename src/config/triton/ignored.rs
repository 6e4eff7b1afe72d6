//! Which fields of a Triton `config.pbtxt` Switchyard honours, and the list
//! of those a file sets that it does not: every set field is either read,
//! refused (`mod.rs`), or reported here, never dropped without a word.

use serde_json::Value;

/// Fields read as a whole (dotted paths; a repeated field's elements share
/// the path). Their parents are walked field by field.
const HONOURED: &[&str] = &[
    "name",
    "platform",
    "backend",
    "max_batch_size",
    "version_policy",
    "default_model_filename",
    "input.name",
    "input.data_type",
    "input.dims",
    "output.name",
    "output.data_type",
    "output.dims",
    "instance_group.name",
    "instance_group.kind",
    "instance_group.count",
    "instance_group.gpus",
    "dynamic_batching.preferred_batch_size",
    "dynamic_batching.max_queue_delay_microseconds",
    "dynamic_batching.default_queue_policy.max_queue_size",
    "dynamic_batching.default_queue_policy.default_timeout_microseconds",
    "optimization.graph.level",
    "optimization.execution_accelerators.gpu_execution_accelerator",
    "optimization.execution_accelerators.cpu_execution_accelerator",
    "model_warmup.name",
    "model_warmup.inputs.zero_data",
];

/// Map fields: their keys are names, not fields; each value is walked.
const MAPS: &[&str] = &["model_warmup.inputs"];

/// `parameters` keys read on every instance kind (Triton's ONNX Runtime
/// backend names).
pub const PARAMETERS: &[&str] = &[
    "intra_op_thread_count",
    "inter_op_thread_count",
    "execution_mode",
    "enable_mem_arena",
    "enable_mem_pattern",
];

/// `parameters` keys that configure the CUDA provider (Triton's deprecated
/// spelling), read with `KIND_GPU` instances only.
pub const CUDA_PARAMETERS: &[&str] = &[
    "cudnn_conv_algo_search",
    "gpu_mem_limit",
    "arena_extend_strategy",
    "do_copy_in_default_stream",
];

/// The set fields of `config` (the parsed file as JSON, unset fields left
/// out) that are not honoured, sorted, each once. `gpu` says whether the
/// CUDA parameters apply.
pub fn fields(config: &Value, gpu: bool) -> Vec<String> {
    let mut found = Vec::new();
    walk(config, "", &mut found);
    if let Some(Value::Object(parameters)) = config.get("parameters") {
        for key in parameters.keys() {
            let read = PARAMETERS.contains(&key.as_str()) || (gpu && CUDA_PARAMETERS.contains(&key.as_str()));
            if !read {
                let why = if CUDA_PARAMETERS.contains(&key.as_str()) {
                    " (CUDA only; instances are not KIND_GPU)"
                } else {
                    ""
                };
                found.push(format!("parameters.{key}{why}"));
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

fn walk(value: &Value, path: &str, found: &mut Vec<String>) {
    match value {
        Value::Array(items) => items.iter().for_each(|item| walk(item, path, found)),
        // A map's keys are names: its values are the messages at `path`.
        Value::Object(entries) if MAPS.contains(&path) => {
            entries.values().for_each(|entry| walk_fields(entry, path, found));
        }
        _ => walk_fields(value, path, found),
    }
}

fn walk_fields(value: &Value, path: &str, found: &mut Vec<String>) {
    // A scalar at a walked path: nothing below it to report.
    let Value::Object(fields) = value else {
        return;
    };
    for (name, field) in fields {
        let child = if path.is_empty() {
            name.clone()
        } else {
            format!("{path}.{name}")
        };
        if child == "parameters" || HONOURED.contains(&child.as_str()) {
            continue;
        }
        if is_parent(&child) {
            walk(field, &child, found);
        } else {
            found.push(child);
        }
    }
}

/// Whether some honoured field lies below `path`.
fn is_parent(path: &str) -> bool {
    HONOURED.iter().chain(MAPS).any(|field| {
        field.len() > path.len() && field.starts_with(path) && field.as_bytes()[path.len()] == b'.'
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_set_fields_that_are_not_read() {
        let config = serde_json::json!({
            "name": "m",
            "max_batch_size": 8,
            "input": [{"name": "a", "data_type": "TYPE_FP32", "dims": [4], "format": "FORMAT_NCHW"}],
            "dynamic_batching": {"preserve_ordering": true, "max_queue_delay_microseconds": 100,
                "default_queue_policy": {"timeout_action": "DELAY", "max_queue_size": 4}},
            "parameters": {"intra_op_thread_count": {"string_value": "2"},
                "share_session_between_instances": {"string_value": "1"},
                "gpu_mem_limit": {"string_value": "1"}},
            "model_warmup": [{"name": "w", "batch_size": 1,
                "inputs": {"a": {"zero_data": true, "dims": [4]}}}],
            "response_cache": {"enable": true},
        });
        assert_eq!(
            fields(&config, false),
            vec![
                "dynamic_batching.default_queue_policy.timeout_action",
                "dynamic_batching.preserve_ordering",
                "input.format",
                "model_warmup.batch_size",
                "model_warmup.inputs.dims",
                "parameters.gpu_mem_limit (CUDA only; instances are not KIND_GPU)",
                "parameters.share_session_between_instances",
                "response_cache",
            ]
        );
        assert!(!fields(&config, true).iter().any(|f| f.contains("gpu_mem_limit")));
    }
}
