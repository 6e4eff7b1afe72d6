//! Results: latencies during swaps against steady windows, failures, RSS per cycle.

use super::*;

pub(crate) struct Results {
    pub(crate) total: usize,
    pub(crate) failures: Vec<String>,
    /// Every request from the first steady window to the last one that
    /// overlapped no swap window.
    pub(crate) steady: Latencies,
    pub(crate) swap: Latencies,
    pub(crate) first_window: Latencies,
    pub(crate) last_window: Latencies,
    pub(crate) visible: Latencies,
    pub(crate) before: ProcessStatus,
    /// The server at the end of each cycle, in order.
    pub(crate) cycles: Vec<ProcessStatus>,
    pub(crate) after: ProcessStatus,
    pub(crate) wall: Duration,
    /// At start and at end: other work on the machine skews the latencies.
    pub(crate) load_average: [String; 2],
}

/// Sorted latencies of one class of requests.
pub(crate) struct Latencies(pub(crate) Vec<Duration>);

impl Latencies {
    pub(crate) fn new(mut values: Vec<Duration>) -> Self {
        values.sort();
        Self(values)
    }

    /// Nearest-rank percentile, in milliseconds.
    pub(crate) fn percentile_ms(&self, p: f64) -> f64 {
        let rank = ((p / 100.0) * self.0.len() as f64).ceil() as usize;
        self.0
            .get(rank.saturating_sub(1))
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
    }
}

impl Results {
    pub(crate) fn new(samples: &[Sample], timeline: &Timeline, wall: Duration) -> Self {
        let latencies = |keep: &dyn Fn(&Sample) -> bool| {
            Latencies::new(samples.iter().filter(|s| keep(s)).map(|s| s.latency).collect())
        };
        let inside = |(from, to): (Instant, Instant)| move |s: &Sample| s.start >= from && s.end() <= to;
        let windows: Vec<_> = timeline.cycles.iter().map(Cycle::swap_window).collect();
        let measured = inside((timeline.first_window.0, timeline.last_window.1));
        Self {
            total: samples.len(),
            failures: samples.iter().filter_map(|s| s.outcome.clone().err()).collect(),
            steady: latencies(&|s| measured(s) && !overlaps_any(s, &windows)),
            swap: latencies(&|s| overlaps_any(s, &windows)),
            first_window: latencies(&inside(timeline.first_window)),
            last_window: latencies(&inside(timeline.last_window)),
            visible: Latencies::new(timeline.cycles.iter().map(|c| c.visible - c.renamed).collect()),
            before: timeline.before,
            cycles: timeline.cycles.iter().map(|c| c.status).collect(),
            after: timeline.after,
            wall,
            load_average: Default::default(),
        }
    }

    pub(crate) fn p99_ratio(&self) -> f64 {
        self.swap.percentile_ms(99.0) / self.steady.percentile_ms(99.0)
    }

    /// RSS after the last cycle over RSS after the first, as the target is stated.
    pub(crate) fn rss_ratio(&self) -> f64 {
        let (Some(first), Some(last)) = (self.cycles.first(), self.cycles.last()) else {
            return f64::NAN;
        };
        last.vm_rss_kib as f64 / first.vm_rss_kib as f64
    }

    /// Median RSS of the last ten cycles over that of the first ten: the
    /// trend, without the few-MiB steps single readings take.
    pub(crate) fn rss_trend(&self) -> f64 {
        let span = self.cycles.len().min(10);
        let median = |cycles: &[ProcessStatus]| {
            let mut rss: Vec<u64> = cycles.iter().map(|c| c.vm_rss_kib).collect();
            rss.sort_unstable();
            rss.get(rss.len() / 2).map_or(f64::NAN, |&kib| kib as f64)
        };
        median(&self.cycles[self.cycles.len() - span..]) / median(&self.cycles[..span])
    }
}

/// Whether the request was in flight at any time inside one of the windows
/// (sorted and disjoint).
pub(crate) fn overlaps_any(sample: &Sample, windows: &[(Instant, Instant)]) -> bool {
    let first_ending_after = windows.partition_point(|(_, end)| *end < sample.start);
    windows
        .get(first_ending_after)
        .is_some_and(|(start, _)| *start <= sample.end())
}
