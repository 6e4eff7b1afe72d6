//! Readiness as clients see it: `ServerReady`, `ModelReady` and the standard
//! `grpc.health.v1.Health` service (overall "" and one entry per model name).

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::repository::Snapshot;

/// Health service name for liveness probes (a `/` keeps it apart from model names).
pub const LIVENESS: &str = "switchyard/liveness";

/// Tracks shutdown and mirrors each published snapshot into the health service.
pub struct Readiness {
    shutting_down: AtomicBool,
    health: HealthReporter,
    /// Model names currently reported, so removed models can be cleared.
    reported: Mutex<BTreeSet<String>>,
}

impl Readiness {
    pub fn new(health: HealthReporter) -> Self {
        Self {
            shutting_down: AtomicBool::new(false),
            health,
            reported: Mutex::new(BTreeSet::new()),
        }
    }

    /// Whether the server takes traffic given `snapshot`.
    pub fn server_ready(&self, snapshot: &Snapshot) -> bool {
        !self.shutting_down.load(Ordering::Acquire) && snapshot.is_ready()
    }

    /// Readiness turns false first when shutdown begins.
    pub async fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
        self.health
            .set_service_status("", ServingStatus::NotServing)
            .await;
        let models = self.reported.lock().map(|m| m.clone()).unwrap_or_default();
        for model in models {
            self.health
                .set_service_status(&model, ServingStatus::NotServing)
                .await;
        }
    }

    /// Publishes health for a newly published snapshot. The service name
    /// [`LIVENESS`] is always SERVING while the process runs: liveness probes
    /// must not restart a pod that is merely unready.
    pub async fn update(&self, snapshot: &Snapshot) {
        self.health
            .set_service_status(LIVENESS, ServingStatus::Serving)
            .await;
        let status = |ready: bool| {
            if ready {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            }
        };
        let shutting_down = self.shutting_down.load(Ordering::Acquire);
        self.health
            .set_service_status("", status(self.server_ready(snapshot)))
            .await;
        let current: BTreeSet<String> = snapshot
            .models
            .keys()
            .chain(snapshot.routes.keys())
            .cloned()
            .collect();
        for name in &current {
            let ready = !shutting_down && snapshot.resolve_name(name, "").is_ok();
            self.health.set_service_status(name, status(ready)).await;
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
