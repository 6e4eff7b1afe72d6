//! Per-model settings from `<model>/config.yaml`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::backend::SessionSettings;
use crate::model::{BatchPolicy, VersionSettings};

/// Why a `config.yaml` text is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Not YAML of the expected shape (unknown key, wrong type); the
    /// message has line and column.
    #[error("{0}")]
    Syntax(String),
    /// Well-formed, but a value is out of range.
    #[error("{0}")]
    Invalid(String),
    /// The file could not be read.
    #[error("{0}")]
    Unreadable(String),
}

/// A [`ConfigError`] with the file it is about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {error}", path.display())]
pub struct ConfigFileError {
    pub path: PathBuf,
    pub error: ConfigError,
}

/// Settings of one model; every key is optional and unknown keys are errors.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// ONNX Runtime sessions that run in parallel, each on its own thread.
    pub instances: usize,
    /// Threads ONNX Runtime may use inside one operator.
    pub intra_op_threads: usize,
    /// Which versions found on disk are served.
    pub version_policy: VersionPolicy,
    /// Run one request on dummy data before a version takes traffic.
    pub warmup: bool,
    /// Largest first dimension accepted; 0 = no batch dimension enforced.
    pub max_batch_size: usize,
    /// Merge concurrent requests into one run (needs `max_batch_size > 0`).
    pub dynamic_batching: Option<DynamicBatching>,
    /// Requests that may wait for a free instance before new ones are shed
    /// with RESOURCE_EXHAUSTED.
    pub max_queue_size: usize,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            instances: 1,
            intra_op_threads: 1,
            version_policy: VersionPolicy::default(),
            warmup: true,
            max_batch_size: 0,
            dynamic_batching: None,
            max_queue_size: 128,
        }
    }
}

/// Which versions of a model are loaded.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum VersionPolicy {
    /// The N highest versions.
    Latest(usize),
    /// Every version on disk (`all: true`).
    All(bool),
    /// Exactly these versions.
    Specific(Vec<u64>),
}

impl Default for VersionPolicy {
    fn default() -> Self {
        Self::Latest(1)
    }
}

impl VersionPolicy {
    /// The versions this policy selects out of those on disk (ascending input).
    pub fn select(&self, available: &[u64]) -> Vec<u64> {
        match self {
            Self::Latest(n) => available.iter().rev().take(*n).rev().copied().collect(),
            Self::All(true) => available.to_vec(),
            Self::All(false) => Vec::new(),
            Self::Specific(wanted) => available.iter().filter(|v| wanted.contains(v)).copied().collect(),
        }
    }
}

/// Dynamic batching knobs, named as in Triton.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DynamicBatching {
    /// Longest a request waits for others to join its batch.
    pub max_queue_delay_us: u64,
    /// Batch sizes to aim for; a batch is sent as soon as it reaches the largest.
    pub preferred_batch_size: Vec<usize>,
}

impl Default for DynamicBatching {
    fn default() -> Self {
        Self {
            max_queue_delay_us: 100,
            preferred_batch_size: Vec::new(),
        }
    }
}

impl ModelConfig {
    /// Parses and validates a `config.yaml` text; errors carry line and column.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let config: Self = serde_saphyr::from_str(text).map_err(|e| ConfigError::Syntax(e.to_string()))?;
        config.validate().map_err(ConfigError::Invalid)?;
        Ok(config)
    }

    /// Reads `path`; a missing file means all defaults.
    pub fn load(path: &Path) -> Result<Self, ConfigFileError> {
        let with_path = |error| ConfigFileError {
            path: path.to_path_buf(),
            error,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text).map_err(with_path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(with_path(ConfigError::Unreadable(e.to_string()))),
        }
    }

    /// What a version of this model is loaded and run with.
    pub fn version_settings(&self) -> VersionSettings {
        VersionSettings {
            instances: self.instances,
            session: SessionSettings {
                intra_op_threads: self.intra_op_threads,
                inter_op_threads: 1,
            },
            warmup: self.warmup,
            max_batch_size: self.max_batch_size,
            batching: self.dynamic_batching.as_ref().map(|batching| BatchPolicy {
                max_batch_size: self.max_batch_size,
                target_rows: batching
                    .preferred_batch_size
                    .iter()
                    .copied()
                    .max()
                    .unwrap_or(self.max_batch_size),
                max_delay: Duration::from_micros(batching.max_queue_delay_us),
            }),
            max_queue_size: self.max_queue_size,
            statistics: true,
        }
    }

    fn validate(&self) -> Result<(), String> {
        if self.instances == 0 {
            return Err("instances must be at least 1".into());
        }
        if self.intra_op_threads == 0 {
            return Err("intra_op_threads must be at least 1".into());
        }
        if self.max_queue_size == 0 {
            return Err("max_queue_size must be at least 1".into());
        }
        match &self.version_policy {
            VersionPolicy::Latest(0) => return Err("version_policy latest must be at least 1".into()),
            VersionPolicy::Specific(v) if v.is_empty() => {
                return Err("version_policy specific must name at least one version".into());
            }
            _ => {}
        }
        if self.dynamic_batching.is_some() && self.max_batch_size == 0 {
            return Err("dynamic_batching needs max_batch_size > 0".into());
        }
        if let Some(batching) = &self.dynamic_batching
            && let Some(&too_big) = batching
                .preferred_batch_size
                .iter()
                .find(|&&size| size == 0 || size > self.max_batch_size)
        {
            return Err(format!(
                "preferred_batch_size {too_big} must be between 1 and max_batch_size {}",
                self.max_batch_size
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_means_defaults() {
        assert_eq!(ModelConfig::parse("").unwrap(), ModelConfig::default());
    }

    #[test]
    fn parses_every_key() {
        let config = ModelConfig::parse(
            "instances: 2\nintra_op_threads: 3\nversion_policy: {specific: [1, 3]}\nwarmup: false\n\
             max_batch_size: 16\ndynamic_batching: {max_queue_delay_us: 500, preferred_batch_size: [8]}\n",
        )
        .unwrap();
        assert_eq!(config.instances, 2);
        assert_eq!(config.intra_op_threads, 3);
        assert_eq!(config.version_policy, VersionPolicy::Specific(vec![1, 3]));
        assert!(!config.warmup);
        assert_eq!(config.dynamic_batching.unwrap().max_queue_delay_us, 500);
    }

    #[test]
    fn policies_select() {
        let on_disk = [1, 2, 5];
        assert_eq!(VersionPolicy::Latest(1).select(&on_disk), vec![5]);
        assert_eq!(VersionPolicy::Latest(2).select(&on_disk), vec![2, 5]);
        assert_eq!(VersionPolicy::All(true).select(&on_disk), vec![1, 2, 5]);
        assert_eq!(VersionPolicy::Specific(vec![1, 3]).select(&on_disk), vec![1]);
        let parsed = ModelConfig::parse("version_policy: {all: true}").unwrap();
        assert_eq!(parsed.version_policy, VersionPolicy::All(true));
    }

    #[test]
    fn unknown_key_rejected_with_position() {
        let err = ModelConfig::parse("instances: 1\ninstancez: 2\n").unwrap_err();
        assert!(matches!(err, ConfigError::Syntax(_)), "{err:?}");
        let err = err.to_string();
        assert!(err.contains("instancez"), "{err}");
        assert!(err.contains('2'), "line number expected: {err}");
    }

    #[test]
    fn invalid_values_rejected() {
        assert!(matches!(
            ModelConfig::parse("instances: 0"),
            Err(ConfigError::Invalid(_))
        ));
        assert!(ModelConfig::parse("dynamic_batching: {max_queue_delay_us: 10}").is_err());
        assert!(ModelConfig::parse("version_policy: {latest: 0}").is_err());
    }
}
