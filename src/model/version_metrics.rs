//! Per-version metric handles, created once so the request path records
//! without building label sets (which allocate) on every call.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use metrics::{Counter, Histogram};

use super::stats::VersionStats;
use crate::error::Code;
use crate::telemetry::{metric, requests_counter};

pub struct VersionMetrics {
    model: String,
    version: String,
    pub(super) queue: Histogram,
    pub(super) inference: Histogram,
    pub(super) batch_size: Histogram,
    request_duration: Histogram,
    /// Triton's statistics of this version.
    pub stats: VersionStats,
    /// `switchyard_requests_total` handles by route, then by code.
    requests: RwLock<HashMap<String, HashMap<Code, Counter>>>,
}

impl VersionMetrics {
    pub fn new(model: &str, version: &str, stats: VersionStats) -> Self {
        let labels = [("model", model.to_string()), ("version", version.to_string())];
        Self {
            model: model.to_string(),
            version: version.to_string(),
            queue: metrics::histogram!(metric::QUEUE_DURATION, &labels),
            inference: metrics::histogram!(metric::INFERENCE_DURATION, &labels),
            batch_size: metrics::histogram!(metric::BATCH_SIZE, &labels),
            request_duration: metrics::histogram!(metric::REQUEST_DURATION, &labels),
            stats,
            requests: RwLock::new(HashMap::new()),
        }
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
