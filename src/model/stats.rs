//! Triton's per-version statistics (`ModelStatistics`): counts and summed
//! nanoseconds kept in atomics, so recording costs a few uncontended atomic
//! adds per request and no lock.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::backend::RunTimings;

/// A count and the nanoseconds it summed.
#[derive(Debug, Default)]
pub struct StatCounter {
    count: AtomicU64,
    ns: AtomicU64,
}

/// A [`StatCounter`] read at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counted {
    pub count: u64,
    pub ns: u64,
}

impl StatCounter {
    fn add(&self, times: u64, each: Duration) {
        let ns = u64::try_from(each.as_nanos()).unwrap_or(u64::MAX);
        self.count.fetch_add(times, Ordering::Relaxed);
        self.ns.fetch_add(ns.saturating_mul(times), Ordering::Relaxed);
    }

    fn read(&self) -> Counted {
        Counted {
            count: self.count.load(Ordering::Relaxed),
            ns: self.ns.load(Ordering::Relaxed),
        }
    }
}

/// The three compute phases of one execution.
#[derive(Debug, Default)]
struct ComputeCounters {
    input: StatCounter,
    infer: StatCounter,
    output: StatCounter,
}

impl ComputeCounters {
    fn add(&self, times: u64, timings: &RunTimings) {
        self.input.add(times, timings.input);
        self.infer.add(times, timings.infer);
        self.output.add(times, timings.output);
    }

    fn read(&self) -> ComputeStats {
        ComputeStats {
            input: self.input.read(),
            infer: self.infer.read(),
            output: self.output.read(),
        }
    }
}

/// Compute phases read at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ComputeStats {
    pub input: Counted,
    pub infer: Counted,
    pub output: Counted,
}

/// Everything one version records.
#[derive(Debug)]
pub struct VersionStats {
    enabled: AtomicBool,
    /// Whether the first dimension is a batch (else every execution is size 1).
    batched: bool,
    /// Written by the I/O threads as requests end.
    answered: Answered,
    /// Written by the session threads as they run.
    ran: Ran,
    /// Per executed batch size; index = batch size (0 unused).
    batches: Box<[ComputeCounters]>,
}

/// The counters the I/O threads write, on cache lines of their own: sharing
/// a line with the session threads' counters would bounce it between cores
/// on every request.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Answered {
    success: StatCounter,
    fail: StatCounter,
    last_inference_ms: AtomicU64,
}

/// The counters the session threads write.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Ran {
    queue: StatCounter,
    /// Per request: each request of a batch is charged the batch's times.
    compute: ComputeCounters,
    inference_count: AtomicU64,
    execution_count: AtomicU64,
}

/// One version's statistics read at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub success: Counted,
    pub fail: Counted,
    pub queue: Counted,
    pub compute: ComputeStats,
    pub inference_count: u64,
    pub execution_count: u64,
    /// Milliseconds since the epoch; 0 = never.
    pub last_inference_ms: u64,
    /// (batch size, its executions), sizes that ran at least once.
    pub batches: Vec<(u64, ComputeStats)>,
}

impl VersionStats {
    /// Statistics for a version batching up to `max_batch_size` rows (0 = no batching).
    pub fn new(max_batch_size: usize, enabled: bool) -> Self {
        let slots = max_batch_size.max(1) + 1;
        Self {
            enabled: AtomicBool::new(enabled),
            batched: max_batch_size > 0,
            answered: Answered::default(),
            ran: Ran::default(),
            batches: (0..slots).map(|_| ComputeCounters::default()).collect(),
        }
    }

    fn on(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// A request answered (from arrival to answer).
    pub fn record_request(&self, ok: bool, elapsed: Duration) {
        if !self.on() {
            return;
        }
        if ok {
            self.answered.success.add(1, elapsed);
            self.answered
                .last_inference_ms
                .store(epoch_ms(), Ordering::Relaxed);
        } else {
            self.answered.fail.add(1, elapsed);
        }
    }

    /// A request waited `wait` for a session.
    pub fn record_queue(&self, wait: Duration) {
        if self.on() {
            self.ran.queue.add(1, wait);
        }
    }

    /// One execution of `requests` requests holding `rows` rows in all.
    pub fn record_execution(&self, requests: u64, rows: usize, timings: &RunTimings) {
        if !self.on() {
            return;
        }
        // Triton counts a model without a batch dimension one inference per request.
        let batch_size = if self.batched { rows } else { requests as usize };
        self.ran.compute.add(requests, timings);
        self.ran.execution_count.fetch_add(1, Ordering::Relaxed);
        self.ran
            .inference_count
            .fetch_add(batch_size as u64, Ordering::Relaxed);
        let slot = batch_size.min(self.batches.len() - 1);
        self.batches[slot].add(1, timings);
    }

    pub fn read(&self) -> StatsSnapshot {
        let batches = self
            .batches
            .iter()
            .enumerate()
            .map(|(size, counters)| (size as u64, counters.read()))
            .filter(|(_, stats)| stats.infer.count > 0)
            .collect();
        StatsSnapshot {
            success: self.answered.success.read(),
            fail: self.answered.fail.read(),
            queue: self.ran.queue.read(),
            compute: self.ran.compute.read(),
            inference_count: self.ran.inference_count.load(Ordering::Relaxed),
            execution_count: self.ran.execution_count.load(Ordering::Relaxed),
            last_inference_ms: self.answered.last_inference_ms.load(Ordering::Relaxed),
            batches,
        }
    }
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timings(ms: u64) -> RunTimings {
        RunTimings {
            input: Duration::from_millis(ms),
            infer: Duration::from_millis(2 * ms),
            output: Duration::from_millis(3 * ms),
        }
    }

    #[test]
    fn a_batch_counts_once_per_execution_and_once_per_request() {
        let stats = VersionStats::new(8, true);
        stats.record_execution(3, 5, &timings(1));
        stats.record_execution(1, 1, &timings(2));
        let read = stats.read();
        assert_eq!(read.execution_count, 2);
        assert_eq!(read.inference_count, 6);
        assert_eq!(
            read.compute.infer,
            Counted {
                count: 4,
                ns: 3 * 2_000_000 + 4_000_000
            }
        );
        let sizes: Vec<u64> = read.batches.iter().map(|(size, _)| *size).collect();
        assert_eq!(sizes, vec![1, 5]);
        assert_eq!(
            read.batches[1].1.output,
            Counted {
                count: 1,
                ns: 3_000_000
            }
        );
    }

    #[test]
    fn success_sets_last_inference_and_failures_do_not() {
        let stats = VersionStats::new(0, true);
        stats.record_request(false, Duration::from_micros(5));
        assert_eq!(stats.read().last_inference_ms, 0);
        stats.record_request(true, Duration::from_micros(7));
        let read = stats.read();
        assert_eq!(
            (read.success.count, read.success.ns, read.fail.count),
            (1, 7_000, 1)
        );
        assert!(read.last_inference_ms > 1_700_000_000_000);
    }

    #[test]
    fn switched_off_records_nothing() {
        let stats = VersionStats::new(4, false);
        assert!(!VersionStats::new(0, true).batched);
        stats.record_request(true, Duration::from_micros(7));
        stats.record_queue(Duration::from_micros(7));
        stats.record_execution(1, 1, &timings(1));
        assert_eq!(stats.read(), StatsSnapshot::default());
    }
}
