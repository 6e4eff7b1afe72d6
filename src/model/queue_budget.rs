//! How long a request may wait for a session. A queue bounded only by count
//! lets the wait grow with the model's run time (128 queued × 6 ms is most
//! of a second); a request that would wait longer than it is worth is
//! refused with RESOURCE_EXHAUSTED, at once when the queue ahead of it
//! already holds more than the budget, or when its budget runs out while it
//! waits. The budget is `max_queue_delay_ms` when configured, else four runs
//! of the model (an estimate kept from its recent runs) and at least
//! [`MIN_DEFAULT_BUDGET`]: short enough that a client's retry elsewhere
//! beats waiting, long enough that a burst of a few requests per session is
//! never refused.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The smallest default budget.
pub const MIN_DEFAULT_BUDGET: Duration = Duration::from_millis(100);
/// The default budget in runs of the model.
const DEFAULT_BUDGET_RUNS: u32 = 4;

/// A version's queue budget and its estimate of one run's time.
#[derive(Debug)]
pub struct QueueBudget {
    configured: Option<Duration>,
    sessions: u32,
    /// Moving average of recent run times (1/8 weight for the newest), in ns.
    run_ns: AtomicU64,
}

impl QueueBudget {
    pub fn new(configured: Option<Duration>, sessions: usize) -> Self {
        Self {
            configured,
            sessions: u32::try_from(sessions.max(1)).unwrap_or(u32::MAX),
            run_ns: AtomicU64::new(0),
        }
    }

    /// One run took `elapsed` (a merged batch counts once).
    pub fn record_run(&self, elapsed: Duration) {
        let sample = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let old = self.run_ns.load(Ordering::Relaxed);
        let new = if old == 0 {
            sample
        } else {
            old - old / 8 + sample / 8
        };
        // Racing session threads may lose a sample; an estimate does not mind.
        self.run_ns.store(new, Ordering::Relaxed);
    }

    /// The longest a request may wait now.
    pub fn budget(&self) -> Duration {
        self.configured.unwrap_or_else(|| {
            let runs = Duration::from_nanos(self.run_ns.load(Ordering::Relaxed)) * DEFAULT_BUDGET_RUNS;
            runs.max(MIN_DEFAULT_BUDGET)
        })
    }

    /// What a request finding `queued` requests ahead of it should expect to wait.
    pub fn expected_wait(&self, queued: usize) -> Duration {
        let run = Duration::from_nanos(self.run_ns.load(Ordering::Relaxed));
        run * u32::try_from(queued).unwrap_or(u32::MAX) / self.sessions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_four_runs_and_at_least_the_minimum() {
        let budget = QueueBudget::new(None, 2);
        assert_eq!(budget.budget(), MIN_DEFAULT_BUDGET);
        budget.record_run(Duration::from_millis(200));
        assert_eq!(budget.budget(), Duration::from_millis(800));
        // 8 queued ahead, 2 sessions, 200 ms a run: 800 ms.
        assert_eq!(budget.expected_wait(8), Duration::from_millis(800));
        let configured = QueueBudget::new(Some(Duration::from_millis(5)), 1);
        configured.record_run(Duration::from_secs(1));
        assert_eq!(configured.budget(), Duration::from_millis(5));
    }

    #[test]
    fn the_estimate_follows_recent_runs() {
        let budget = QueueBudget::new(None, 1);
        budget.record_run(Duration::from_millis(80));
        for _ in 0..64 {
            budget.record_run(Duration::from_millis(8));
        }
        let run = budget.expected_wait(1);
        assert!(
            run > Duration::from_millis(7) && run < Duration::from_millis(10),
            "{run:?}"
        );
    }
}
