//! Loaded model versions, backend-neutral: the session threads that own a
//! backend's sessions, how idle ones wait, dynamic batching, the queue in
//! front of them, and the checks a request passes before it is queued.

mod batching;
mod checks;
mod executor;
mod idle_wait;
mod job;
mod priority;
mod queue_budget;
mod stats;
mod version;
mod version_metrics;
mod worker;

pub use batching::{BatchPolicy, split_outputs};
pub use idle_wait::{CountedLoad, IdleWait, LoadProbe};
pub use job::RunResult;
pub use priority::{PriorityRequest, set_current_thread_background};
pub use queue_budget::MIN_DEFAULT_BUDGET;
pub use stats::{ComputeStats, Counted, StatsSnapshot, VersionStats};
pub use version::{LoadError, ModelVersion, VersionKey, VersionSettings};
pub use version_metrics::VersionMetrics;

#[cfg(test)]
mod tests;
