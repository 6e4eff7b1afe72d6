//! Request metrics, recorded when dropped so a call the client cancelled
//! still counts (as CANCELLED). The common case (a resolved version) uses
//! the version's cached metric handles and allocates nothing.

use std::sync::Arc;
use std::time::Instant;

use crate::error::Code;
use crate::model::ModelVersion;
use crate::routing::Route;
use crate::routing::rollout::RolloutWindow;
use crate::telemetry::{metric, requests_counter};

pub struct RequestRecord {
    started: Instant,
    pub route: Option<Arc<Route>>,
    pub version: Option<Arc<ModelVersion>>,
    /// The model name a request asked for when no version was resolved.
    pub unresolved_model: String,
    deadline: Option<Instant>,
    code: Option<Code>,
    /// The route's rollout window, and whether the canary answered.
    pub rollout: Option<(Arc<RolloutWindow>, bool)>,
}

impl RequestRecord {
    pub fn start(deadline: Option<Instant>) -> Self {
        metrics::gauge!(metric::INFLIGHT).increment(1.0);
        Self {
            started: Instant::now(),
            route: None,
            version: None,
            unresolved_model: String::new(),
            deadline,
            code: None,
            rollout: None,
        }
    }

    pub fn finish(&mut self, code: Code) {
        self.code = Some(code);
    }
}

impl Drop for RequestRecord {
    fn drop(&mut self) {
        metrics::gauge!(metric::INFLIGHT).decrement(1.0);
        // Dropped unanswered: the client went away, or the transport's own
        // deadline timer ended the call first (the truth is DEADLINE_EXCEEDED).
        let expired = self.deadline.is_some_and(|d| Instant::now() >= d);
        let code = self.code.unwrap_or(if expired {
            Code::DeadlineExceeded
        } else {
            Code::Cancelled
        });
        let route = self.route.as_ref().map_or("", |r| r.name.as_str());
        let elapsed = self.started.elapsed();
        if let Some((window, canary)) = &self.rollout {
            window.record_request(*canary, code, elapsed);
        }
        match &self.version {
            Some(version) => version
                .metrics
                .record_request(route, code, self.started.elapsed()),
            None => requests_counter(route, &self.unresolved_model, "", code.as_str()).increment(1),
        }
    }
}
