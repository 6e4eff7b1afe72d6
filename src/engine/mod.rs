//! The engine behind every front end: a request loads the current snapshot
//! once, goes through its route or straight to a version, is checked against
//! the model's declaration, runs on that version's session threads, and may
//! be mirrored to a shadow. Metadata, readiness and the repository index are
//! queries on the same snapshot. Nothing here knows a transport: errors carry
//! the engine's own codes, which each front end maps in one place.

mod in_flight;
mod infer;
mod queries;
mod record;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub use in_flight::InFlight;
pub use infer::{InferRequest, InferResponse, NoHeaders, RequestHeaders};
pub use queries::{
    Health, IndexEntry, IndexState, ModelDescription, ModelMetadata, RouteView, VersionStatistics,
};

use crate::repository::{Snapshot, SnapshotReader};
use crate::shadow::Mirror;

pub struct Engine {
    snapshots: SnapshotReader,
    mirror: Mirror,
    /// Server-wide bound on requests in flight; beyond it requests are shed.
    in_flight: InFlight,
    shutting_down: AtomicBool,
}

impl Engine {
    pub fn new(snapshots: SnapshotReader, mirror: Mirror, in_flight: InFlight) -> Self {
        Self {
            snapshots,
            mirror,
            in_flight,
            shutting_down: AtomicBool::new(false),
        }
    }

    /// The snapshot in force now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshots.load()
    }

    /// From now on the server reports itself not ready (requests still run).
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
    }

    fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests;
