//! Weights in force: proportional to the configuration, and sticky.

use std::time::Instant;

use super::tests::{rollout, targets};
use super::*;
use crate::routing::{Draw, Route, Shadow, sticky_key};

fn route(weights: &[u32], rollout: Rollout) -> Route {
    Route {
        name: "r".into(),
        targets: targets(weights),
        sticky_header: Some("x-user-id".into()),
        shadow: Some(Shadow {
            model: "m".into(),
            version: Some(rollout.canary as u64 + 1),
            fraction: 1.0,
        }),
        rollout: Some(rollout),
    }
}

/// A state at `step_index`, progressing.
fn at(step_index: usize) -> RolloutState {
    RolloutState {
        step_index,
        ..RolloutState::start(Instant::now())
    }
}

#[test]
fn the_canary_has_its_share_and_the_others_keep_their_proportions() {
    let t = targets(&[70, 0, 30]);
    assert_eq!(split(&t, 1, 0), vec![7_000, 0, 3_000]);
    assert_eq!(split(&t, 1, 5), vec![6_650, 500, 2_850]);
    assert_eq!(split(&t, 1, 25), vec![5_250, 2_500, 2_250]);
    assert_eq!(split(&t, 1, 100), vec![0, 10_000, 0]);
    // Odd weights: exact shares, whatever the configured canary weight.
    let t = targets(&[3, 9, 4]);
    let w = split(&t, 1, 5);
    let total: u32 = w.iter().sum();
    assert_eq!(u64::from(w[1]) * 100, 5 * u64::from(total));
    assert_eq!(u64::from(w[0]) * 4, u64::from(w[2]) * 3);
}

#[test]
fn weights_follow_the_state() {
    let r = rollout(&[0, 5, 25, 50, 100]);
    let t = targets(&[100, 0]);
    assert_eq!(at(0).weights(&r, &t), vec![10_000, 0]);
    assert_eq!(at(2).weights(&r, &t), vec![7_500, 2_500]);
    let rolled_back = RolloutState {
        status: Status::RolledBack,
        ..at(3)
    };
    assert_eq!(rolled_back.weights(&r, &t), vec![10_000, 0]);
    let promoted = RolloutState {
        status: Status::Promoted,
        ..at(4)
    };
    assert_eq!(promoted.weights(&r, &t), vec![0, 10_000]);
}

#[test]
fn the_effective_route_carries_weights_and_shadow() {
    let r = route(&[100, 0], rollout(&[0, 5, 100]));
    let step0 = at(0).effective_route(&r);
    assert_eq!(step0.targets[1].weight, 0);
    assert!(step0.shadow.is_some());
    let step1 = at(1).effective_route(&r);
    assert_eq!((step1.targets[0].weight, step1.targets[1].weight), (9_500, 500));
    let rolled_back = RolloutState {
        status: Status::RolledBack,
        ..at(1)
    };
    let back = rolled_back.effective_route(&r);
    assert_eq!((back.targets[0].weight, back.targets[1].weight), (10_000, 0));
    assert!(back.shadow.is_none());
    // Without a rollout the route stays as configured.
    let plain = Route {
        rollout: None,
        ..r.clone()
    };
    assert_eq!(rolled_back.effective_route(&plain), plain);
}

#[test]
fn raising_the_canary_only_moves_keys_to_the_canary() {
    // Canary in the middle, two stable targets at 60/40.
    let mut r = rollout(&[0, 5, 25, 50, 100]);
    r.canary = 1;
    let configured = route(&[60, 0, 40], r);
    let routes: Vec<Route> = (0..5).map(|i| at(i).effective_route(&configured)).collect();
    let keys: Vec<_> = (0..20_000).map(|i| sticky_key(&format!("user-{i}"))).collect();
    let picks: Vec<Vec<u64>> = routes
        .iter()
        .map(|route| {
            keys.iter()
                .map(|&key| route.pick(|_| true, Draw::Sticky(key)).unwrap().version.unwrap())
                .collect()
        })
        .collect();
    for (step, pair) in picks.windows(2).enumerate() {
        let mut moved = 0;
        for (before, after) in pair[0].iter().zip(&pair[1]) {
            if before != after {
                assert_eq!(*after, 2, "step {step}: a key moved {before} -> {after}");
                moved += 1;
            }
        }
        let expected = [0.05, 0.20, 0.25, 0.50][step];
        let share = moved as f64 / keys.len() as f64;
        assert!((share - expected).abs() < 0.015, "step {step}: {share}");
    }
    // The stable targets keep their 60/40 split among the keys they keep.
    let stable: Vec<_> = picks[2].iter().filter(|&&v| v != 2).collect();
    let first = stable.iter().filter(|&&&v| v == 1).count() as f64 / stable.len() as f64;
    assert!((first - 0.6).abs() < 0.015, "{first}");
}

#[test]
fn rolling_back_moves_only_canary_keys_back() {
    let configured = route(&[60, 0, 40], rollout(&[5, 50, 100]));
    let at_50 = at(1).effective_route(&configured);
    let back = RolloutState {
        status: Status::RolledBack,
        ..at(1)
    }
    .effective_route(&configured);
    let mut returned = 0;
    for i in 0..10_000 {
        let key = sticky_key(&format!("user-{i}"));
        let before = at_50.pick(|_| true, Draw::Sticky(key)).unwrap().version;
        let after = back.pick(|_| true, Draw::Sticky(key)).unwrap().version;
        assert_ne!(after, Some(2), "the canary still gets traffic");
        if before == Some(2) {
            returned += 1;
        } else {
            assert_eq!(before, after, "a stable key moved");
        }
    }
    assert!((returned as f64 / 10_000.0 - 0.5).abs() < 0.02, "{returned}");
}

#[test]
fn huge_weights_still_fit_and_keep_their_shares() {
    let t = targets(&[u32::MAX, 0, u32::MAX / 2]);
    let w = split(&t, 1, 50);
    let total: f64 = w.iter().map(|&w| f64::from(w)).sum();
    assert!((f64::from(w[1]) / total - 0.5).abs() < 1e-6, "{w:?}");
    assert!((f64::from(w[0]) / f64::from(w[2]) - 2.0).abs() < 1e-6, "{w:?}");
    // A canary out of range leaves the configured weights.
    assert_eq!(split(&targets(&[1, 2]), 5, 50), vec![1, 2]);
}
