//! Turns a scan of the repository into the next snapshot. A reload is a diff:
//! versions whose files and settings are unchanged are reused, new or changed
//! ones are loaded and warmed on a blocking thread before they take traffic,
//! and a version that fails to load never replaces a good one.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::changes::Changes;
use super::clock::{Clock, SystemClock};
use super::config_state::ConfigState;
use super::rollouts::RolloutController;
use super::routes_state::{RoutesState, publish_route_weights};
use super::scan::{FileStamp, ModelOnDisk, VersionOnDisk};
use super::snapshot::{ModelState, Snapshot, Unavailable};
use crate::backend::Backend;
use crate::config::{ModelCatalog, ModelConfig, RoutesError, VersionPolicy};
use crate::model::{IdleWait, LoadError, ModelVersion, VersionKey, VersionSettings};
use crate::routing::RouteTable;
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
    error: LoadError,
}

/// What one reload produced.
pub struct ReloadOutcome {
    pub snapshot: Snapshot,
    /// Some file was still changing: reload again after [`SETTLE_TIME`].
    pub unsettled: bool,
    /// The models with files still changing.
    pub unsettled_models: BTreeSet<String>,
    /// Layout problems found by the scan.
    pub problems: Vec<String>,
    /// Why the routes file was rejected, if it was (the previous routes stay).
    pub routes_error: Option<RoutesError>,
}

/// Owns the bookkeeping between reloads. Only the reload task holds one.
pub struct Loader {
    backend: Arc<dyn Backend>,
    clock: Arc<dyn Clock>,
    /// How the session threads of every version wait for work.
    idle_wait: IdleWait,
    /// Whether versions keep Triton's statistics.
    statistics: bool,
    root: PathBuf,
    loaded: HashMap<VersionKey, Loaded>,
    failed: HashMap<VersionKey, Failed>,
    configs: ConfigState,
    routes: RoutesState,
    /// The repository as last scanned (a partial reload rescans only the
    /// models that changed), its layout problems as of the last full scan,
    /// the model states last published and the versions routes pinned then.
    scanned: BTreeMap<String, ModelOnDisk>,
    problems: Vec<String>,
    states: BTreeMap<String, Arc<ModelState>>,
    pins: HashMap<String, BTreeSet<u64>>,
    rollouts: RolloutController,
    /// The routes last published (the rollouts' weights applied).
    in_force: Arc<RouteTable>,
}

/// What became of one wanted version in this reload.
enum VersionResult {
    Ready(Arc<ModelVersion>),
    Unavailable(Unavailable),
    /// Still being written; carries the older loaded copy, if any, to keep serving.
    Unsettled(Option<Arc<ModelVersion>>),
}

impl Loader {
    pub fn new(backend: Arc<dyn Backend>, root: PathBuf, routes_file: Option<PathBuf>) -> Self {
        Self {
            backend,
            clock: Arc::new(SystemClock),
            idle_wait: IdleWait::default(),
            statistics: true,
            routes: RoutesState::new(routes_file, root.join("routes.yaml")),
            root,
            loaded: HashMap::new(),
            failed: HashMap::new(),
            configs: ConfigState::default(),
            scanned: BTreeMap::new(),
            problems: Vec::new(),
            states: BTreeMap::new(),
            pins: HashMap::new(),
            rollouts: RolloutController::default(),
            in_force: Arc::new(RouteTable::new()),
        }
    }

    /// Where rolled-back rollouts are remembered across restarts.
    pub fn with_state_dir(mut self, state_dir: Option<PathBuf>) -> Self {
        self.rollouts = RolloutController::new(state_dir);
        self
    }

    /// Checks the rollouts that are due; a new snapshot (models as in
    /// `current`, routes as the rollouts now want them) when anything changed.
    pub fn check_rollouts(&mut self, now: Instant, current: &Snapshot) -> Option<Snapshot> {
        if self.rollouts.is_empty() {
            return None;
        }
        let before: Vec<_> = self.rollouts.live().values().map(|l| l.state).collect();
        self.rollouts.check(now);
        let live = self.rollouts.live();
        if live.values().map(|l| l.state).eq(before) {
            return None;
        }
        let routes = self.routes_in_force(&self.routes.configured());
        Some(Snapshot {
            models: current.models.clone(),
            routes,
            rollouts: live,
            initial_load_done: current.initial_load_done,
        })
    }

    /// The configured routes with the rollouts' weights; publishes the weights.
    fn routes_in_force(&mut self, configured: &RouteTable) -> Arc<RouteTable> {
        let effective = Arc::new(self.rollouts.effective(configured));
        if *effective != *self.in_force {
            publish_route_weights(&self.in_force, &effective);
            self.in_force = effective.clone();
        }
        effective
    }

    /// Sets how the session threads of versions loaded from now on wait for
    /// work (the default always parks).
    pub fn with_idle_wait(mut self, idle_wait: IdleWait) -> Self {
        self.idle_wait = idle_wait;
        self
    }

    /// Whether versions loaded from now on keep Triton's statistics.
    pub fn with_statistics(mut self, statistics: bool) -> Self {
        self.statistics = statistics;
        self
    }

    /// Sets the clock that decides whether a file has settled.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Scans the whole repository and builds the next snapshot, loading what changed.
    pub async fn reload(&mut self) -> std::io::Result<ReloadOutcome> {
        self.reload_changes(&Changes::everything()).await
    }

    /// Builds the next snapshot after `changes`: only the models named there
    /// are scanned again (all with "everything"); the others keep their
    /// state unless the routes now pin other versions of them.
    pub async fn reload_changes(&mut self, changes: &Changes) -> std::io::Result<ReloadOutcome> {
        let routes_path = self.routes.path();
        let routes_text = super::rescan::rescan(
            &self.root,
            &routes_path,
            changes,
            &mut self.scanned,
            &mut self.problems,
        )
        .await?;
        // Routes first: the versions they name stay loaded whatever the policy.
        let (configured, routes_changed) = self.routes.reload(routes_text, &Catalog(&self.scanned));
        if routes_changed {
            self.rollouts
                .reset(&configured, self.routes.text(), Instant::now());
        }
        let routes = self.routes_in_force(&configured);
        let pinned = pinned_versions(&configured);
        let mut unsettled_models = BTreeSet::new();
        let mut touched = BTreeSet::new();
        let mut states = BTreeMap::new();
        let names: Vec<String> = self.scanned.keys().cloned().collect();
        for name in names {
            let pins = pinned.get(name.as_str()).cloned().unwrap_or_default();
            let unchanged = !changes.is_everything() && !changes.models().contains(&name);
            if unchanged
                && self.pins.get(&name) == Some(&pins)
                && let Some(state) = self.states.get(&name)
            {
                states.insert(name, state.clone());
                continue;
            }
            let on_disk = self.scanned[&name].clone();
            let (state, model_unsettled) = self.reload_model(&name, &on_disk, &pins).await;
            if model_unsettled {
                unsettled_models.insert(name.clone());
            }
            self.pins.insert(name.clone(), pins);
            touched.insert(name.clone());
            states.insert(name, Arc::new(state));
        }
        self.forget_missing(&states, &touched);
        super::priorities::apply(&states, &routes);
        self.states = states.clone();
        Ok(ReloadOutcome {
            snapshot: Snapshot {
                models: states,
                routes,
                rollouts: self.rollouts.live(),
                initial_load_done: true,
            },
            unsettled: !unsettled_models.is_empty(),
            unsettled_models,
            problems: self.problems.clone(),
            routes_error: self.routes.rejected().cloned(),
        })
    }

    async fn reload_model(
        &mut self,
        name: &str,
        on_disk: &ModelOnDisk,
        pinned: &BTreeSet<u64>,
    ) -> (ModelState, bool) {
        let config = match self.configs.effective(name, on_disk) {
            Ok(config) => config,
            Err(error) => {
                let mut state = ModelState::default();
                for &version in on_disk.versions.keys() {
                    state
                        .unavailable
                        .insert(version, Unavailable::InvalidConfig(error.clone()));
                }
                return (state, false);
            }
        };
        let mut state = ModelState {
            config: config.clone(),
            ..Default::default()
        };
        let mut unsettled = false;
        // `latest: N` means the N highest versions that actually load: a broken
        // upload of version N+1 leaves version N serving.
        let available: Vec<u64> = on_disk.versions.keys().copied().collect();
        let (candidates, wanted_ready) = match &config.version_policy {
            VersionPolicy::Latest(n) => (available.iter().rev().copied().collect::<Vec<_>>(), *n),
            policy => (policy.select(&available), usize::MAX),
        };
        let pinned_on_disk = pinned.iter().filter(|v| on_disk.versions.contains_key(v));
        let queue = candidates
            .into_iter()
            .map(|v| (v, true))
            .chain(pinned_on_disk.map(|&v| (v, false)));
        let mut policy_ready = 0;
        for (version, by_policy) in queue {
            let seen = state.ready.contains_key(&version) || state.unavailable.contains_key(&version);
            if seen || (by_policy && policy_ready >= wanted_ready) {
                continue;
            }
            let key = VersionKey {
                model: name.to_string(),
                version,
            };
            let result = self
                .reload_version(&key, &on_disk.versions[&version], &config)
                .await;
            unsettled |= matches!(result, VersionResult::Unsettled(_));
            let ready = match result {
                VersionResult::Ready(loaded) | VersionResult::Unsettled(Some(loaded)) => {
                    state.ready.insert(version, loaded);
                    true
                }
                VersionResult::Unavailable(reason) => {
                    state.unavailable.insert(version, reason);
                    false
                }
                VersionResult::Unsettled(None) => {
                    state.unavailable.insert(version, Unavailable::StillWriting);
                    false
                }
            };
            policy_ready += usize::from(by_policy && ready);
        }
        (state, unsettled)
    }

    async fn reload_version(
        &mut self,
        key: &VersionKey,
        file: &VersionOnDisk,
        config: &ModelConfig,
    ) -> VersionResult {
        if let Some(reused) = self.reuse(key, file, config) {
            return reused;
        }
        let previous = self.loaded.get(key).map(|l| l.version.clone());
        if self.recently_modified(&file.stamp) {
            return VersionResult::Unsettled(previous);
        }
        let result = self.load(key, file, config).await;
        // The file changed while it was being read: whatever we got is not final.
        if FileStamp::of(&file.model_file) != Some(file.stamp) {
            return VersionResult::Unsettled(previous);
        }
        match result {
            Ok(version) => self.record_loaded(key, file, config, version),
            Err(error) => self.record_failure(key, file, config, error),
        }
    }

    /// The outcome of an earlier load of the same files and settings, if any:
    /// a loaded version is reused, a failed one is not retried.
    fn reuse(&self, key: &VersionKey, file: &VersionOnDisk, config: &ModelConfig) -> Option<VersionResult> {
        if let Some(loaded) = self.loaded.get(key)
            && loaded.stamp == file.stamp
            && loaded.config == *config
        {
            return Some(VersionResult::Ready(loaded.version.clone()));
        }
        let failed = self.failed.get(key)?;
        (failed.stamp == file.stamp && failed.config == *config)
            .then(|| self.keep_previous_or(key, failed.error.clone()))
    }

    /// Loads and warms one version on a blocking thread.
    async fn load(
        &self,
        key: &VersionKey,
        file: &VersionOnDisk,
        config: &ModelConfig,
    ) -> Result<ModelVersion, LoadError> {
        let backend = self.backend.clone();
        let path = file.model_file.clone();
        let key = key.clone();
        let settings = VersionSettings {
            statistics: self.statistics,
            ..config.version_settings()
        };
        let idle_wait = self.idle_wait.clone();
        // config.pbtxt's `input`/`output`, when given, must match the model.
        let declared = config.declared_io.clone();
        tokio::task::spawn_blocking(move || {
            let version = ModelVersion::load(backend.as_ref(), key, &path, &settings, &idle_wait)?;
            crate::config::check_declared_io(declared.as_ref(), &version.inputs, &version.outputs)?;
            Ok(version)
        })
        .await
        .unwrap_or_else(|e| Err(LoadError::Threads(format!("load task failed: {e}"))))
    }

    fn record_loaded(
        &mut self,
        key: &VersionKey,
        file: &VersionOnDisk,
        config: &ModelConfig,
        version: ModelVersion,
    ) -> VersionResult {
        count_load(key, "ok");
        tracing::info!(model = %key.model, version = key.version, path = %file.model_file.display(),
            inputs = version.inputs.len(), outputs = version.outputs.len(), "model version loaded");
        let version = Arc::new(version);
        self.failed.remove(key);
        let loaded = Loaded {
            stamp: file.stamp,
            config: config.clone(),
            version: version.clone(),
        };
        self.loaded.insert(key.clone(), loaded);
        VersionResult::Ready(version)
    }

    fn record_failure(
        &mut self,
        key: &VersionKey,
        file: &VersionOnDisk,
        config: &ModelConfig,
        error: LoadError,
    ) -> VersionResult {
        count_load(key, "failure");
        tracing::error!(model = %key.model, version = key.version, path = %file.model_file.display(),
            %error, serving_previous = self.loaded.contains_key(key), "model version failed to load");
        let failed = Failed {
            stamp: file.stamp,
            config: config.clone(),
            error: error.clone(),
        };
        self.failed.insert(key.clone(), failed);
        self.keep_previous_or(key, error)
    }

    /// After a failed load: the version loaded earlier from older files keeps
    /// serving if there is one.
    fn keep_previous_or(&self, key: &VersionKey, error: LoadError) -> VersionResult {
        match self.loaded.get(key) {
            Some(loaded) => VersionResult::Ready(loaded.version.clone()),
            None => VersionResult::Unavailable(Unavailable::LoadFailed(error)),
        }
    }

    fn recently_modified(&self, stamp: &FileStamp) -> bool {
        stamp
            .modified
            .and_then(|m| self.clock.now().duration_since(m).ok())
            .is_some_and(|age| age < SETTLE_TIME)
    }

    /// Drops bookkeeping for versions that left the snapshot, so their memory
    /// is freed once their last request ends, and publishes the readiness
    /// gauges of the models reloaded (`touched`).
    fn forget_missing(&mut self, states: &BTreeMap<String, Arc<ModelState>>, touched: &BTreeSet<String>) {
        self.loaded.retain(|key, loaded| {
            let keep = states
                .get(&key.model)
                .and_then(|s| s.ready.get(&key.version))
                .is_some_and(|v| Arc::ptr_eq(v, &loaded.version));
            if !keep {
                set_ready_gauge(&key.model, key.version, 0.0);
                tracing::info!(model = %key.model, version = key.version, "model version unloaded; draining");
            }
            keep
        });
        self.failed.retain(|key, _| {
            states.get(&key.model).is_some_and(|s| {
                s.unavailable.contains_key(&key.version) || s.ready.contains_key(&key.version)
            })
        });
        for (model, state) in states.iter().filter(|(name, _)| touched.contains(*name)) {
            for &version in state.ready.keys() {
                set_ready_gauge(model, version, 1.0);
            }
            for &version in state.unavailable.keys() {
                set_ready_gauge(model, version, 0.0);
            }
        }
        self.configs.retain(|model| states.contains_key(model));
        self.pins.retain(|model, _| states.contains_key(model));
    }
}

fn set_ready_gauge(model: &str, version: u64, value: f64) {
    metrics::gauge!(metric::MODEL_READY, "model" => model.to_string(), "version" => version.to_string())
        .set(value);
}

fn count_load(key: &VersionKey, outcome: &'static str) {
    metrics::counter!(metric::MODEL_LOADS, "model" => key.model.clone(), "version" => key.version.to_string(),
        "outcome" => outcome)
    .increment(1);
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
