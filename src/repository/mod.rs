//! The model repository: scanning the directory, loading versions into
//! snapshots, watching for changes, and the reload loop that owns every
//! write to the served snapshot.

mod loader;
mod reloader;
pub mod scan;
mod snapshot;
mod watcher;

pub use loader::{Loader, ReloadOutcome, SETTLE_TIME};
pub use reloader::{ReloadSettings, run_reloads};
pub use snapshot::{ModelState, Snapshot, SnapshotCell};
pub use watcher::WatchTargets;
