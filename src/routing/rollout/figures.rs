//! What the engine measures over one window, and the rates derived from it.

use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::error::Code;

/// One window's figures for a route under rollout, filled by the engine and
/// reset after every check that is due (whatever its outcome).
///
/// "Canary" is the rollout's canary target; "stable" is every other target
/// of the route. At a step above 0 the canary figures count the client
/// requests routed to the canary (not mirrors). At a shadow-only step (0)
/// the canary gets no client traffic, so its figures count the mirror runs
/// it served instead ([`RolloutState::shadow_only`](super::RolloutState::shadow_only)
/// tells the engine which applies). The mirror figures count mirrors to the
/// canary at every step while the shadow is on.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WindowFigures {
    /// Requests the canary answered (mirror runs at step 0).
    pub canary_requests: u64,
    /// Requests the other targets answered.
    pub stable_requests: u64,
    /// Canary answers that count as errors ([`counts_as_error`]).
    pub canary_errors: u64,
    /// Stable answers that count as errors ([`counts_as_error`]).
    pub stable_errors: u64,
    /// 99th percentile latency of the canary's answers in the window.
    #[serde(rename = "canary_p99_ms", serialize_with = "millis")]
    pub canary_p99: Option<Duration>,
    /// 99th percentile latency of the stable answers in the window.
    #[serde(rename = "stable_p99_ms", serialize_with = "millis")]
    pub stable_p99: Option<Duration>,
    /// Mirrors to the canary whose outputs were compared with the primary's
    /// (a mirror that failed or mismatched in shape is not compared).
    pub mirrors: u64,
    /// Compared rows whose argmax agreed (`Comparison::argmax_agree`, summed).
    pub argmax_agree: u64,
    /// Compared rows in all (`argmax_agree + argmax_disagree`, summed).
    pub argmax_rows: u64,
    /// Sum of the mirrors' mean absolute differences (`Comparison::mean_abs_diff`).
    pub abs_diff_sum: f64,
    /// How many values `abs_diff_sum` adds up (the mirrors compared).
    pub abs_diff_count: u64,
}

/// Whether an answer with this code counts against a target: anything not
/// OK except the client's own mistakes (`INVALID_ARGUMENT`, `NOT_FOUND`).
pub fn counts_as_error(code: Code) -> bool {
    !matches!(code, Code::Ok | Code::InvalidArgument | Code::NotFound)
}

/// Rates derived from a window; `None` where the denominator is zero or a
/// latency was not measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Measured {
    pub canary_error_rate: Option<f64>,
    pub stable_error_rate: Option<f64>,
    pub p99_ratio: Option<f64>,
    pub argmax_agreement: Option<f64>,
    pub mean_abs_diff: Option<f64>,
}

impl WindowFigures {
    /// The rates the gates compare.
    pub fn measured(&self) -> Measured {
        Measured {
            canary_error_rate: ratio(self.canary_errors as f64, self.canary_requests),
            stable_error_rate: ratio(self.stable_errors as f64, self.stable_requests),
            p99_ratio: p99_ratio(self.canary_p99, self.stable_p99),
            argmax_agreement: ratio(self.argmax_agree as f64, self.argmax_rows),
            mean_abs_diff: ratio(self.abs_diff_sum, self.abs_diff_count),
        }
    }
}

fn ratio(part: f64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part / whole as f64)
}

/// Canary p99 / stable p99. Two zero latencies are a ratio of 1; a zero
/// stable p99 under a positive canary one is infinite.
fn p99_ratio(canary: Option<Duration>, stable: Option<Duration>) -> Option<f64> {
    let (canary, stable) = (canary?.as_secs_f64(), stable?.as_secs_f64());
    Some(match (canary == 0.0, stable == 0.0) {
        (true, true) => 1.0,
        (false, true) => f64::INFINITY,
        _ => canary / stable,
    })
}

fn millis<S: Serializer>(value: &Option<Duration>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(duration) => serializer.serialize_some(&(duration.as_secs_f64() * 1e3)),
        None => serializer.serialize_none(),
    }
}
