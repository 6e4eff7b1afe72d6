//! The state machine on a fake clock: `Instant` plus `Duration` arithmetic.

use std::time::{Duration, Instant};

use super::*;
use crate::error::Code;
use crate::routing::Target;

pub(super) const INTERVAL: Duration = Duration::from_secs(60);

/// Targets m/1, m/2, ... with these configured weights.
pub(super) fn targets(weights: &[u32]) -> Vec<Target> {
    weights
        .iter()
        .enumerate()
        .map(|(i, &weight)| Target {
            model: "m".into(),
            version: Some(i as u64 + 1),
            weight,
        })
        .collect()
}

/// The contract's rollout without the shadow gates: canary = target 1.
pub(super) fn rollout(steps: &[u8]) -> Rollout {
    Rollout {
        canary: 1,
        steps: steps.to_vec(),
        interval: INTERVAL,
        min_requests: 200,
        gates: Gates {
            max_error_rate: Some(0.01),
            max_p99_ratio: Some(1.5),
            min_argmax_agreement: None,
            max_mean_abs_diff: None,
        },
        failure_limit: 2,
    }
}

/// The contract's rollout with the shadow gates and step 0.
fn shadow_rollout() -> Rollout {
    let mut rollout = rollout(&[0, 5, 25, 50, 100]);
    rollout.gates.min_argmax_agreement = Some(0.98);
    rollout.gates.max_mean_abs_diff = Some(0.5);
    rollout
}

/// A window the contract's gates pass at a step above 0.
fn healthy() -> WindowFigures {
    WindowFigures {
        canary_requests: 500,
        stable_requests: 9_500,
        canary_errors: 2,
        stable_errors: 10,
        canary_p99: Some(Duration::from_millis(20)),
        stable_p99: Some(Duration::from_millis(18)),
        ..WindowFigures::default()
    }
}

/// A shadow-only window: no client traffic on the canary, 300 mirrors.
fn mirrored() -> WindowFigures {
    WindowFigures {
        canary_requests: 300,
        stable_requests: 10_000,
        canary_p99: Some(Duration::from_millis(20)),
        stable_p99: Some(Duration::from_millis(18)),
        mirrors: 300,
        argmax_agree: 297,
        argmax_rows: 300,
        abs_diff_sum: 300.0 * 0.1,
        abs_diff_count: 300,
        ..WindowFigures::default()
    }
}

fn run(state: RolloutState, rollout: &Rollout, window: &WindowFigures, now: Instant) -> Decision {
    state.check(rollout, window, now)
}

#[test]
fn a_pass_advances_one_step_and_starts_a_new_window() {
    let t0 = Instant::now();
    let r = rollout(&[5, 25, 50, 100]);
    let d = run(RolloutState::start(t0), &r, &healthy(), t0 + INTERVAL);
    assert_eq!(d.outcome, Outcome::Pass, "{:?}", d.reasons);
    assert_eq!((d.judged_step, d.judged_percent), (0, 5));
    assert_eq!((d.next.step_index, d.canary_percent), (1, 25));
    assert_eq!(d.next.status, Status::Progressing);
    assert_eq!(d.next.step_started, t0 + INTERVAL);
    assert_eq!(d.next.window_started, t0 + INTERVAL);
    assert!(d.route_changed && d.window_ended());
    assert_eq!(d.reasons.last().unwrap(), "advanced to step 1 (25%)");
    assert_eq!(d.figures, healthy());
    assert_eq!(d.measured.canary_error_rate, Some(0.004));
}

#[test]
fn not_due_before_the_interval() {
    let t0 = Instant::now();
    let r = rollout(&[5, 100]);
    let state = RolloutState::start(t0);
    let d = run(state, &r, &healthy(), t0 + INTERVAL - Duration::from_millis(1));
    assert_eq!(d.outcome, Outcome::NotDue);
    assert_eq!(d.next, state);
    assert!(!d.route_changed && !d.window_ended());
    assert!(
        d.reasons[0].contains("of the 60s interval elapsed"),
        "{:?}",
        d.reasons
    );
    assert!(!state.is_due(&r, t0 + INTERVAL - Duration::from_millis(1)));
    assert!(state.is_due(&r, t0 + INTERVAL));
    // A clock that seems to go backwards is simply not due.
    let d = run(RolloutState::start(t0 + INTERVAL), &r, &healthy(), t0);
    assert_eq!(d.outcome, Outcome::NotDue);
}

#[test]
fn too_few_requests_hold_the_step() {
    let t0 = Instant::now();
    let r = rollout(&[5, 100]);
    let few = WindowFigures {
        canary_requests: 199,
        ..healthy()
    };
    let d = run(RolloutState::start(t0), &r, &few, t0 + INTERVAL);
    assert_eq!(d.outcome, Outcome::Inconclusive);
    assert_eq!((d.next.step_index, d.next.failures), (0, 0));
    assert_eq!(d.next.step_started, t0);
    assert_eq!(d.next.window_started, t0 + INTERVAL);
    assert!(d.window_ended() && !d.route_changed);
    assert_eq!(
        d.reasons,
        vec![
            "canary requests 199 below min_requests 200",
            "holding step 0 (5%)"
        ]
    );
    // The next window is due one interval later, not at once.
    let d = run(d.next, &r, &healthy(), t0 + INTERVAL + Duration::from_secs(1));
    assert_eq!(d.outcome, Outcome::NotDue);
}

#[test]
fn a_failure_counts_and_holds_the_step() {
    let t0 = Instant::now();
    let r = rollout(&[5, 25, 100]);
    let bad = WindowFigures {
        canary_errors: 50,
        ..healthy()
    };
    let d = run(RolloutState::start(t0), &r, &bad, t0 + INTERVAL);
    assert_eq!(d.outcome, Outcome::Fail);
    assert_eq!(d.next.failures, 1);
    assert_eq!((d.next.step_index, d.next.status), (0, Status::Progressing));
    assert_eq!(d.canary_percent, 5);
    assert!(!d.route_changed);
    assert_eq!(
        d.reasons.last().unwrap(),
        "failed check 1 of 2, holding step 0 (5%)"
    );
    assert!(!d.next.is_due(&r, t0 + INTERVAL + Duration::from_secs(59)));
}

#[test]
fn rolls_back_at_the_failure_limit() {
    let t0 = Instant::now();
    let r = rollout(&[5, 25, 100]);
    let bad = WindowFigures {
        canary_errors: 50,
        ..healthy()
    };
    let first = run(RolloutState::start(t0), &r, &healthy(), t0 + INTERVAL).next;
    let second = run(first, &r, &bad, t0 + 2 * INTERVAL).next;
    let d = run(second, &r, &bad, t0 + 3 * INTERVAL);
    assert_eq!(d.outcome, Outcome::Fail);
    assert_eq!(d.next.status, Status::RolledBack);
    assert_eq!((d.next.failures, d.judged_percent, d.canary_percent), (2, 25, 0));
    assert!(d.route_changed);
    assert!(!d.next.shadow_on() && !d.next.shadow_only(&r));
    assert_eq!(d.next.weights(&r, &targets(&[100, 0])), vec![10_000, 0]);
    assert!(
        d.reasons
            .last()
            .unwrap()
            .starts_with("rolled back after 2 failed checks")
    );
    // It holds there: nothing more is checked, whatever the figures.
    let later = run(d.next, &r, &healthy(), t0 + 10 * INTERVAL);
    assert_eq!(later.outcome, Outcome::Finished);
    assert_eq!(later.next, d.next);
    assert!(!later.route_changed && !later.window_ended());
}

#[test]
fn failures_count_over_the_whole_rollout() {
    let t0 = Instant::now();
    let r = rollout(&[5, 25, 50, 100]);
    let bad = WindowFigures {
        canary_errors: 50,
        ..healthy()
    };
    let s = run(RolloutState::start(t0), &r, &bad, t0 + INTERVAL).next;
    let s = run(s, &r, &healthy(), t0 + 2 * INTERVAL).next;
    assert_eq!((s.step_index, s.failures), (1, 1));
    let d = run(s, &r, &bad, t0 + 3 * INTERVAL);
    assert_eq!(d.next.status, Status::RolledBack);
}

#[test]
fn promoted_on_arriving_at_the_last_step() {
    let t0 = Instant::now();
    let r = rollout(&[5, 25, 50, 100]);
    let mut state = RolloutState::start(t0);
    for i in 1..=3u32 {
        let d = run(state, &r, &healthy(), t0 + i * INTERVAL);
        assert_eq!(d.outcome, Outcome::Pass);
        state = d.next;
    }
    assert_eq!((state.step_index, state.status), (3, Status::Promoted));
    assert_eq!(state.canary_percent(&r), 100);
    assert!(state.shadow_on());
    assert_eq!(state.weights(&r, &targets(&[100, 0])), vec![0, 10_000]);
    let d = run(state, &r, &healthy(), t0 + 9 * INTERVAL);
    assert_eq!(d.outcome, Outcome::Finished);
    assert_eq!(d.reasons, vec!["rollout promoted; nothing to check"]);
}

#[test]
fn promotion_keeps_a_last_step_below_100() {
    let t0 = Instant::now();
    let r = rollout(&[10, 30]);
    let d = run(RolloutState::start(t0), &r, &healthy(), t0 + INTERVAL);
    assert_eq!((d.next.status, d.canary_percent), (Status::Promoted, 30));
    assert_eq!(d.reasons.last().unwrap(), "promoted at 30%");
    // A single step is promoted when its own check passes.
    let r = rollout(&[20]);
    let d = run(RolloutState::start(t0), &r, &healthy(), t0 + INTERVAL);
    assert_eq!(
        (d.next.status, d.next.step_index, d.canary_percent),
        (Status::Promoted, 0, 20)
    );
    assert!(!d.route_changed);
}

#[test]
fn a_routes_file_change_restarts_at_step_zero() {
    let t0 = Instant::now();
    let r = shadow_rollout();
    let bad = WindowFigures {
        argmax_agree: 100,
        ..mirrored()
    };
    let s = run(RolloutState::start(t0), &r, &mirrored(), t0 + INTERVAL).next;
    let s = run(s, &r, &bad, t0 + 2 * INTERVAL).next;
    let s = run(s, &r, &bad, t0 + 3 * INTERVAL).next;
    assert_eq!(s.status, Status::RolledBack);
    // The caller sees the file change and starts again.
    let t1 = t0 + 4 * INTERVAL;
    let restarted = RolloutState::start(t1);
    assert_eq!(restarted.step_index, 0);
    assert_eq!(restarted.failures, 0);
    assert_eq!(restarted.status, Status::Progressing);
    assert_eq!((restarted.step_started, restarted.window_started), (t1, t1));
    assert!(restarted.shadow_on() && restarted.shadow_only(&r));
    assert!(!restarted.is_due(&r, t1 + INTERVAL / 2));
}

#[test]
fn step_zero_is_shadow_only_and_judged_on_mirrors() {
    let t0 = Instant::now();
    let r = shadow_rollout();
    let state = RolloutState::start(t0);
    assert!(state.shadow_only(&r) && state.shadow_on());
    assert_eq!(state.canary_percent(&r), 0);
    assert_eq!(state.weights(&r, &targets(&[100, 0])), vec![10_000, 0]);
    let d = run(state, &r, &mirrored(), t0 + INTERVAL);
    assert_eq!(d.outcome, Outcome::Pass, "{:?}", d.reasons);
    assert_eq!((d.next.step_index, d.canary_percent), (1, 5));
    assert!(d.route_changed && !d.next.shadow_only(&r));
    assert!(
        d.reasons
            .iter()
            .any(|r| r == "argmax agreement 0.9900 meets min 0.98")
    );
    assert!(
        d.reasons
            .iter()
            .any(|r| r == "mean abs diff 0.1000 within max 0.5")
    );
    // The sample at step 0 is the mirrors compared, not canary requests.
    let few_mirrors = WindowFigures {
        mirrors: 199,
        canary_requests: 5_000,
        ..mirrored()
    };
    let d = run(state, &r, &few_mirrors, t0 + INTERVAL);
    assert_eq!(d.outcome, Outcome::Inconclusive);
    assert_eq!(d.reasons[0], "mirrors compared 199 below min_requests 200");
}

#[test]
fn shadow_gates_fail_on_disagreement_difference_or_nan() {
    let t0 = Instant::now();
    let r = shadow_rollout();
    let state = RolloutState::start(t0);
    let disagree = WindowFigures {
        argmax_agree: 290,
        ..mirrored()
    };
    let d = run(state, &r, &disagree, t0 + INTERVAL);
    assert_eq!(d.outcome, Outcome::Fail);
    assert!(
        d.reasons
            .contains(&"argmax agreement 0.9667 below min 0.98".to_string()),
        "{:?}",
        d.reasons
    );
    let far = WindowFigures {
        abs_diff_sum: 300.0 * 0.6,
        ..mirrored()
    };
    let d = run(state, &r, &far, t0 + INTERVAL);
    assert_eq!(d.outcome, Outcome::Fail);
    assert!(
        d.reasons
            .contains(&"mean abs diff 0.6000 above max 0.5".to_string()),
        "{:?}",
        d.reasons
    );
    let nan = WindowFigures {
        abs_diff_sum: f64::NAN,
        ..mirrored()
    };
    assert_eq!(run(state, &r, &nan, t0 + INTERVAL).outcome, Outcome::Fail);
    // No rows compared: the gate cannot be judged, the step holds.
    let no_rows = WindowFigures {
        argmax_agree: 0,
        argmax_rows: 0,
        ..mirrored()
    };
    let d = run(state, &r, &no_rows, t0 + INTERVAL);
    assert_eq!(d.outcome, Outcome::Inconclusive);
    assert!(
        d.reasons
            .contains(&"argmax agreement not measured in this window".to_string())
    );
}

#[test]
fn error_rate_gate() {
    let t0 = Instant::now();
    let r = rollout(&[5, 100]);
    let with_errors = |errors| WindowFigures {
        canary_requests: 200,
        canary_errors: errors,
        ..healthy()
    };
    let at_limit = run(RolloutState::start(t0), &r, &with_errors(2), t0 + INTERVAL);
    assert_eq!(at_limit.outcome, Outcome::Pass, "{:?}", at_limit.reasons);
    let above = run(RolloutState::start(t0), &r, &with_errors(3), t0 + INTERVAL);
    assert_eq!(above.outcome, Outcome::Fail);
    assert_eq!(above.reasons[0], "canary error rate 0.0150 above max 0.01");
    assert_eq!(above.measured.canary_error_rate, Some(0.015));
    // Client errors do not count; everything else that is not OK does.
    let counted: Vec<Code> = Code::ALL.into_iter().filter(|&c| counts_as_error(c)).collect();
    assert_eq!(
        counted,
        vec![
            Code::Cancelled,
            Code::DeadlineExceeded,
            Code::ResourceExhausted,
            Code::Unimplemented,
            Code::Internal,
            Code::Unavailable
        ]
    );
}

#[test]
fn p99_ratio_gate() {
    let t0 = Instant::now();
    let r = rollout(&[5, 100]);
    let with_p99 = |canary: Option<u64>, stable: Option<u64>| WindowFigures {
        canary_p99: canary.map(Duration::from_millis),
        stable_p99: stable.map(Duration::from_millis),
        ..healthy()
    };
    let check = |window: WindowFigures| run(RolloutState::start(t0), &r, &window, t0 + INTERVAL);
    assert_eq!(check(with_p99(Some(27), Some(18))).outcome, Outcome::Pass);
    let slow = check(with_p99(Some(30), Some(18)));
    assert_eq!(slow.outcome, Outcome::Fail);
    assert_eq!(slow.reasons[1], "p99 ratio (canary/stable) 1.6667 above max 1.5");
    let d = check(with_p99(None, Some(18)));
    assert_eq!(d.outcome, Outcome::Inconclusive);
    assert_eq!(
        d.reasons[1],
        "p99 ratio (canary/stable) not measured in this window"
    );
    assert_eq!(check(with_p99(Some(1), Some(0))).outcome, Outcome::Fail);
    assert_eq!(check(with_p99(Some(0), Some(0))).outcome, Outcome::Pass);
    // A failed gate fails the check even when another lacks its figure.
    let both = WindowFigures {
        canary_errors: 100,
        ..with_p99(Some(20), None)
    };
    assert_eq!(check(both).outcome, Outcome::Fail);
}

#[test]
fn without_gates_a_full_window_passes() {
    let t0 = Instant::now();
    let mut r = rollout(&[5, 100]);
    r.gates = Gates::default();
    let d = run(RolloutState::start(t0), &r, &healthy(), t0 + INTERVAL);
    assert_eq!(d.outcome, Outcome::Pass);
    assert_eq!(d.reasons, vec!["no gates configured", "promoted at 100%"]);
}

#[test]
fn a_decision_is_one_json_line() {
    let t0 = Instant::now();
    let r = rollout(&[5, 100]);
    let d = run(RolloutState::start(t0), &r, &healthy(), t0 + INTERVAL);
    let line = serde_json::to_string(&d).unwrap();
    for needle in [
        r#""outcome":"pass""#,
        r#""judged_step":0"#,
        r#""step_index":1"#,
        r#""status":"promoted""#,
        r#""canary_percent":100"#,
        r#""canary_p99_ms":20.0"#,
        r#""canary_error_rate":0.004"#,
        r#""reasons":["canary error rate 0.0040 within max 0.01""#,
    ] {
        assert!(line.contains(needle), "{needle} not in {line}");
    }
    assert!(!line.contains('\n'));
}
