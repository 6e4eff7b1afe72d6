//! The model repository: scanning the directory, loading versions into
//! snapshots, and (with the watcher) keeping the served snapshot current.

mod loader;
pub mod scan;
mod snapshot;

pub use loader::{Loader, ReloadOutcome, SETTLE_TIME};
pub use snapshot::{ModelState, Snapshot, SnapshotCell};
