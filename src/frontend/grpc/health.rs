//! The standard `grpc.health.v1.Health` service kept in step with the
//! engine: overall ("") and one entry per model and route name. Readiness
//! itself is the engine's; this only publishes it.

use std::collections::BTreeSet;
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
    /// Names currently reported, so removed models can be cleared.
    reported: Mutex<BTreeSet<String>>,
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
            reported: Mutex::new(BTreeSet::new()),
        }
    }

    /// Every name not serving: call after the engine began shutting down.
    pub async fn shutdown(&self) {
        self.health
            .set_service_status("", ServingStatus::NotServing)
            .await;
        let names = self.reported.lock().map(|m| m.clone()).unwrap_or_default();
        for name in names {
            self.health
                .set_service_status(&name, ServingStatus::NotServing)
                .await;
        }
    }

    /// Publishes health for a newly published snapshot. [`LIVENESS`] is always
    /// SERVING while the process runs: liveness probes must not restart a pod
    /// that is merely unready.
    pub async fn publish(&self, snapshot: &Snapshot) {
        self.health
            .set_service_status(LIVENESS, ServingStatus::Serving)
            .await;
        let health = self.engine.health(snapshot);
        self.health.set_service_status("", status(health.server)).await;
        let current: BTreeSet<String> = health.names.iter().map(|(name, _)| name.clone()).collect();
        for (name, ready) in &health.names {
            self.health.set_service_status(name, status(*ready)).await;
        }
        let removed: Vec<String> = {
            let Ok(mut reported) = self.reported.lock() else {
                return;
            };
            let removed = reported.difference(&current).cloned().collect();
            *reported = current;
            removed
        };
        for name in removed {
            self.health.clone().clear_service_status(&name).await;
        }
    }
}
