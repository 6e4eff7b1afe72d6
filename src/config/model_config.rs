//! Per-model settings: the keys of `<model>/config.yaml`, which is also what
//! a Triton `config.pbtxt` is turned into (`config::triton`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::declared_io::DeclaredIo;
use super::yaml_values;
use crate::backend::{ExecutionMode, ExecutionProvider, GraphOptimization, SessionSettings};
use crate::model::{BatchPolicy, VersionSettings};

/// Why a model's configuration file is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Not of the expected shape (unknown key or field, wrong type); the
    /// message has line and column.
    #[error("{0}")]
    Syntax(String),
    /// Well-formed, but a value is out of range.
    #[error("{0}")]
    Invalid(String),
    /// Asks for something Switchyard does not do (a Triton ensemble, a
    /// sequence batcher, another backend).
    #[error("{0}")]
    Unsupported(String),
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
    /// Threads ONNX Runtime may use across operators (parallel execution).
    pub inter_op_threads: usize,
    /// ONNX Runtime's graph optimisation level.
    pub graph_optimization_level: GraphOptimization,
    /// Operators one after the other, or independent ones at once.
    pub execution_mode: ExecutionMode,
    /// ONNX Runtime's CPU memory arena; absent = its default (on).
    pub memory_arena: Option<bool>,
    /// ONNX Runtime's memory pattern planning; absent = its default (on).
    pub memory_pattern: Option<bool>,
    /// Execution providers in order of preference; every one must load.
    #[serde(deserialize_with = "yaml_values::providers")]
    pub execution_providers: Vec<ExecutionProvider>,
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
    /// `max_queue_delay_ms`: the longest a request may wait in the queue;
    /// absent = the default budget (`model::queue_budget`).
    #[serde(rename = "max_queue_delay_ms", deserialize_with = "yaml_values::millis")]
    pub queue_budget: Option<Duration>,
    /// The model file in each version directory (Triton's
    /// `default_model_filename`); `None` = `model.onnx`.
    #[serde(skip)]
    pub model_filename: Option<String>,
    /// Inputs and outputs a `config.pbtxt` declares, checked against the
    /// loaded model with [`super::check_declared_io`].
    #[serde(skip)]
    pub declared_io: Option<DeclaredIo>,
    /// Where these settings came from.
    #[serde(skip)]
    pub source: ConfigSource,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            instances: 1,
            intra_op_threads: 1,
            inter_op_threads: 1,
            graph_optimization_level: GraphOptimization::default(),
            execution_mode: ExecutionMode::default(),
            memory_arena: None,
            memory_pattern: None,
            execution_providers: vec![ExecutionProvider::cpu()],
            version_policy: VersionPolicy::default(),
            warmup: true,
            max_batch_size: 0,
            dynamic_batching: None,
            max_queue_size: 128,
            queue_budget: None,
            model_filename: None,
            declared_io: None,
            source: ConfigSource::default(),
        }
    }
}

/// The file a model's settings were read from, and what `check` reports
/// about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigSource {
    /// `config.yaml` or `config.pbtxt`; `None` = neither exists, defaults.
    pub file: Option<PathBuf>,
    /// A `config.pbtxt` that is not read because a `config.yaml` sits next
    /// to it (`config.yaml` wins).
    pub shadowed: Option<PathBuf>,
    /// Fields a `config.pbtxt` sets that Switchyard does not honour, as
    /// dotted paths (`dynamic_batching.preserve_ordering`), maybe with why.
    pub ignored: Vec<String>,
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
    /// Batch sizes to aim for (one number or a list); a batch is sent as
    /// soon as it reaches the largest.
    #[serde(deserialize_with = "yaml_values::batch_sizes")]
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
        // Triton's "0 = as many threads as cores" is for config.pbtxt only:
        // in config.yaml a 0 is more likely a slip than a wish.
        for (key, value) in [
            ("intra_op_threads", config.intra_op_threads),
            ("inter_op_threads", config.inter_op_threads),
        ] {
            if value == 0 {
                return Err(ConfigError::Invalid(format!("{key} must be at least 1")));
            }
        }
        config.validate().map_err(ConfigError::Invalid)?;
        Ok(config)
    }

    /// Reads a `config.yaml` at `path`; a missing file means all defaults.
    pub fn load(path: &Path) -> Result<Self, ConfigFileError> {
        let with_path = |error| ConfigFileError {
            path: path.to_path_buf(),
            error,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text).map(|c| c.read_from(path)).map_err(with_path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(with_path(ConfigError::Unreadable(e.to_string()))),
        }
    }

    /// These settings, noted as read from `path`.
    pub(super) fn read_from(mut self, path: &Path) -> Self {
        self.source.file = Some(path.to_path_buf());
        self
    }

    /// What a version of this model is loaded and run with.
    pub fn version_settings(&self) -> VersionSettings {
        VersionSettings {
            instances: self.instances,
            session: SessionSettings {
                intra_op_threads: self.intra_op_threads,
                inter_op_threads: self.inter_op_threads,
                graph_optimization: self.graph_optimization_level,
                execution_mode: self.execution_mode,
                memory_arena: self.memory_arena,
                memory_pattern: self.memory_pattern,
                execution_providers: self.execution_providers.clone(),
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
            queue_budget: self.queue_budget,
            statistics: true,
        }
    }

    /// The checks shared by `config.yaml` and `config.pbtxt`.
    pub(super) fn validate(&self) -> Result<(), String> {
        if self.instances == 0 {
            return Err("instances must be at least 1".into());
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
    use crate::backend::ProviderKind;

    #[test]
    fn empty_means_defaults() {
        assert_eq!(ModelConfig::parse("").unwrap(), ModelConfig::default());
        let settings = ModelConfig::default().version_settings();
        assert_eq!(settings.session, SessionSettings::default());
        assert_eq!(
            (
                settings.session.intra_op_threads,
                settings.session.inter_op_threads
            ),
            (1, 1)
        );
        assert_eq!(settings.queue_budget, None);
    }

    #[test]
    fn parses_every_key() {
        let config = ModelConfig::parse(
            "instances: 2\nintra_op_threads: 3\nversion_policy: {specific: [1, 3]}\nwarmup: false\n\
             max_batch_size: 16\ndynamic_batching: {max_queue_delay_us: 500, preferred_batch_size: [8]}\n\
             max_queue_size: 64\ninter_op_threads: 2\ngraph_optimization_level: extended\n\
             execution_mode: parallel\nmemory_arena: false\nmemory_pattern: true\nmax_queue_delay_ms: 250\n",
        )
        .unwrap();
        assert_eq!(config.instances, 2);
        assert_eq!(config.intra_op_threads, 3);
        assert_eq!(config.version_policy, VersionPolicy::Specific(vec![1, 3]));
        assert!(!config.warmup);
        assert_eq!(config.dynamic_batching.as_ref().unwrap().max_queue_delay_us, 500);
        let settings = config.version_settings();
        assert_eq!(settings.max_queue_size, 64);
        assert_eq!(settings.queue_budget, Some(Duration::from_millis(250)));
        let session = settings.session;
        assert_eq!(session.inter_op_threads, 2);
        assert_eq!(session.graph_optimization, GraphOptimization::Extended);
        assert_eq!(session.execution_mode, ExecutionMode::Parallel);
        assert_eq!(
            (session.memory_arena, session.memory_pattern),
            (Some(false), Some(true))
        );
        assert_eq!(session.execution_providers, vec![ExecutionProvider::cpu()]);
    }

    #[test]
    fn preferred_batch_size_is_a_number_or_a_list() {
        let one =
            ModelConfig::parse("max_batch_size: 8\ndynamic_batching: {preferred_batch_size: 4}\n").unwrap();
        assert_eq!(one.dynamic_batching.unwrap().preferred_batch_size, vec![4]);
        let many =
            ModelConfig::parse("max_batch_size: 8\ndynamic_batching: {preferred_batch_size: [2, 8]}\n")
                .unwrap();
        assert_eq!(many.version_settings().batching.unwrap().target_rows, 8);
        let err = ModelConfig::parse("max_batch_size: 8\ndynamic_batching: {preferred_batch_size: big}\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("preferred_batch_size"), "{err}");
    }

    #[test]
    fn execution_providers_in_order_with_options() {
        let config = ModelConfig::parse(
            "execution_providers:\n  - {name: tensorrt, options: {trt_fp16_enable: \"1\", trt_engine_cache_enable: true}}\n  \
             - {name: cuda, options: {device_id: 1}}\n  - {name: cpu}\n",
        )
        .unwrap();
        let kinds: Vec<_> = config.execution_providers.iter().map(|p| p.kind).collect();
        assert_eq!(
            kinds,
            [ProviderKind::TensorRt, ProviderKind::Cuda, ProviderKind::Cpu]
        );
        let trt = &config.execution_providers[0].options;
        assert_eq!(trt["trt_fp16_enable"], "1");
        assert_eq!(trt["trt_engine_cache_enable"], "1");
        assert_eq!(config.execution_providers[1].options["device_id"], "1");
        for (yaml, expected) in [
            (
                "execution_providers: [{name: cuda, options: {devic_id: 0}}]",
                "devic_id",
            ),
            ("execution_providers: [{name: vulkan}]", "vulkan"),
            ("execution_providers: []", "at least one"),
            ("execution_providers: [{name: cpu}, {name: cpu}]", "twice"),
            ("execution_providers: [{name: cpu, option: {}}]", "option"),
        ] {
            let err = ModelConfig::parse(yaml).unwrap_err().to_string();
            assert!(err.contains(expected), "{yaml}: {err}");
            assert!(err.contains("line 1"), "{yaml}: position expected: {err}");
        }
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
        let err = ModelConfig::parse("graph_optimization_level: max\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("max"), "{err}");
    }

    #[test]
    fn invalid_values_rejected() {
        assert!(matches!(
            ModelConfig::parse("instances: 0"),
            Err(ConfigError::Invalid(_))
        ));
        assert!(ModelConfig::parse("dynamic_batching: {max_queue_delay_us: 10}").is_err());
        assert!(ModelConfig::parse("version_policy: {latest: 0}").is_err());
        assert!(ModelConfig::parse("inter_op_threads: 0").is_err());
        assert!(ModelConfig::parse("max_queue_delay_ms: 0").is_err());
        let half = ModelConfig::parse("max_queue_delay_ms: 0.5").unwrap();
        assert_eq!(half.queue_budget, Some(Duration::from_micros(500)));
    }
}
