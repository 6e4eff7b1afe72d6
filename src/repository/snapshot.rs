//! The immutable serving state. A request loads the current snapshot once
//! and keeps its `Arc` for its whole life, so a reload swapping in a new
//! snapshot never changes what a running request sees.

use std::collections::BTreeMap;
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::rollouts::LiveRollout;
use crate::config::{ConfigFileError, ModelConfig};
use crate::error::ServeError;
use crate::model::{LoadError, ModelVersion};
use crate::routing::{Draw, Route, RouteTable, Target};

/// Why a version found on disk and wanted is not serving.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    #[error(transparent)]
    LoadFailed(#[from] LoadError),
    #[error("invalid config.yaml: {0}")]
    InvalidConfig(ConfigFileError),
    #[error("model file is still being written")]
    StillWriting,
}

/// One model's versions as of one snapshot.
#[derive(Debug, Default, Clone)]
pub struct ModelState {
    /// Versions taking traffic.
    pub ready: BTreeMap<u64, Arc<ModelVersion>>,
    /// Versions found on disk and wanted, but not serving, with the reason.
    pub unavailable: BTreeMap<u64, Unavailable>,
    /// The settings in force for this model.
    pub config: ModelConfig,
}

impl ModelState {
    /// The version a request without `model_version` gets: the highest ready one.
    pub fn default_version(&self) -> Option<&Arc<ModelVersion>> {
        self.ready.values().next_back()
    }
}

/// Everything the serving path reads, swapped as a whole.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Shared between snapshots: a reload that touches one model of
    /// thousands copies pointers, not states.
    pub models: BTreeMap<String, Arc<ModelState>>,
    /// Routes in force, swapped together with the models they name (with
    /// any rollout's weights applied).
    pub routes: Arc<RouteTable>,
    /// The routes under automatic rollout, by route name.
    pub rollouts: BTreeMap<String, Arc<LiveRollout>>,
    /// The first scan has finished loading what it could.
    pub initial_load_done: bool,
}

impl Snapshot {
    /// Finds the version that serves a request for `model` (and optionally an
    /// explicit `version`, as the request spelled it).
    pub fn resolve(&self, model: &str, version: &str) -> Result<Arc<ModelVersion>, ServeError> {
        let state = self
            .models
            .get(model)
            .ok_or_else(|| ServeError::ModelNotFound(model.to_string()))?;
        if version.is_empty() {
            return state
                .default_version()
                .cloned()
                .ok_or_else(|| ServeError::NoReadyVersion(model.to_string()));
        }
        let not_found = || ServeError::VersionNotFound {
            model: model.to_string(),
            version: version.to_string(),
        };
        // Only the canonical spelling: "01" or "+1" name no version.
        let number: u64 = version
            .parse()
            .ok()
            .filter(|n: &u64| n.to_string() == version)
            .ok_or_else(not_found)?;
        if let Some(ready) = state.ready.get(&number) {
            return Ok(ready.clone());
        }
        if state.unavailable.contains_key(&number) {
            return Err(ServeError::VersionNotReady {
                model: model.to_string(),
                version: number,
            });
        }
        Err(not_found())
    }

    /// The ready version a route target points at, if any.
    pub fn target_version(&self, target: &Target) -> Option<Arc<ModelVersion>> {
        let state = self.models.get(&target.model)?;
        match target.version {
            Some(version) => state.ready.get(&version).cloned(),
            None => state.default_version().cloned(),
        }
    }

    /// Picks the version that serves a request sent to `route`.
    pub fn pick(&self, route: &Route, draw: Draw) -> Result<Arc<ModelVersion>, ServeError> {
        route
            .pick(|target| self.target_version(target).is_some(), draw)
            .and_then(|target| self.target_version(target))
            .ok_or_else(|| ServeError::NoReadyTarget(route.name.clone()))
    }

    /// For metadata RPCs: the model called `name`, or else the route called
    /// `name` through its ready target of highest weight.
    pub fn resolve_name(&self, name: &str, version: &str) -> Result<Arc<ModelVersion>, ServeError> {
        if self.models.contains_key(name) || !version.is_empty() {
            return self.resolve(name, version);
        }
        let route = self
            .routes
            .get(name)
            .ok_or_else(|| ServeError::ModelNotFound(name.to_string()))?;
        route
            .targets
            .iter()
            .filter(|t| t.weight > 0)
            .filter_map(|t| self.target_version(t).map(|v| (t.weight, v)))
            .max_by_key(|(weight, _)| *weight)
            .map(|(_, version)| version)
            .ok_or_else(|| ServeError::NoReadyTarget(name.to_string()))
    }

    /// Whether the server as a whole is ready to take traffic: the first load
    /// is done and every route has a ready target.
    pub fn is_ready(&self) -> bool {
        self.initial_load_done
            && self.routes.values().all(|route| {
                route
                    .targets
                    .iter()
                    .any(|t| t.weight > 0 && self.target_version(t).is_some())
            })
    }
}

/// A new snapshot cell: a reader for everyone who serves, and the one
/// writer, which the reload loop owns.
pub fn snapshot_cell() -> (SnapshotReader, SnapshotWriter) {
    let cell = Arc::new(ArcSwap::from_pointee(Snapshot::default()));
    (SnapshotReader(cell.clone()), SnapshotWriter(cell))
}

/// Reads the snapshot in force; cheap to clone.
#[derive(Debug, Clone)]
pub struct SnapshotReader(Arc<ArcSwap<Snapshot>>);

impl SnapshotReader {
    /// The snapshot in force now.
    pub fn load(&self) -> Arc<Snapshot> {
        self.0.load_full()
    }
}

/// Publishes snapshots. Not `Clone`: whoever owns it is the only writer.
#[derive(Debug)]
pub struct SnapshotWriter(Arc<ArcSwap<Snapshot>>);

impl SnapshotWriter {
    /// Makes `snapshot` the one in force: one atomic pointer swap.
    pub fn publish(&mut self, snapshot: Snapshot) -> Arc<Snapshot> {
        let snapshot = Arc::new(snapshot);
        self.0.store(snapshot.clone());
        snapshot
    }

    /// A reader of this cell.
    pub fn reader(&self) -> SnapshotReader {
        SnapshotReader(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_distinguishes_not_found_and_unavailable() {
        let mut snapshot = Snapshot::default();
        let mut state = ModelState::default();
        state.unavailable.insert(2, Unavailable::StillWriting);
        snapshot.models.insert("m".into(), Arc::new(state));
        assert_eq!(
            snapshot.resolve("x", "").unwrap_err().code(),
            crate::error::Code::NotFound
        );
        assert_eq!(
            snapshot.resolve("m", "").unwrap_err().code(),
            crate::error::Code::Unavailable
        );
        let not_ready = snapshot.resolve("m", "2").unwrap_err();
        assert_eq!(not_ready.code(), crate::error::Code::Unavailable);
        assert_eq!(
            not_ready.to_string(),
            "model 'm' version '2' has no ready version"
        );
        assert_eq!(
            snapshot.resolve("m", "7").unwrap_err().code(),
            crate::error::Code::NotFound
        );
        assert_eq!(
            snapshot.resolve("m", "abc").unwrap_err().code(),
            crate::error::Code::NotFound
        );
    }
}
