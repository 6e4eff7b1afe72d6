//! Which versions only mirror: a version that is a route's shadow and no
//! route's target serves no routed traffic, so its session threads run at
//! background CPU priority (a request that names it directly runs there
//! too: a shadow is not meant to serve). Decided for every snapshot, so a
//! version that becomes a route's target is brought back to normal priority.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::snapshot::ModelState;
use crate::routing::RouteTable;

/// Sets the priority request of every ready version in `models`.
pub fn apply(models: &BTreeMap<String, Arc<ModelState>>, routes: &RouteTable) {
    let resolve = |model: &str, version: Option<u64>| {
        let state = models.get(model)?;
        let version = match version {
            Some(version) => version,
            None => *state.ready.keys().next_back()?,
        };
        Some((model.to_string(), version))
    };
    let shadows: Vec<(String, u64)> = routes
        .values()
        .filter_map(|route| route.shadow.as_ref())
        .filter_map(|shadow| resolve(&shadow.model, shadow.version))
        .collect();
    let targets: Vec<(String, u64)> = routes
        .values()
        .flat_map(|route| &route.targets)
        .filter_map(|target| resolve(&target.model, target.version))
        .collect();
    for (model, state) in models {
        for (&version, loaded) in &state.ready {
            let key = (model.clone(), version);
            loaded
                .priority
                .set_background(shadows.contains(&key) && !targets.contains(&key));
        }
    }
}
