//! Turns a scan of the repository into the next snapshot. A reload is a diff:
//! versions whose files and settings are unchanged are reused, new or changed
//! ones are loaded and warmed on a blocking thread before they take traffic,
//! and a version that fails to load never replaces a good one.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::scan::{FileStamp, ModelOnDisk, RepositoryScan, VersionOnDisk, scan};
use super::snapshot::{ModelState, Snapshot};
use crate::config::{ModelConfig, VersionPolicy};
use crate::model::{ModelVersion, VersionKey};
use crate::onnx_runtime::OnnxRuntime;
use crate::telemetry::metric;

/// A model file modified more recently than this may still be being written:
/// it is left alone until it has been quiet that long.
pub const SETTLE_TIME: Duration = Duration::from_millis(500);

/// A version that is serving, and what it was loaded from.
struct Loaded {
    stamp: FileStamp,
    config: ModelConfig,
    version: Arc<ModelVersion>,
}

/// A version that failed to load; not retried until its files or settings change.
struct Failed {
    stamp: FileStamp,
    config: ModelConfig,
    reason: String,
}

/// What one reload produced.
pub struct ReloadOutcome {
    pub snapshot: Snapshot,
    /// Some file was still changing: reload again after [`SETTLE_TIME`].
    pub unsettled: bool,
    /// Layout problems found by the scan.
    pub problems: Vec<String>,
}

/// Owns the bookkeeping between reloads. Only the reload task holds one.
pub struct Loader {
    runtime: OnnxRuntime,
    root: PathBuf,
    routes_file: Option<PathBuf>,
    loaded: HashMap<VersionKey, Loaded>,
    failed: HashMap<VersionKey, Failed>,
    /// The last valid `config.yaml` of each model, kept in force when an edit breaks it.
    good_configs: HashMap<String, ModelConfig>,
    /// The last config error reported per model, so a broken file is logged once.
    config_errors: HashMap<String, String>,
}

impl Loader {
    pub fn new(runtime: OnnxRuntime, root: PathBuf, routes_file: Option<PathBuf>) -> Self {
        Self {
            runtime,
            root,
            routes_file,
            loaded: HashMap::new(),
            failed: HashMap::new(),
            good_configs: HashMap::new(),
            config_errors: HashMap::new(),
        }
    }

    /// Scans the repository and builds the next snapshot, loading what changed.
    pub async fn reload(&mut self) -> std::io::Result<ReloadOutcome> {
        let root = self.root.clone();
        let routes_file = self.routes_file.clone();
        let scan = tokio::task::spawn_blocking(move || scan(&root, routes_file.as_deref()))
            .await
            .map_err(std::io::Error::other)??;
        let RepositoryScan { models, problems } = scan;

        let mut unsettled = false;
        let mut states = BTreeMap::new();
        for (name, on_disk) in &models {
            let (state, model_unsettled) = self.reload_model(name, on_disk).await;
            unsettled |= model_unsettled;
            states.insert(name.clone(), state);
        }
        self.forget_missing(&states);
        Ok(ReloadOutcome {
            snapshot: Snapshot {
                models: states,
                initial_load_done: true,
            },
            unsettled,
            problems,
        })
    }

    async fn reload_model(&mut self, name: &str, on_disk: &ModelOnDisk) -> (ModelState, bool) {
        let mut state = ModelState::default();
        let Some(config) = self.effective_config(name, on_disk) else {
            let reason = self.config_errors.get(name).cloned().unwrap_or_default();
            for &version in on_disk.versions.keys() {
                state
                    .unavailable
                    .insert(version, format!("invalid config.yaml: {reason}"));
            }
            return (state, false);
        };

        let mut unsettled = false;
        let available: Vec<u64> = on_disk.versions.keys().copied().collect();
        // `latest: N` means the N highest versions that actually load: a broken
        // upload of version N+1 leaves version N serving.
        let (candidates, wanted_ready) = match &config.version_policy {
            VersionPolicy::Latest(n) => (available.iter().rev().copied().collect::<Vec<_>>(), *n),
            policy => (policy.select(&available), usize::MAX),
        };
        for version in candidates {
            if state.ready.len() >= wanted_ready {
                break;
            }
            let key = VersionKey {
                model: name.to_string(),
                version,
            };
            let file = &on_disk.versions[&version];
            match self.reload_version(&key, file, &config).await {
                VersionResult::Ready(loaded) => {
                    state.ready.insert(version, loaded);
                }
                VersionResult::Unavailable(reason) => {
                    state.unavailable.insert(version, reason);
                }
                VersionResult::Unsettled(previous) => {
                    unsettled = true;
                    match previous {
                        Some(loaded) => {
                            state.ready.insert(version, loaded);
                        }
                        None => {
                            state
                                .unavailable
                                .insert(version, "model file is still being written".into());
                        }
                    }
                }
            }
        }
        (state, unsettled)
    }

    /// The config to use for `name`: the file's if valid, else the last valid
    /// one (a broken edit never replaces a working config), else none.
    fn effective_config(&mut self, name: &str, on_disk: &ModelOnDisk) -> Option<ModelConfig> {
        match &on_disk.config {
            Ok(config) => {
                let recovered = self.config_errors.remove(name).is_some();
                let changed = self.good_configs.get(name).is_some_and(|old| old != config);
                if recovered || changed {
                    count_config_reload(&on_disk.dir, "ok");
                }
                self.good_configs.insert(name.to_string(), config.clone());
                Some(config.clone())
            }
            Err(error) => {
                if self.config_errors.get(name) != Some(error) {
                    tracing::error!(model = name, %error, "invalid config.yaml; keeping the previous settings");
                    count_config_reload(&on_disk.dir, "failure");
                    self.config_errors.insert(name.to_string(), error.clone());
                }
                self.good_configs.get(name).cloned()
            }
        }
    }

    async fn reload_version(
        &mut self,
        key: &VersionKey,
        file: &VersionOnDisk,
        config: &ModelConfig,
    ) -> VersionResult {
        if let Some(loaded) = self.loaded.get(key)
            && loaded.stamp == file.stamp
            && loaded.config == *config
        {
            return VersionResult::Ready(loaded.version.clone());
        }
        if let Some(failed) = self.failed.get(key)
            && failed.stamp == file.stamp
            && failed.config == *config
        {
            return self.keep_previous_or(key, failed.reason.clone());
        }
        let previous = self.loaded.get(key).map(|l| l.version.clone());
        if recently_modified(&file.stamp) {
            return VersionResult::Unsettled(previous);
        }

        let runtime = self.runtime.clone();
        let path = file.model_file.clone();
        let load_key = key.clone();
        let load_config = config.clone();
        let result =
            tokio::task::spawn_blocking(move || ModelVersion::load(&runtime, load_key, &path, &load_config))
                .await
                .unwrap_or_else(|e| Err(format!("load task failed: {e}")));

        // The file changed while it was being read: whatever we got is not final.
        if FileStamp::of(&file.model_file) != Some(file.stamp) {
            return VersionResult::Unsettled(previous);
        }
        let labels = [("model", key.model.clone()), ("version", key.version.to_string())];
        match result {
            Ok(version) => {
                metrics::counter!(
                    metric::MODEL_LOADS,
                    &[
                        labels[0].clone(),
                        labels[1].clone(),
                        ("outcome", "ok".to_string())
                    ]
                )
                .increment(1);
                tracing::info!(model = %key.model, version = key.version, path = %file.model_file.display(),
                    inputs = version.inputs.len(), outputs = version.outputs.len(), "model version loaded");
                let version = Arc::new(version);
                self.failed.remove(key);
                self.loaded.insert(
                    key.clone(),
                    Loaded {
                        stamp: file.stamp,
                        config: config.clone(),
                        version: version.clone(),
                    },
                );
                VersionResult::Ready(version)
            }
            Err(error) => {
                metrics::counter!(
                    metric::MODEL_LOADS,
                    &[
                        labels[0].clone(),
                        labels[1].clone(),
                        ("outcome", "failure".to_string())
                    ]
                )
                .increment(1);
                tracing::error!(model = %key.model, version = key.version, path = %file.model_file.display(),
                    %error, serving_previous = previous.is_some(), "model version failed to load");
                self.failed.insert(
                    key.clone(),
                    Failed {
                        stamp: file.stamp,
                        config: config.clone(),
                        reason: error.clone(),
                    },
                );
                self.keep_previous_or(key, error)
            }
        }
    }

    /// After a failed load: the version loaded earlier from older files keeps
    /// serving if there is one.
    fn keep_previous_or(&self, key: &VersionKey, reason: String) -> VersionResult {
        match self.loaded.get(key) {
            Some(loaded) => VersionResult::Ready(loaded.version.clone()),
            None => VersionResult::Unavailable(reason),
        }
    }

    /// Drops bookkeeping for versions that left the snapshot, so their memory
    /// is freed once their last request ends, and publishes readiness gauges.
    fn forget_missing(&mut self, states: &BTreeMap<String, ModelState>) {
        self.loaded.retain(|key, loaded| {
            let keep = states
                .get(&key.model)
                .and_then(|s| s.ready.get(&key.version))
                .is_some_and(|v| Arc::ptr_eq(v, &loaded.version));
            if !keep {
                set_ready_gauge(key, 0.0);
                tracing::info!(model = %key.model, version = key.version, "model version unloaded; draining");
            }
            keep
        });
        self.failed.retain(|key, _| {
            states.get(&key.model).is_some_and(|s| {
                s.unavailable.contains_key(&key.version) || s.ready.contains_key(&key.version)
            })
        });
        for (model, state) in states {
            for &version in state.ready.keys() {
                set_ready_gauge(
                    &VersionKey {
                        model: model.clone(),
                        version,
                    },
                    1.0,
                );
            }
            for &version in state.unavailable.keys() {
                set_ready_gauge(
                    &VersionKey {
                        model: model.clone(),
                        version,
                    },
                    0.0,
                );
            }
        }
        self.good_configs.retain(|model, _| states.contains_key(model));
        self.config_errors.retain(|model, _| states.contains_key(model));
    }
}

enum VersionResult {
    Ready(Arc<ModelVersion>),
    Unavailable(String),
    /// Still being written; carries the older loaded copy, if any, to keep serving.
    Unsettled(Option<Arc<ModelVersion>>),
}

fn recently_modified(stamp: &FileStamp) -> bool {
    stamp
        .modified
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .is_some_and(|age| age < SETTLE_TIME)
}

fn set_ready_gauge(key: &VersionKey, value: f64) {
    metrics::gauge!(metric::MODEL_READY, "model" => key.model.clone(), "version" => key.version.to_string())
        .set(value);
}

fn count_config_reload(model_dir: &std::path::Path, outcome: &'static str) {
    let file = model_dir.join(super::scan::CONFIG_FILE).display().to_string();
    metrics::counter!(metric::CONFIG_RELOADS, "file" => file, "outcome" => outcome).increment(1);
}
