//! `config.yaml` values with more than one spelling: a batch size or a list
//! of them, milliseconds as an integer or a fraction, execution providers
//! with options written as strings, numbers or booleans. Problems are serde
//! errors, so they carry the line and column of the value.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

use crate::backend::ort::check_options;
use crate::backend::{ExecutionProvider, ProviderKind};

/// `preferred_batch_size: 8` or `preferred_batch_size: [4, 8]`.
pub fn batch_sizes<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<usize>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(usize),
        Many(Vec<usize>),
    }
    match OneOrMany::deserialize(deserializer) {
        Ok(OneOrMany::One(size)) => Ok(vec![size]),
        Ok(OneOrMany::Many(sizes)) => Ok(sizes),
        Err(_) => Err(D::Error::custom(
            "preferred_batch_size must be a positive integer or a list of them",
        )),
    }
}

/// Milliseconds, integer or fractional (`0.5` = 500 µs), more than zero.
pub fn millis<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
    let ms = f64::deserialize(deserializer)?;
    if !ms.is_finite() || ms <= 0.0 || ms > 86_400_000.0 {
        return Err(D::Error::custom(format!(
            "max_queue_delay_ms must be more than 0 and at most one day, got {ms}"
        )));
    }
    Ok(Some(Duration::from_secs_f64(ms / 1000.0)))
}

/// An option value as written; passed to ONNX Runtime as a string.
#[derive(Deserialize)]
#[serde(untagged)]
enum OptionValue {
    Text(String),
    Flag(bool),
    Integer(i64),
    Number(f64),
}

impl OptionValue {
    fn into_string(self, kind: ProviderKind) -> String {
        match self {
            Self::Text(text) => text,
            // ONNX Runtime's providers read booleans as "1" / "0", except
            // OpenVINO, which wants "true" / "false".
            Self::Flag(flag) if kind == ProviderKind::OpenVino => flag.to_string(),
            Self::Flag(flag) => if flag { "1" } else { "0" }.to_string(),
            Self::Integer(n) => n.to_string(),
            Self::Number(x) => x.to_string(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderEntry {
    name: ProviderKind,
    #[serde(default)]
    options: BTreeMap<String, OptionValue>,
}

/// `execution_providers: [{name: cuda, options: {device_id: 0}}, {name: cpu}]`:
/// at least one, each at most once, options known to the provider.
pub fn providers<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<ExecutionProvider>, D::Error> {
    let entries = Vec::<ProviderEntry>::deserialize(deserializer)?;
    if entries.is_empty() {
        return Err(D::Error::custom(
            "execution_providers must name at least one provider",
        ));
    }
    let mut providers: Vec<ExecutionProvider> = Vec::with_capacity(entries.len());
    for entry in entries {
        if providers.iter().any(|p| p.kind == entry.name) {
            return Err(D::Error::custom(format!(
                "execution provider {} is listed twice",
                entry.name
            )));
        }
        let options = entry
            .options
            .into_iter()
            .map(|(key, value)| (key, value.into_string(entry.name)))
            .collect();
        check_options(entry.name, &options).map_err(D::Error::custom)?;
        providers.push(ExecutionProvider {
            kind: entry.name,
            options,
        });
    }
    Ok(providers)
}

#[cfg(test)]
mod tests {
    use crate::backend::ProviderKind;
    use crate::config::ModelConfig;

    #[test]
    fn booleans_are_spelt_as_each_provider_reads_them() {
        let config = ModelConfig::parse(
            "execution_providers: [{name: openvino, options: {enable_qdq_optimizer: true}}, \
             {name: rocm, options: {enable_hip_graph: true}}]\n",
        )
        .unwrap();
        let providers = &config.execution_providers;
        assert_eq!(providers[0].kind, ProviderKind::OpenVino);
        assert_eq!(providers[0].options["enable_qdq_optimizer"], "true");
        assert_eq!(providers[1].options["enable_hip_graph"], "1");
    }

    #[test]
    fn bad_batch_sizes_are_reported_with_position() {
        let err = ModelConfig::parse("max_batch_size: 8\ndynamic_batching: {preferred_batch_size: [a]}\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("preferred_batch_size") && err.contains("line 2"),
            "{err}"
        );
    }
}
