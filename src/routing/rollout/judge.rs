//! Judging one window against the gates.

use serde::Serialize;

use super::figures::{Measured, WindowFigures};
use super::settings::Rollout;

/// What a check concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every gate held: the rollout advances one step (or is promoted).
    Pass,
    /// A gate failed: counts towards `failure_limit`.
    Fail,
    /// Too few requests, or a gate's figure was not measured: the step holds.
    Inconclusive,
    /// The interval has not passed since the step (or the window) started.
    NotDue,
    /// Promoted or rolled back already; nothing more is checked.
    Finished,
}

impl Outcome {
    /// Lowercase name, for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Inconclusive => "inconclusive",
            Self::NotDue => "not_due",
            Self::Finished => "finished",
        }
    }
}

/// A window's outcome (`Pass`, `Fail` or `Inconclusive`) and why: one line
/// per gate, plus the sample size when it falls short.
pub(super) struct Verdict {
    pub outcome: Outcome,
    pub reasons: Vec<String>,
}

/// Judges a window. A failed gate fails the check even when another gate
/// lacks its figure; too small a sample is inconclusive whatever the gates say.
pub(super) fn judge(rollout: &Rollout, figures: &WindowFigures, shadow_only: bool) -> Verdict {
    let measured = figures.measured();
    let (sample, what) = if shadow_only {
        (figures.mirrors, "mirrors compared")
    } else {
        (figures.canary_requests, "canary requests")
    };
    if sample < rollout.min_requests {
        return Verdict {
            outcome: Outcome::Inconclusive,
            reasons: vec![format!(
                "{what} {sample} below min_requests {}",
                rollout.min_requests
            )],
        };
    }
    let mut gates = Tally::default();
    judge_gates(rollout, &measured, &mut gates);
    let outcome = if gates.failed {
        Outcome::Fail
    } else if gates.missing {
        Outcome::Inconclusive
    } else {
        Outcome::Pass
    };
    Verdict {
        outcome,
        reasons: gates.reasons,
    }
}

#[derive(Default)]
struct Tally {
    reasons: Vec<String>,
    failed: bool,
    missing: bool,
}

impl Tally {
    /// Records one gate. `holds` compares so that NaN fails.
    fn gate(&mut self, name: &str, value: Option<f64>, limit: f64, at_most: bool) {
        let Some(value) = value else {
            self.missing = true;
            self.reasons.push(format!("{name} not measured in this window"));
            return;
        };
        let holds = if at_most { value <= limit } else { value >= limit };
        let (word, bound) = match (holds, at_most) {
            (true, true) => ("within", "max"),
            (true, false) => ("meets", "min"),
            (false, true) => ("above", "max"),
            (false, false) => ("below", "min"),
        };
        self.failed |= !holds;
        self.reasons
            .push(format!("{name} {value:.4} {word} {bound} {limit}"));
    }
}

fn judge_gates(rollout: &Rollout, measured: &Measured, gates: &mut Tally) {
    let g = &rollout.gates;
    if let Some(limit) = g.max_error_rate {
        gates.gate("canary error rate", measured.canary_error_rate, limit, true);
    }
    if let Some(limit) = g.max_p99_ratio {
        gates.gate("p99 ratio (canary/stable)", measured.p99_ratio, limit, true);
    }
    if let Some(limit) = g.min_argmax_agreement {
        gates.gate("argmax agreement", measured.argmax_agreement, limit, false);
    }
    if let Some(limit) = g.max_mean_abs_diff {
        gates.gate("mean abs diff", measured.mean_abs_diff, limit, true);
    }
    if gates.reasons.is_empty() {
        gates.reasons.push("no gates configured".into());
    }
}
