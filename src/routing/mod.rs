//! Route tables and target picking. Picking is a pure function of the table,
//! which targets are ready, and a draw (a uniform random number, or a hash of
//! the sticky header's value), so it can be tested with seeded draws.

pub mod rollout;
mod sticky;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use rollout::Rollout;
pub use sticky::{StickyKey, sticky_key};

/// All routes, by the name clients send as `model_name`.
pub type RouteTable = BTreeMap<String, Arc<Route>>;

/// Where a route sends a share of its traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub model: String,
    /// `None` = the model's default version (its highest ready one).
    pub version: Option<u64>,
    pub weight: u32,
}

impl Target {
    /// Stable identity of the target, used for sticky hashing and labels.
    pub fn label(&self) -> String {
        match self.version {
            Some(version) => format!("{}/{version}", self.model),
            None => self.model.clone(),
        }
    }

    /// Label value of the version (`""` when the default version is meant).
    pub fn version_label(&self) -> String {
        self.version.map(|v| v.to_string()).unwrap_or_default()
    }
}

/// Mirroring of a share of a route's requests to a shadow model.
#[derive(Debug, Clone, PartialEq)]
pub struct Shadow {
    pub model: String,
    pub version: Option<u64>,
    /// Share of requests mirrored, in [0, 1].
    pub fraction: f64,
}

/// One validated route.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub name: String,
    pub targets: Vec<Target>,
    /// Request header (gRPC metadata or HTTP header) whose value keeps a
    /// caller on one target.
    pub sticky_header: Option<String>,
    pub shadow: Option<Shadow>,
    /// Automatic rollout of one of the targets; the weights above are then
    /// the configured ones, and `rollout::RolloutState` gives those in force.
    pub rollout: Option<Rollout>,
}

/// How a target is chosen for one request.
#[derive(Debug, Clone, Copy)]
pub enum Draw {
    /// Uniform in [0, 1): weighted random choice.
    Random(f64),
    /// A sticky key: the same key picks the same target while weights and
    /// readiness stay the same.
    Sticky(StickyKey),
}

impl Route {
    /// Picks a target among those `is_ready` accepts; unready targets are
    /// skipped and the others share their weight. `None` when no target with
    /// positive weight is ready.
    pub fn pick(&self, is_ready: impl Fn(&Target) -> bool, draw: Draw) -> Option<&Target> {
        let candidates = self.targets.iter().filter(|t| t.weight > 0 && is_ready(t));
        match draw {
            Draw::Random(uniform) => {
                let total: u64 = candidates.clone().map(|t| u64::from(t.weight)).sum();
                if total == 0 {
                    return None;
                }
                // Scale to an integer point so the split is exact to the weights.
                let point = ((uniform.clamp(0.0, 1.0 - f64::EPSILON)) * total as f64) as u64;
                let mut upper = 0u64;
                for target in candidates {
                    upper += u64::from(target.weight);
                    if point < upper {
                        return Some(target);
                    }
                }
                None
            }
            // Weighted rendezvous hashing: each target scores the key, the
            // best score wins. Changing one target's weight (or readiness)
            // only moves keys to or from that target.
            Draw::Sticky(key) => candidates
                .map(|t| (key.score(&t.label(), t.weight), t))
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, t)| t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn route(weights: &[u32]) -> Route {
        Route {
            name: "r".into(),
            targets: weights
                .iter()
                .enumerate()
                .map(|(i, &weight)| Target {
                    model: "m".into(),
                    version: Some(i as u64 + 1),
                    weight,
                })
                .collect(),
            sticky_header: None,
            shadow: None,
            rollout: None,
        }
    }

    fn split(route: &Route, draws: usize, is_ready: impl Fn(&Target) -> bool) -> Vec<usize> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut counts = vec![0; route.targets.len()];
        for _ in 0..draws {
            let target = route.pick(&is_ready, Draw::Random(rng.random())).unwrap();
            counts[target.version.unwrap() as usize - 1] += 1;
        }
        counts
    }

    #[test]
    fn random_split_follows_weights() {
        let counts = split(&route(&[90, 10]), 100_000, |_| true);
        assert!((counts[0] as f64 / 100_000.0 - 0.9).abs() < 0.01, "{counts:?}");
    }

    #[test]
    fn zero_weight_gets_nothing_and_unready_share_is_redistributed() {
        let counts = split(&route(&[50, 0, 50]), 10_000, |_| true);
        assert_eq!(counts[1], 0);
        let counts = split(&route(&[50, 25, 25]), 10_000, |t| t.version != Some(1));
        assert_eq!(counts[0], 0);
        assert!((counts[1] as f64 / 10_000.0 - 0.5).abs() < 0.03, "{counts:?}");
    }

    #[test]
    fn nothing_ready_is_none() {
        assert!(route(&[1, 1]).pick(|_| false, Draw::Random(0.5)).is_none());
        assert!(route(&[0, 0]).pick(|_| true, Draw::Random(0.5)).is_none());
    }

    #[test]
    fn sticky_split_follows_weights() {
        let r = route(&[80, 20]);
        let canary = (0..20_000)
            .filter(|i| {
                r.pick(|_| true, Draw::Sticky(sticky_key(&format!("user-{i}"))))
                    .unwrap()
                    .version
                    == Some(2)
            })
            .count();
        assert!((canary as f64 / 20_000.0 - 0.2).abs() < 0.015, "{canary}");
    }

    #[test]
    fn raising_the_canary_weight_only_moves_keys_to_the_canary() {
        let before = route(&[90, 10]);
        let after = route(&[80, 20]);
        let mut moved = 0;
        for i in 0..20_000 {
            let key = sticky_key(&format!("user-{i}"));
            let a = before.pick(|_| true, Draw::Sticky(key)).unwrap().version;
            let b = after.pick(|_| true, Draw::Sticky(key)).unwrap().version;
            if a != b {
                assert_eq!((a, b), (Some(1), Some(2)), "a key left the canary");
                moved += 1;
            }
        }
        // About a tenth of all keys must move (those the canary gained).
        assert!((moved as f64 / 20_000.0 - 0.1).abs() < 0.015, "{moved}");
    }

    #[test]
    fn sticky_is_stable() {
        let r = route(&[50, 50]);
        let key = sticky_key("alice");
        let first = r.pick(|_| true, Draw::Sticky(key)).unwrap().clone();
        for _ in 0..100 {
            assert_eq!(r.pick(|_| true, Draw::Sticky(key)).unwrap(), &first);
        }
    }
}
