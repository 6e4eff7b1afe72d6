//! The rollout controller: for every route with a `rollout` block it keeps
//! the decision state and the live window the engine fills, checks the
//! window when its interval is due, logs and counts every decision, and
//! produces the routes in force (the configured routes with the rollout's
//! weights, and no shadow once rolled back). It is owned by the loader, and
//! so by the reload loop, which publishes its routes like any file change.
//!
//! A rolled-back route stays rolled back until the routes file's content
//! changes. With a state directory (`--state-dir`) that also holds across
//! restarts: a roll-back is written there with the hash of the file's
//! content, and a restart with the same content starts rolled back.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::routing::rollout::{Decision, Outcome, Rollout, RolloutState, RolloutWindow, Status};
use crate::routing::{Route, RouteTable, Target};
use crate::telemetry::metric;

/// A route under rollout, as the engine sees it in a snapshot.
#[derive(Debug)]
pub struct LiveRollout {
    /// The target being rolled out.
    pub canary: Target,
    /// The window the engine records into.
    pub window: Arc<RolloutWindow>,
    /// The state when the snapshot was published.
    pub state: RolloutState,
    pub rollout: Rollout,
}

/// One route's rollout between checks.
struct Tracked {
    configured: Arc<Route>,
    rollout: Rollout,
    state: RolloutState,
    window: Arc<RolloutWindow>,
}

#[derive(Default)]
pub struct RolloutController {
    tracked: BTreeMap<String, Tracked>,
    /// Where roll-backs survive restarts, if anywhere.
    state_dir: Option<PathBuf>,
    /// FNV-1a of the routes file's content the states were started for.
    file_hash: u64,
}

impl RolloutController {
    pub fn new(state_dir: Option<PathBuf>) -> Self {
        Self {
            state_dir,
            ..Self::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.tracked.is_empty()
    }

    /// The routes file changed: every rollout starts again from its first
    /// step (or rolled back, when the state directory says this very file
    /// content was rolled back before).
    pub fn reset(&mut self, routes: &RouteTable, file_text: &str, now: Instant) {
        self.file_hash = fnv1a(file_text.as_bytes());
        self.tracked = routes
            .values()
            .filter_map(|route| {
                let rollout = route.rollout.clone()?;
                let mut state = RolloutState::start(now);
                if self.was_rolled_back(&route.name) {
                    state.status = Status::RolledBack;
                    tracing::info!(target: "rollout", route = %route.name, "rolled back before with this routes file; holding");
                }
                let tracked = Tracked {
                    configured: route.clone(),
                    rollout,
                    state,
                    window: Arc::new(RolloutWindow::default()),
                };
                Some((route.name.clone(), tracked))
            })
            .collect();
        for tracked in self.tracked.values() {
            tracked
                .window
                .set_shadow_only(tracked.state.shadow_only(&tracked.rollout));
            publish_state(&tracked.configured.name, &tracked.state);
        }
    }

    /// Checks every window that is due; `true` when the routes in force changed.
    pub fn check(&mut self, now: Instant) -> bool {
        let mut changed = false;
        let names: Vec<String> = self.tracked.keys().cloned().collect();
        for name in names {
            let Some(tracked) = self.tracked.get_mut(&name) else {
                continue;
            };
            if !tracked.state.is_due(&tracked.rollout, now) {
                continue;
            }
            let figures = tracked.window.take();
            let decision = tracked.state.check(&tracked.rollout, &figures, now);
            tracked.state = decision.next;
            tracked
                .window
                .set_shadow_only(tracked.state.shadow_only(&tracked.rollout));
            log_decision(&name, &decision);
            publish_state(&name, &tracked.state);
            changed |= decision.route_changed;
            if decision.next.status == Status::RolledBack {
                self.remember_roll_back(&name);
            }
        }
        changed
    }

    /// The routes in force: `configured` with every rollout's weights.
    pub fn effective(&self, configured: &RouteTable) -> RouteTable {
        let mut table = configured.clone();
        for (name, tracked) in &self.tracked {
            table.insert(
                name.clone(),
                Arc::new(tracked.state.effective_route(&tracked.configured)),
            );
        }
        table
    }

    /// What the engine needs per route under rollout.
    pub fn live(&self) -> BTreeMap<String, Arc<LiveRollout>> {
        self.tracked
            .iter()
            .map(|(name, tracked)| {
                let live = LiveRollout {
                    canary: tracked.configured.targets[tracked.rollout.canary].clone(),
                    window: tracked.window.clone(),
                    state: tracked.state,
                    rollout: tracked.rollout.clone(),
                };
                (name.clone(), Arc::new(live))
            })
            .collect()
    }

    fn marker(&self, route: &str) -> Option<PathBuf> {
        let dir = self.state_dir.as_ref()?;
        Some(dir.join(format!("rollout-{route}-{:016x}.rolled-back", self.file_hash)))
    }

    fn was_rolled_back(&self, route: &str) -> bool {
        self.marker(route).is_some_and(|path| path.exists())
    }

    fn remember_roll_back(&self, route: &str) {
        let Some(path) = self.marker(route) else { return };
        if let Err(error) = std::fs::write(&path, b"rolled back\n") {
            tracing::warn!(target: "rollout", route, path = %path.display(), %error, "cannot record the roll-back");
        }
    }
}

/// One JSON log line per decision, with the figures it used.
fn log_decision(route: &str, decision: &Decision) {
    let result = match decision.outcome {
        Outcome::Pass => "pass",
        Outcome::Fail => "fail",
        Outcome::Inconclusive => "inconclusive",
        Outcome::NotDue | Outcome::Finished => return,
    };
    metrics::counter!(metric::ROLLOUT_CHECKS, "route" => route.to_string(), "result" => result).increment(1);
    let figures = serde_json::to_string(&decision.figures).unwrap_or_default();
    let measured = serde_json::to_string(&decision.measured).unwrap_or_default();
    tracing::info!(
        target: "rollout",
        route,
        result,
        judged_step = decision.judged_step,
        judged_percent = decision.judged_percent,
        step = decision.next.step_index,
        canary_percent = decision.canary_percent,
        state = decision.next.status.as_str(),
        failures = decision.next.failures,
        route_changed = decision.route_changed,
        reasons = %decision.reasons.join("; "),
        figures = %figures,
        measured = %measured,
        "rollout check"
    );
}

fn publish_state(route: &str, state: &RolloutState) {
    metrics::gauge!(metric::ROLLOUT_STEP, "route" => route.to_string()).set(state.step_index as f64);
    for status in [Status::Progressing, Status::Promoted, Status::RolledBack] {
        let value = if status == state.status { 1.0 } else { 0.0 };
        metrics::gauge!(metric::ROLLOUT_STATE, "route" => route.to_string(), "state" => status.as_str())
            .set(value);
    }
}

/// A hash that is the same on every build and replica (unlike std's).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
