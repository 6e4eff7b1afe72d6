//! Per-version metric handles, created once so the request path records
//! without building label sets (which allocate) on every call.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use metrics::{Counter, Histogram};
use tonic::Code;

use crate::error::code_label;
use crate::telemetry::metric;

pub struct VersionMetrics {
    model: String,
    version: String,
    pub(super) queue: Histogram,
    pub(super) inference: Histogram,
    pub(super) batch_size: Histogram,
    request_duration: Histogram,
    /// `switchyard_requests_total` handles by route, then by gRPC code.
    requests: RwLock<HashMap<String, HashMap<i32, Counter>>>,
}

impl VersionMetrics {
    pub fn new(model: &str, version: &str) -> Self {
        let labels = [("model", model.to_string()), ("version", version.to_string())];
        Self {
            model: model.to_string(),
            version: version.to_string(),
            queue: metrics::histogram!(metric::QUEUE_DURATION, &labels),
            inference: metrics::histogram!(metric::INFERENCE_DURATION, &labels),
            batch_size: metrics::histogram!(metric::BATCH_SIZE, &labels),
            request_duration: metrics::histogram!(metric::REQUEST_DURATION, &labels),
            requests: RwLock::new(HashMap::new()),
        }
    }

    /// Records one answered request of this version.
    pub fn record_request(&self, route: &str, code: Code, elapsed: Duration) {
        self.request_duration.record(elapsed.as_secs_f64());
        let known = self.requests.read().ok().and_then(|by_route| {
            by_route
                .get(route)
                .and_then(|by_code| by_code.get(&(code as i32)))
                .cloned()
        });
        let counter = known.unwrap_or_else(|| {
            let counter = metrics::counter!(metric::REQUESTS,
                "route" => route.to_string(),
                "model" => self.model.clone(),
                "version" => self.version.clone(),
                "code" => code_label(code));
            if let Ok(mut by_route) = self.requests.write() {
                by_route
                    .entry(route.to_string())
                    .or_default()
                    .insert(code as i32, counter.clone());
            }
            counter
        });
        counter.increment(1);
    }
}
