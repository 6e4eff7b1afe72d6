//! Per-version metric handles, created once so the request path records
//! without building label sets (which allocate) on every call, and created
//! when the version first records, so an idle version adds no series to the
//! exposition (a repository of thousands of models scrapes small).

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};
use std::time::Duration;

use metrics::{Counter, Histogram};

use super::queue_budget::QueueBudget;
use super::stats::VersionStats;
use crate::error::Code;
use crate::telemetry::{metric, requests_counter};

/// A histogram of this version, registered on first use.
pub struct LazyHistogram {
    name: &'static str,
    labels: [(&'static str, String); 2],
    handle: OnceLock<Histogram>,
}

impl LazyHistogram {
    fn new(name: &'static str, model: &str, version: &str) -> Self {
        Self {
            name,
            labels: [("model", model.to_string()), ("version", version.to_string())],
            handle: OnceLock::new(),
        }
    }

    pub fn record(&self, value: f64) {
        self.handle
            .get_or_init(|| metrics::histogram!(self.name, &self.labels))
            .record(value);
    }
}

pub struct VersionMetrics {
    model: String,
    version: String,
    pub(super) queue: LazyHistogram,
    pub(super) inference: LazyHistogram,
    pub(super) batch_size: LazyHistogram,
    request_duration: LazyHistogram,
    /// Triton's statistics of this version.
    pub stats: VersionStats,
    /// How long a request may wait for a session, from recent run times.
    pub queue_budget: QueueBudget,
    /// `switchyard_requests_total` handles by route, then by code.
    requests: RwLock<HashMap<String, HashMap<Code, Counter>>>,
}

impl VersionMetrics {
    pub fn new(model: &str, version: &str, stats: VersionStats, queue_budget: QueueBudget) -> Self {
        Self {
            model: model.to_string(),
            version: version.to_string(),
            queue: LazyHistogram::new(metric::QUEUE_DURATION, model, version),
            inference: LazyHistogram::new(metric::INFERENCE_DURATION, model, version),
            batch_size: LazyHistogram::new(metric::BATCH_SIZE, model, version),
            request_duration: LazyHistogram::new(metric::REQUEST_DURATION, model, version),
            stats,
            queue_budget,
            requests: RwLock::new(HashMap::new()),
        }
    }

    /// One run (a merged batch counts once) took `elapsed`.
    pub fn record_run(&self, elapsed: Duration) {
        self.inference.record(elapsed.as_secs_f64());
        self.queue_budget.record_run(elapsed);
    }

    /// Records one answered request of this version.
    pub fn record_request(&self, route: &str, code: Code, elapsed: Duration) {
        self.request_duration.record(elapsed.as_secs_f64());
        self.stats.record_request(code == Code::Ok, elapsed);
        let known = self.requests.read().ok().and_then(|by_route| {
            by_route
                .get(route)
                .and_then(|by_code| by_code.get(&code))
                .cloned()
        });
        let counter = known.unwrap_or_else(|| {
            let counter = requests_counter(route, &self.model, &self.version, code.as_str());
            if let Ok(mut by_route) = self.requests.write() {
                by_route
                    .entry(route.to_string())
                    .or_default()
                    .insert(code, counter.clone());
            }
            counter
        });
        counter.increment(1);
    }
}
