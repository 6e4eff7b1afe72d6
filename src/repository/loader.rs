//! Turns a scan of the repository into the next snapshot. A reload is a diff:
//! versions whose files and settings are unchanged are reused, new or changed
//! ones are loaded and warmed on a blocking thread before they take traffic,
//! and a version that fails to load never replaces a good one.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::scan::{FileStamp, ModelOnDisk, RepositoryScan, VersionOnDisk, scan};
use super::snapshot::{ModelState, Snapshot};
use crate::config::{ModelCatalog, ModelConfig, RouteTable, VersionPolicy, parse_routes};
use crate::model::{IdleWait, ModelVersion, VersionKey};
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
    /// Why the routes file was rejected, if it was (the previous routes stay).
    pub routes_error: Option<String>,
}

/// Owns the bookkeeping between reloads. Only the reload task holds one.
pub struct Loader {
    runtime: OnnxRuntime,
    /// How the session threads of every version wait for work.
    idle_wait: IdleWait,
    root: PathBuf,
    routes_file: Option<PathBuf>,
    loaded: HashMap<VersionKey, Loaded>,
    failed: HashMap<VersionKey, Failed>,
    /// The last valid `config.yaml` of each model, kept in force when an edit breaks it.
    good_configs: HashMap<String, ModelConfig>,
    /// The last config error reported per model, so a broken file is logged once.
    config_errors: HashMap<String, String>,
    /// The routes in force: the last routes file that parsed and validated.
    routes: Arc<RouteTable>,
    /// The routes file's last text (or error), so each change is logged once.
    routes_seen: Option<String>,
    /// Why the current routes file is rejected, if it is.
    routes_error: Option<String>,
}

impl Loader {
    pub fn new(runtime: OnnxRuntime, root: PathBuf, routes_file: Option<PathBuf>) -> Self {
        Self {
            runtime,
            idle_wait: IdleWait::default(),
            root,
            routes_file,
            loaded: HashMap::new(),
            failed: HashMap::new(),
            good_configs: HashMap::new(),
            config_errors: HashMap::new(),
            routes: Arc::new(RouteTable::new()),
            routes_seen: None,
            routes_error: None,
        }
    }

    /// Sets how the session threads of versions loaded from now on wait for
    /// work (the default always parks).
    pub fn with_idle_wait(mut self, idle_wait: IdleWait) -> Self {
        self.idle_wait = idle_wait;
        self
    }

    /// Scans the repository and builds the next snapshot, loading what changed.
    pub async fn reload(&mut self) -> std::io::Result<ReloadOutcome> {
        let root = self.root.clone();
        let routes_path = self.routes_path();
        let (scan, routes_text) = tokio::task::spawn_blocking(move || {
            let scan = scan(&root, Some(&routes_path));
            let routes_text = std::fs::read_to_string(&routes_path);
            scan.map(|scan| (scan, routes_text))
        })
        .await
        .map_err(std::io::Error::other)??;
        let RepositoryScan { models, problems } = scan;

        // Routes first: the versions they name stay loaded whatever the policy.
        let routes = self.reload_routes(routes_text, &models);
        let pinned = pinned_versions(&routes);
        let mut unsettled = false;
        let mut states = BTreeMap::new();
        for (name, on_disk) in &models {
            let pins = pinned.get(name.as_str()).cloned().unwrap_or_default();
            let (state, model_unsettled) = self.reload_model(name, on_disk, &pins).await;
            unsettled |= model_unsettled;
            states.insert(name.clone(), state);
        }
        self.forget_missing(&states);
        Ok(ReloadOutcome {
            snapshot: Snapshot {
                models: states,
                routes,
                initial_load_done: true,
            },
            unsettled,
            problems,
            routes_error: self.routes_error.clone(),
        })
    }

    /// The routes file: the one configured, else `routes.yaml` in the repository.
    fn routes_path(&self) -> PathBuf {
        self.routes_file
            .clone()
            .unwrap_or_else(|| self.root.join("routes.yaml"))
    }

    /// Applies the routes file if it parses and validates; otherwise the
    /// routes in force stay, and the error is logged and counted once.
    fn reload_routes(
        &mut self,
        text: std::io::Result<String>,
        models: &BTreeMap<String, ModelOnDisk>,
    ) -> Arc<RouteTable> {
        let path = self.routes_path();
        let parsed = match text {
            Ok(text) => parse_routes(&text, &Catalog(models)).map(|table| (text, table)),
            // Without --routes, a repository without routes.yaml simply has no routes.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && self.routes_file.is_none() => {
                Ok((String::new(), RouteTable::new()))
            }
            Err(e) => Err(format!("cannot read: {e}")),
        };
        let seen = match &parsed {
            Ok((text, _)) => text.clone(),
            Err(error) => error.clone(),
        };
        let changed = self.routes_seen.as_ref() != Some(&seen);
        self.routes_seen = Some(seen);
        let file = path.display().to_string();
        match parsed {
            Ok((_, table)) => {
                if changed && (*self.routes != table || !table.is_empty()) {
                    tracing::info!(file = %file, routes = table.len(), "routes loaded");
                    metrics::counter!(metric::CONFIG_RELOADS, "file" => file, "outcome" => "ok").increment(1);
                    publish_route_weights(&self.routes, &table);
                }
                self.routes = Arc::new(table);
                self.routes_error = None;
            }
            Err(error) => {
                self.routes_error = Some(format!("{file}: {error}"));
                if changed {
                    tracing::error!(file = %file, %error, "routes file rejected; the previous routes stay in force");
                    metrics::counter!(metric::CONFIG_RELOADS, "file" => file, "outcome" => "failure")
                        .increment(1);
                }
            }
        }
        self.routes.clone()
    }

    async fn reload_model(
        &mut self,
        name: &str,
        on_disk: &ModelOnDisk,
        pinned: &BTreeSet<u64>,
    ) -> (ModelState, bool) {
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
        let mut policy_ready = 0;
        let pinned_on_disk = pinned.iter().filter(|v| on_disk.versions.contains_key(v));
        let policy_done = |ready: usize| ready >= wanted_ready;
        let queue: Vec<(u64, bool)> = candidates
            .into_iter()
            .map(|v| (v, true))
            .chain(pinned_on_disk.map(|&v| (v, false)))
            .collect();
        for (version, by_policy) in queue {
            if by_policy && policy_done(policy_ready) {
                continue;
            }
            if state.ready.contains_key(&version) || state.unavailable.contains_key(&version) {
                continue;
            }
            let key = VersionKey {
                model: name.to_string(),
                version,
            };
            let file = &on_disk.versions[&version];
            match self.reload_version(&key, file, &config).await {
                VersionResult::Ready(loaded) => {
                    state.ready.insert(version, loaded);
                    policy_ready += usize::from(by_policy);
                }
                VersionResult::Unavailable(reason) => {
                    state.unavailable.insert(version, reason);
                }
                VersionResult::Unsettled(previous) => {
                    unsettled = true;
                    match previous {
                        Some(loaded) => {
                            state.ready.insert(version, loaded);
                            policy_ready += usize::from(by_policy);
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
        let idle_wait = self.idle_wait.clone();
        let result = tokio::task::spawn_blocking(move || {
            ModelVersion::load(&runtime, load_key, &path, &load_config, &idle_wait)
        })
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

/// The repository as a scan found it, for validating routes.
struct Catalog<'a>(&'a BTreeMap<String, ModelOnDisk>);

impl ModelCatalog for Catalog<'_> {
    fn has_model(&self, model: &str) -> bool {
        self.0.contains_key(model)
    }

    fn has_version(&self, model: &str, version: u64) -> bool {
        self.0
            .get(model)
            .is_some_and(|m| m.versions.contains_key(&version))
    }
}

/// Versions that routes name explicitly, per model: kept loaded whatever the
/// version policy says.
fn pinned_versions(routes: &RouteTable) -> HashMap<&str, BTreeSet<u64>> {
    let mut pinned: HashMap<&str, BTreeSet<u64>> = HashMap::new();
    for route in routes.values() {
        let targets = route.targets.iter().map(|t| (t.model.as_str(), t.version));
        let shadow = route.shadow.iter().map(|s| (s.model.as_str(), s.version));
        for (model, version) in targets.chain(shadow) {
            if let Some(version) = version {
                pinned.entry(model).or_default().insert(version);
            }
        }
    }
    pinned
}

/// Sets `switchyard_route_weight` for the new table; targets that left are set to 0.
fn publish_route_weights(old: &RouteTable, new: &RouteTable) {
    let gauge = |route: &str, target: &crate::routing::Target| metrics::gauge!(metric::ROUTE_WEIGHT, "route" => route.to_string(), "model" => target.model.clone(), "version" => target.version_label());
    for (name, route) in old {
        for target in &route.targets {
            gauge(name, target).set(0.0);
        }
    }
    for (name, route) in new {
        for target in &route.targets {
            gauge(name, target).set(f64::from(target.weight));
        }
    }
}
