//! The immutable serving state. A request loads the current snapshot once
//! and keeps its `Arc` for its whole life, so a reload swapping in a new
//! snapshot never changes what a running request sees.

use std::collections::BTreeMap;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::error::ServeError;
use crate::model::ModelVersion;

/// One model's versions as of one snapshot.
#[derive(Debug, Default, Clone)]
pub struct ModelState {
    /// Versions taking traffic.
    pub ready: BTreeMap<u64, Arc<ModelVersion>>,
    /// Versions found on disk and wanted, but not serving, with the reason.
    pub unavailable: BTreeMap<u64, String>,
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
    pub models: BTreeMap<String, ModelState>,
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
        let number: u64 = version.parse().map_err(|_| not_found())?;
        if let Some(ready) = state.ready.get(&number) {
            return Ok(ready.clone());
        }
        if state.unavailable.contains_key(&number) {
            return Err(ServeError::NoReadyVersion(format!("{model}' version '{number}")));
        }
        Err(not_found())
    }

    /// Whether the server as a whole is ready to take traffic.
    pub fn is_ready(&self) -> bool {
        self.initial_load_done
    }
}

/// The shared handle to the current snapshot. Only the reload task stores.
#[derive(Debug, Default)]
pub struct SnapshotCell {
    current: ArcSwap<Snapshot>,
}

impl SnapshotCell {
    /// The snapshot in force now.
    pub fn load(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Makes `snapshot` the one in force: one atomic pointer swap.
    pub fn publish(&self, snapshot: Snapshot) {
        self.current.store(Arc::new(snapshot));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_distinguishes_not_found_and_unavailable() {
        let mut snapshot = Snapshot::default();
        let mut state = ModelState::default();
        state.unavailable.insert(2, "corrupt".into());
        snapshot.models.insert("m".into(), state);
        assert_eq!(
            snapshot.resolve("x", "").unwrap_err().code(),
            tonic::Code::NotFound
        );
        assert_eq!(
            snapshot.resolve("m", "").unwrap_err().code(),
            tonic::Code::Unavailable
        );
        assert_eq!(
            snapshot.resolve("m", "2").unwrap_err().code(),
            tonic::Code::Unavailable
        );
        assert_eq!(
            snapshot.resolve("m", "7").unwrap_err().code(),
            tonic::Code::NotFound
        );
        assert_eq!(
            snapshot.resolve("m", "abc").unwrap_err().code(),
            tonic::Code::NotFound
        );
    }
}
