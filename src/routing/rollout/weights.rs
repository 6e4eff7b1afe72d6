//! The weights a rollout puts in force on its route.

use super::settings::Rollout;
use super::state::RolloutState;
use crate::routing::{Route, Target};

impl RolloutState {
    /// Effective weight of each of `targets`, in order: the canary has the
    /// share of its step in force (0 once rolled back), the other targets
    /// share the rest in proportion to their configured weights.
    pub fn weights(&self, rollout: &Rollout, targets: &[Target]) -> Vec<u32> {
        split(targets, rollout.canary, self.canary_percent(rollout))
    }

    /// `route` as this state puts it in force: the weights of
    /// [`weights`](Self::weights), and no shadow once rolled back. A route
    /// without a rollout comes back unchanged.
    pub fn effective_route(&self, route: &Route) -> Route {
        let mut effective = route.clone();
        let Some(rollout) = &route.rollout else {
            return effective;
        };
        let weights = self.weights(rollout, &route.targets);
        for (target, weight) in effective.targets.iter_mut().zip(weights) {
            target.weight = weight;
        }
        if !self.shadow_on() {
            effective.shadow = None;
        }
        effective
    }
}

/// Integer weights giving the canary (index `canary`) exactly `percent`% of
/// the total, the others exactly their configured proportions among
/// themselves: the canary gets `percent × S` and each other target
/// `weight × (100 − percent)`, `S` being the others' configured sum (so with
/// `S = 100` the weights are out of 10 000). Between two steps the others'
/// weights all scale by one factor, so weighted rendezvous hashing only moves
/// sticky keys to or from the canary. Scaled down (approximately) only if a
/// weight would not fit in `u32`. An out-of-range `canary` leaves the
/// configured weights.
pub fn split(targets: &[Target], canary: usize, percent: u8) -> Vec<u32> {
    if canary >= targets.len() {
        return targets.iter().map(|t| t.weight).collect();
    }
    let percent = u64::from(percent.min(100));
    let stable: u64 = targets
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != canary)
        .map(|(_, t)| u64::from(t.weight))
        .sum();
    let wide: Vec<u64> = targets
        .iter()
        .enumerate()
        .map(|(i, t)| match (i == canary, stable) {
            // No other weight to share with: the canary has all or nothing.
            (true, 0) => u64::from(percent > 0),
            (true, _) => percent * stable,
            (false, _) => u64::from(t.weight) * (100 - percent),
        })
        .collect();
    fit(&wide)
}

fn fit(wide: &[u64]) -> Vec<u32> {
    let max = wide.iter().copied().max().unwrap_or(0);
    if max <= u64::from(u32::MAX) {
        return wide
            .iter()
            .map(|&w| u32::try_from(w).unwrap_or(u32::MAX))
            .collect();
    }
    let factor = f64::from(u32::MAX) / max as f64;
    wide.iter()
        .map(|&w| match w {
            0 => 0,
            // `as` saturates; a positive weight stays positive.
            w => ((w as f64 * factor) as u32).max(1),
        })
        .collect()
}
