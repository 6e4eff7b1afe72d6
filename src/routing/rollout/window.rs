//! A route's current window, filled on the hot path with relaxed atomics (no
//! lock per request) and taken whole by the rollout controller at each check.
//! Latencies go into log-spaced buckets (four per doubling, from 1 µs to
//! about 17 min), so a p99 is known to within a fifth of its value — plenty
//! for a ratio gate such as `max_p99_ratio: 1.5`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use super::figures::{WindowFigures, counts_as_error};
use crate::error::Code;

const BUCKETS: usize = 120;
const PER_DOUBLING: f64 = 4.0;

/// Counts of latencies by log-spaced bucket.
#[derive(Debug)]
struct LatencyBuckets {
    counts: Vec<AtomicU64>,
}

impl Default for LatencyBuckets {
    fn default() -> Self {
        Self {
            counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl LatencyBuckets {
    fn index(elapsed: Duration) -> usize {
        let micros = elapsed.as_secs_f64() * 1e6;
        if micros <= 1.0 {
            return 0;
        }
        ((micros.log2() * PER_DOUBLING).ceil() as usize).min(BUCKETS - 1)
    }

    fn upper_bound(index: usize) -> Duration {
        Duration::from_secs_f64(2f64.powf(index as f64 / PER_DOUBLING) / 1e6)
    }

    fn record(&self, elapsed: Duration) {
        self.counts[Self::index(elapsed)].fetch_add(1, Ordering::Relaxed);
    }

    /// The 99th percentile of what was recorded since the last take, and resets.
    fn take_p99(&self) -> Option<Duration> {
        let counts: Vec<u64> = self.counts.iter().map(|c| c.swap(0, Ordering::Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = (total as f64 * 0.99).ceil() as u64;
        let mut seen = 0;
        counts.iter().enumerate().find_map(|(index, &count)| {
            seen += count;
            (seen >= rank).then(|| Self::upper_bound(index))
        })
    }
}

/// One side (canary or stable) of a window.
#[derive(Debug, Default)]
struct Side {
    requests: AtomicU64,
    errors: AtomicU64,
    latency: LatencyBuckets,
}

impl Side {
    fn record(&self, code: Code, elapsed: Duration) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if counts_as_error(code) {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        self.latency.record(elapsed);
    }
}

/// The live window of one route under rollout.
#[derive(Debug, Default)]
pub struct RolloutWindow {
    canary: Side,
    stable: Side,
    /// Step 0 is in force: the canary is judged on its mirror runs.
    shadow_only: AtomicBool,
    mirrors: AtomicU64,
    argmax_agree: AtomicU64,
    argmax_rows: AtomicU64,
    /// Sum of the mirrors' mean absolute differences, in nano-units.
    abs_diff_nanos: AtomicU64,
    abs_diff_count: AtomicU64,
}

/// What one mirror to the canary gave.
#[derive(Debug, Clone, Copy)]
pub struct MirrorFigures {
    /// The mirror's own answer code (an error is a canary error at step 0).
    pub code: Code,
    pub elapsed: Duration,
    /// (argmax rows agreeing, rows compared, mean absolute difference) when
    /// the outputs were compared.
    pub compared: Option<(u64, u64, f64)>,
}

impl RolloutWindow {
    /// A client request answered by the canary (`true`) or another target.
    pub fn record_request(&self, canary: bool, code: Code, elapsed: Duration) {
        let side = if canary { &self.canary } else { &self.stable };
        side.record(code, elapsed);
    }

    /// A mirror to the canary finished.
    pub fn record_mirror(&self, mirror: MirrorFigures) {
        if self.shadow_only.load(Ordering::Relaxed) {
            self.canary.record(mirror.code, mirror.elapsed);
        }
        let Some((agree, rows, mean_abs_diff)) = mirror.compared else {
            return;
        };
        self.mirrors.fetch_add(1, Ordering::Relaxed);
        self.argmax_agree.fetch_add(agree, Ordering::Relaxed);
        self.argmax_rows.fetch_add(rows, Ordering::Relaxed);
        let nanos = if mean_abs_diff.is_finite() {
            (mean_abs_diff * 1e9).min(u64::MAX as f64 / 2.0) as u64
        } else {
            u64::MAX / 2
        };
        self.abs_diff_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.abs_diff_count.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether mirrors count as the canary's requests (step 0).
    pub fn set_shadow_only(&self, shadow_only: bool) {
        self.shadow_only.store(shadow_only, Ordering::Relaxed);
    }

    /// The figures since the last take; the window starts afresh.
    pub fn take(&self) -> WindowFigures {
        let take = |a: &AtomicU64| a.swap(0, Ordering::Relaxed);
        WindowFigures {
            canary_requests: take(&self.canary.requests),
            stable_requests: take(&self.stable.requests),
            canary_errors: take(&self.canary.errors),
            stable_errors: take(&self.stable.errors),
            canary_p99: self.canary.latency.take_p99(),
            stable_p99: self.stable.latency.take_p99(),
            mirrors: take(&self.mirrors),
            argmax_agree: take(&self.argmax_agree),
            argmax_rows: take(&self.argmax_rows),
            abs_diff_sum: take(&self.abs_diff_nanos) as f64 / 1e9,
            abs_diff_count: take(&self.abs_diff_count),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_counts_both_sides_and_resets_when_taken() {
        let window = RolloutWindow::default();
        for ms in 1..=100 {
            window.record_request(false, Code::Ok, Duration::from_millis(ms));
        }
        window.record_request(true, Code::Internal, Duration::from_millis(5));
        window.record_request(true, Code::InvalidArgument, Duration::from_millis(5));
        let figures = window.take();
        assert_eq!((figures.stable_requests, figures.stable_errors), (100, 0));
        assert_eq!(
            (figures.canary_requests, figures.canary_errors),
            (2, 1),
            "client errors do not count"
        );
        let p99 = figures.stable_p99.unwrap();
        assert!(
            p99 >= Duration::from_millis(99) && p99 <= Duration::from_millis(120),
            "{p99:?}"
        );
        assert_eq!(window.take(), WindowFigures::default());
    }

    #[test]
    fn mirrors_are_canary_requests_only_at_step_zero() {
        let window = RolloutWindow::default();
        let mirror = MirrorFigures {
            code: Code::Ok,
            elapsed: Duration::from_millis(2),
            compared: Some((9, 10, 0.25)),
        };
        window.record_mirror(mirror);
        window.set_shadow_only(true);
        window.record_mirror(mirror);
        let figures = window.take();
        assert_eq!(figures.canary_requests, 1);
        assert_eq!(
            (figures.mirrors, figures.argmax_agree, figures.argmax_rows),
            (2, 18, 20)
        );
        assert!((figures.abs_diff_sum - 0.5).abs() < 1e-9);
    }
}
