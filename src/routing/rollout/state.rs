//! The rollout's decision state machine: which step is in force, how many
//! checks failed, and what one check of a window decides.

use std::time::Instant;

use serde::Serialize;

use super::figures::{Measured, WindowFigures};
use super::judge::{Outcome, judge};
use super::settings::Rollout;

/// Where a rollout stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Checking windows; the canary has the current step's share.
    Progressing,
    /// Reached the last step after the check of the one before it passed
    /// (or passed the only step); the canary keeps the last step's share.
    Promoted,
    /// Hit `failure_limit`: the canary's share is 0 and the shadow is off
    /// until the routes file changes (the caller then starts a new state).
    RolledBack,
}

impl Status {
    /// Lowercase name, for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Progressing => "progressing",
            Self::Promoted => "promoted",
            Self::RolledBack => "rolled_back",
        }
    }
}

/// The state of one route's rollout. Pure data: the caller keeps it, asks
/// [`check`](Self::check) with a window's figures and the current time, and
/// keeps the decision's `next` state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RolloutState {
    /// Index into `Rollout::steps` of the step in force.
    pub step_index: usize,
    /// Failed checks so far in this rollout.
    pub failures: u32,
    pub status: Status,
    /// When the step in force began.
    #[serde(skip)]
    pub step_started: Instant,
    /// When the current window began: the step's start, or the last check
    /// that was due. A check is due once `interval` has passed since then.
    #[serde(skip)]
    pub window_started: Instant,
}

/// What one call of [`RolloutState::check`] decided, with everything it used,
/// so the caller can log it as one line (it is `Serialize`; `next`'s fields
/// are flattened in, its instants left out).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub outcome: Outcome,
    /// The step the window was judged at, and its canary share in percent.
    pub judged_step: usize,
    pub judged_percent: u8,
    /// The state after the decision.
    #[serde(flatten)]
    pub next: RolloutState,
    /// The canary's share in force after the decision, in percent.
    pub canary_percent: u8,
    /// Whether the weights or the shadow in force change with this decision
    /// (a step advanced, or a roll-back).
    pub route_changed: bool,
    /// Human-readable: one line per gate, then what the decision does.
    pub reasons: Vec<String>,
    pub figures: WindowFigures,
    pub measured: Measured,
}

impl Decision {
    /// Whether this decision consumed the window: the caller then starts
    /// counting a new one (true for pass, fail and inconclusive).
    pub fn window_ended(&self) -> bool {
        matches!(
            self.outcome,
            Outcome::Pass | Outcome::Fail | Outcome::Inconclusive
        )
    }
}

impl RolloutState {
    /// A rollout starting at its first step (index 0), no failures. Also what
    /// the caller builds again whenever the routes file's content changes.
    pub fn start(now: Instant) -> Self {
        Self {
            step_index: 0,
            failures: 0,
            status: Status::Progressing,
            step_started: now,
            window_started: now,
        }
    }

    /// The canary's share in percent: the step's, 0 once rolled back.
    pub fn canary_percent(&self, rollout: &Rollout) -> u8 {
        match self.status {
            Status::RolledBack => 0,
            _ => rollout.percent_at(self.step_index),
        }
    }

    /// Whether the route's shadow (if it has one) mirrors: on unless rolled back.
    pub fn shadow_on(&self) -> bool {
        self.status != Status::RolledBack
    }

    /// Whether the canary is judged on mirrors: a step of 0 in force, not
    /// rolled back. The engine then fills the canary figures from the
    /// canary's mirror runs.
    pub fn shadow_only(&self, rollout: &Rollout) -> bool {
        self.status != Status::RolledBack && rollout.percent_at(self.step_index) == 0
    }

    /// Whether a check would judge a window at `now`.
    pub fn is_due(&self, rollout: &Rollout, now: Instant) -> bool {
        self.status == Status::Progressing
            && now.saturating_duration_since(self.window_started) >= rollout.interval
    }

    /// Judges `window` if the interval has passed since the window started:
    /// a pass advances one step (arriving at the last one is promotion), a
    /// failure counts towards `failure_limit` and rolls back at it, too few
    /// requests hold the step. Every due check starts a new window at `now`.
    pub fn check(&self, rollout: &Rollout, window: &WindowFigures, now: Instant) -> Decision {
        if self.status != Status::Progressing {
            let reason = format!("rollout {}; nothing to check", self.status.as_str());
            return self.decide(rollout, window, Outcome::Finished, *self, vec![reason]);
        }
        if !self.is_due(rollout, now) {
            let elapsed = now.saturating_duration_since(self.window_started);
            let reason = format!("{elapsed:?} of the {:?} interval elapsed", rollout.interval);
            return self.decide(rollout, window, Outcome::NotDue, *self, vec![reason]);
        }
        let verdict = judge(rollout, window, self.shadow_only(rollout));
        let mut reasons = verdict.reasons;
        let mut next = Self {
            window_started: now,
            ..*self
        };
        match verdict.outcome {
            Outcome::Pass => next.advance(rollout, now, &mut reasons),
            Outcome::Fail => next.fail(rollout, &mut reasons),
            _ => reasons.push(format!(
                "holding step {} ({}%)",
                self.step_index,
                self.canary_percent(rollout)
            )),
        }
        self.decide(rollout, window, verdict.outcome, next, reasons)
    }

    fn advance(&mut self, rollout: &Rollout, now: Instant, reasons: &mut Vec<String>) {
        let last = rollout.last_index();
        if self.step_index < last {
            self.step_index += 1;
            self.step_started = now;
        }
        if self.step_index >= last {
            self.status = Status::Promoted;
            reasons.push(format!("promoted at {}%", self.canary_percent(rollout)));
        } else {
            reasons.push(format!(
                "advanced to step {} ({}%)",
                self.step_index,
                self.canary_percent(rollout)
            ));
        }
    }

    fn fail(&mut self, rollout: &Rollout, reasons: &mut Vec<String>) {
        self.failures = self.failures.saturating_add(1);
        if self.failures >= rollout.failure_limit {
            self.status = Status::RolledBack;
            reasons.push(format!(
                "rolled back after {} failed checks (limit {}): canary at 0%, shadow off",
                self.failures, rollout.failure_limit
            ));
        } else {
            reasons.push(format!(
                "failed check {} of {}, holding step {} ({}%)",
                self.failures,
                rollout.failure_limit,
                self.step_index,
                self.canary_percent(rollout)
            ));
        }
    }

    fn decide(
        &self,
        rollout: &Rollout,
        window: &WindowFigures,
        outcome: Outcome,
        next: RolloutState,
        reasons: Vec<String>,
    ) -> Decision {
        let canary_percent = next.canary_percent(rollout);
        Decision {
            outcome,
            judged_step: self.step_index,
            judged_percent: self.canary_percent(rollout),
            next,
            canary_percent,
            route_changed: canary_percent != self.canary_percent(rollout)
                || next.shadow_on() != self.shadow_on(),
            reasons,
            figures: window.clone(),
            measured: window.measured(),
        }
    }
}
