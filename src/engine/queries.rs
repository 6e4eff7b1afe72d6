//! What the front ends ask besides inference: readiness, metadata, the
//! model configuration and the repository index, each read from one snapshot.

use std::sync::Arc;

use super::Engine;
use crate::config::ModelConfig;
use crate::error::ServeError;
use crate::model::{ModelVersion, StatsSnapshot};
use crate::repository::Snapshot;
use crate::tensor::TensorSpec;

/// A model as metadata describes it.
#[derive(Debug, Clone)]
pub struct ModelMetadata {
    /// The name as asked for (a route's name stays the route's).
    pub name: String,
    /// Ready versions of the model that answers.
    pub versions: Vec<String>,
    pub inputs: Vec<TensorSpec>,
    pub outputs: Vec<TensorSpec>,
}

/// The version a name resolves to, with the settings of its model.
#[derive(Debug, Clone)]
pub struct ModelDescription {
    pub version: Arc<ModelVersion>,
    pub config: ModelConfig,
}

/// Readiness of the server and of every model and route name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub server: bool,
    /// Every model and route name with whether it serves.
    pub names: Vec<(String, bool)>,
}

/// A version's state in the repository index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexState {
    Ready,
    Unavailable,
}

impl IndexState {
    /// Triton's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "READY",
            Self::Unavailable => "UNAVAILABLE",
        }
    }
}

/// One version of the repository index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    pub name: String,
    pub version: u64,
    pub state: IndexState,
    /// Why it is not ready; empty when ready.
    pub reason: String,
}

/// A route as it is in force: its targets with the weights in force, its
/// shadow, and its rollout's state if it has one.
#[derive(Debug, Clone)]
pub struct RouteView {
    pub route: Arc<crate::routing::Route>,
    pub rollout: Option<Arc<crate::repository::LiveRollout>>,
}

/// One loaded version's statistics.
#[derive(Debug, Clone)]
pub struct VersionStatistics {
    pub model: String,
    pub version: u64,
    pub stats: StatsSnapshot,
}

impl Engine {
    /// Every route in force, by name.
    pub fn routes(&self) -> Vec<RouteView> {
        let snapshot = self.snapshot();
        snapshot
            .routes
            .values()
            .map(|route| RouteView {
                route: route.clone(),
                rollout: snapshot.rollouts.get(&route.name).cloned(),
            })
            .collect()
    }

    /// Statistics of every loaded version (empty `name`), of a model's
    /// versions (empty `version` = every loaded one), of one version, or of
    /// the versions a route's targets resolve to. Unknown names and versions
    /// are NOT_FOUND.
    pub fn model_statistics(&self, name: &str, version: &str) -> Result<Vec<VersionStatistics>, ServeError> {
        let snapshot = self.snapshot();
        let read = |v: &Arc<ModelVersion>| VersionStatistics {
            model: v.key.model.clone(),
            version: v.key.version,
            stats: v.metrics.stats.read(),
        };
        if name.is_empty() {
            return Ok(snapshot
                .models
                .values()
                .flat_map(|s| s.ready.values())
                .map(read)
                .collect());
        }
        if !version.is_empty() {
            return Ok(vec![read(&snapshot.resolve(name, version)?)]);
        }
        if let Some(state) = snapshot.models.get(name) {
            return Ok(state.ready.values().map(read).collect());
        }
        let route = snapshot
            .routes
            .get(name)
            .ok_or_else(|| ServeError::ModelNotFound(name.to_string()))?;
        let mut versions: Vec<Arc<ModelVersion>> = route
            .targets
            .iter()
            .filter_map(|t| snapshot.target_version(t))
            .collect();
        versions.dedup_by(|a, b| Arc::ptr_eq(a, b));
        Ok(versions.iter().map(read).collect())
    }

    /// Whether the server takes traffic: not shutting down, the first load
    /// done, every route with a ready target.
    pub fn server_ready(&self) -> bool {
        !self.is_shutting_down() && self.snapshot().is_ready()
    }

    /// Whether `name` (a model or a route) serves `version` (empty = default).
    pub fn model_ready(&self, name: &str, version: &str) -> bool {
        self.snapshot().resolve_name(name, version).is_ok()
    }

    /// Readiness of everything, from `snapshot` (the one just published).
    pub fn health(&self, snapshot: &Snapshot) -> Health {
        let serving = !self.is_shutting_down();
        let names = snapshot
            .models
            .keys()
            .chain(snapshot.routes.keys())
            .map(|name| (name.clone(), serving && snapshot.resolve_name(name, "").is_ok()))
            .collect();
        Health {
            server: serving && snapshot.is_ready(),
            names,
        }
    }

    /// Metadata of the version `name` resolves to.
    pub fn model_metadata(&self, name: &str, version: &str) -> Result<ModelMetadata, ServeError> {
        let snapshot = self.snapshot();
        let resolved = snapshot.resolve_name(name, version)?;
        let versions = snapshot
            .models
            .get(&resolved.key.model)
            .map(|state| state.ready.keys().map(u64::to_string).collect())
            .unwrap_or_default();
        Ok(ModelMetadata {
            name: name.to_string(),
            versions,
            inputs: resolved.inputs.clone(),
            outputs: resolved.outputs.clone(),
        })
    }

    /// The version `name` resolves to and its model's settings.
    pub fn model_description(&self, name: &str, version: &str) -> Result<ModelDescription, ServeError> {
        let snapshot = self.snapshot();
        let resolved = snapshot.resolve_name(name, version)?;
        let config = snapshot
            .models
            .get(&resolved.key.model)
            .map(|state| state.config.clone())
            .unwrap_or_default();
        Ok(ModelDescription {
            version: resolved,
            config,
        })
    }

    /// Every version found, by name then version; only ready ones with `ready_only`.
    pub fn repository_index(&self, ready_only: bool) -> Vec<IndexEntry> {
        let snapshot = self.snapshot();
        let mut entries = Vec::new();
        for (name, state) in &snapshot.models {
            let ready = state.ready.keys().map(|&version| IndexEntry {
                name: name.clone(),
                version,
                state: IndexState::Ready,
                reason: String::new(),
            });
            entries.extend(ready);
            if ready_only {
                continue;
            }
            let unavailable = state.unavailable.iter().map(|(&version, reason)| IndexEntry {
                name: name.clone(),
                version,
                state: IndexState::Unavailable,
                reason: reason.to_string(),
            });
            entries.extend(unavailable);
        }
        entries.sort_by(|a, b| (&a.name, a.version).cmp(&(&b.name, b.version)));
        entries
    }
}
