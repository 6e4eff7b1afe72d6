//! The `rollout` block of a route in its validated form.

use std::time::Duration;

/// Validated settings of a route's automatic rollout (canary guard).
///
/// Built by `config::parse_routes`, which checks every rule below against
/// the route it belongs to; the fields are public like the rest of a
/// [`Route`](crate::routing::Route). The state machine never panics on an
/// unvalidated value, but what it decides is then unspecified.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollout {
    /// Index of the canary in the route's `targets` (exactly one target
    /// matches the block's `canary: {model, version}`).
    pub canary: usize,
    /// The canary's share of the route's traffic at each step, in percent:
    /// strictly increasing, each in `0..=100`, at least one, the last above 0.
    /// A step of 0 (only ever the first) is shadow only: the canary gets no
    /// client traffic and is judged on the mirrors the route's shadow (which
    /// is then the canary) sends it.
    pub steps: Vec<u8>,
    /// How long each step lasts at least; also the length of each window the
    /// canary is judged on. Positive.
    pub interval: Duration,
    /// Canary requests a window needs (mirrors compared at a shadow-only
    /// step), else the check is inconclusive and the step holds. At least 1;
    /// `config` defaults it to [`DEFAULT_MIN_REQUESTS`].
    pub min_requests: u64,
    /// The gates; an absent one is not checked.
    pub gates: Gates,
    /// Failed checks, over the whole rollout (a passing check does not reset
    /// the count), that roll the canary back. At least 1; `config` defaults it
    /// to [`DEFAULT_FAILURE_LIMIT`].
    pub failure_limit: u32,
}

/// What a window must show for the canary to pass. `None` = not checked.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Gates {
    /// Highest share, in [0, 1], of canary answers that are not OK (client
    /// errors `INVALID_ARGUMENT` and `NOT_FOUND` excepted).
    pub max_error_rate: Option<f64>,
    /// Highest canary p99 / stable p99 over the same window; finite, > 0.
    pub max_p99_ratio: Option<f64>,
    /// Lowest share, in [0, 1], of compared rows whose argmax agrees between
    /// the canary's mirror and the primary answer. Needs a shadow.
    pub min_argmax_agreement: Option<f64>,
    /// Highest mean absolute difference between the canary's mirror outputs
    /// and the primary's; finite, >= 0. Needs a shadow.
    pub max_mean_abs_diff: Option<f64>,
}

/// `min_requests` when the block leaves it out.
pub const DEFAULT_MIN_REQUESTS: u64 = 100;
/// `failure_limit` when the block leaves it out.
pub const DEFAULT_FAILURE_LIMIT: u32 = 1;

impl Gates {
    /// Whether a gate judges mirror comparisons (and so needs a shadow).
    pub fn needs_shadow(&self) -> bool {
        self.min_argmax_agreement.is_some() || self.max_mean_abs_diff.is_some()
    }
}

impl Rollout {
    /// The canary's share, in percent, at step `index` (the last step's share
    /// past the end; 0 when there are no steps).
    pub fn percent_at(&self, index: usize) -> u8 {
        self.steps.get(index).or(self.steps.last()).copied().unwrap_or(0)
    }

    /// Index of the last step.
    pub fn last_index(&self) -> usize {
        self.steps.len().saturating_sub(1)
    }
}
