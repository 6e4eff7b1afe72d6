//! The standard `grpc.health.v1.Health` service kept in step with the
//! engine: overall ("") and one entry per model and route name. Readiness
//! itself is the engine's; this only publishes it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::engine::Engine;
use crate::repository::Snapshot;

/// Health service name for liveness probes (a `/` keeps it apart from model names).
pub const LIVENESS: &str = "switchyard/liveness";

pub struct HealthPublisher {
    engine: Arc<Engine>,
    health: HealthReporter,
    /// Names currently reported and their readiness, so only changes are
    /// published and removed models can be cleared.
    reported: Mutex<BTreeMap<String, bool>>,
}

fn status(ready: bool) -> ServingStatus {
    if ready {
        ServingStatus::Serving
    } else {
        ServingStatus::NotServing
    }
}

impl HealthPublisher {
    pub fn new(engine: Arc<Engine>, health: HealthReporter) -> Self {
        Self {
            engine,
            health,
            reported: Mutex::new(BTreeMap::new()),
        }
    }

    /// Every name not serving: call after the engine began shutting down.
    pub async fn shutdown(&self) {
        self.health
            .set_service_status("", ServingStatus::NotServing)
            .await;
        let names: Vec<String> = self
            .reported
            .lock()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        for name in names {
            self.health
                .set_service_status(&name, ServingStatus::NotServing)
                .await;
        }
    }

    /// Publishes health for a newly published snapshot: only the names whose
    /// readiness changed (a repository of thousands of models changes one at
    /// a time). [`LIVENESS`] is always SERVING while the process runs:
    /// liveness probes must not restart a pod that is merely unready.
    pub async fn publish(&self, snapshot: &Snapshot) {
        self.health
            .set_service_status(LIVENESS, ServingStatus::Serving)
            .await;
        let health = self.engine.health(snapshot);
        self.health.set_service_status("", status(health.server)).await;
        let current: BTreeMap<String, bool> = health.names.into_iter().collect();
        let (changed, removed): (Vec<(String, bool)>, Vec<String>) = {
            let Ok(mut reported) = self.reported.lock() else {
                return;
            };
            let changed = current
                .iter()
                .filter(|(name, ready)| reported.get(*name) != Some(ready))
                .map(|(name, &ready)| (name.clone(), ready))
                .collect();
            let removed = reported
                .keys()
                .filter(|name| !current.contains_key(*name))
                .cloned()
                .collect();
            *reported = current;
            (changed, removed)
        };
        for (name, ready) in changed {
            self.health.set_service_status(&name, status(ready)).await;
        }
        for name in removed {
            self.health.clone().clear_service_status(&name).await;
        }
    }
}
