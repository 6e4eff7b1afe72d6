//! The model repository: scanning the directory, loading versions into
//! snapshots, watching for changes, and the reload loop that owns every
//! write to the served snapshot.

mod changes;
mod clock;
mod config_state;
mod loader;
mod priorities;
mod reloader;
mod rescan;
mod rollouts;
mod routes_state;
pub mod scan;
mod snapshot;
mod watcher;

pub use changes::{ChangeRoots, Changes};
pub use clock::{Clock, SystemClock};
pub use loader::{Loader, ReloadOutcome, SETTLE_TIME};
pub use reloader::{ReloadSettings, run_reloads};
pub use rollouts::LiveRollout;
pub use snapshot::{ModelState, Snapshot, SnapshotReader, SnapshotWriter, Unavailable, snapshot_cell};
pub use watcher::{ChangeSink, WatchTargets};

#[cfg(test)]
mod tests;
