//! One inference request end to end: admission, route or version, checks,
//! the run, the mirror.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Engine;
use super::record::RequestRecord;
use crate::error::{Code, ServeError};
use crate::model::ModelVersion;
use crate::repository::{LiveRollout, Snapshot};
use crate::routing::{Draw, Route, Target, sticky_key};
use crate::shadow::MirrorJob;
use crate::tensor::{InputTensor, OutputTensor};

/// A decoded inference request, whichever front end it came through.
#[derive(Debug, Clone, Default)]
pub struct InferRequest {
    pub model_name: String,
    /// Empty = the model's default version.
    pub model_version: String,
    pub id: String,
    pub inputs: Vec<InputTensor>,
    /// Requested outputs in answer order; empty = all, in the model's order.
    pub outputs: Vec<String>,
    pub deadline: Option<Instant>,
}

/// What answered and what it said.
#[derive(Debug, Clone)]
pub struct InferResponse {
    pub model_name: String,
    pub model_version: String,
    pub id: String,
    pub outputs: Vec<OutputTensor>,
}

/// The request's headers as the engine reads them: only a route's sticky
/// header is looked up, by name, and only when the route has one.
pub trait RequestHeaders: Sync {
    fn get(&self, name: &str) -> Option<&str>;
}

/// A request without headers.
pub struct NoHeaders;

impl RequestHeaders for NoHeaders {
    fn get(&self, _: &str) -> Option<&str> {
        None
    }
}

impl Engine {
    /// Counts a request refused before it reached the engine (it could not
    /// be decoded). Names that are neither a model nor a route are counted
    /// with an empty model label, so clients cannot grow the label set.
    pub fn record_rejected(&self, model_name: &str, error: &ServeError) {
        let snapshot = self.snapshots.load();
        let (route, model) = match snapshot.routes.get(model_name) {
            Some(route) => (route.name.as_str(), ""),
            None if snapshot.models.contains_key(model_name) => ("", model_name),
            None => ("", ""),
        };
        crate::telemetry::requests_counter(route, model, "", error.code().as_str()).increment(1);
    }

    /// Runs one inference request end to end, recording its metrics.
    pub async fn infer(
        &self,
        request: InferRequest,
        headers: &dyn RequestHeaders,
    ) -> Result<InferResponse, ServeError> {
        let mut record = RequestRecord::start(request.deadline);
        let Some(_permit) = self.in_flight.try_enter() else {
            record.finish(Code::ResourceExhausted);
            return Err(ServeError::Overloaded(self.in_flight.limit()));
        };
        let snapshot = self.snapshots.load();
        // A route name without an explicit version goes through the route;
        // an explicit version always means exactly that model version.
        let route = match snapshot.routes.get(&request.model_name) {
            Some(route) if request.model_version.is_empty() => Some(route.clone()),
            _ => None,
        };
        record.route = route.clone();
        let version = match &route {
            Some(route) => snapshot.pick(route, draw(route, headers)),
            None => snapshot.resolve(&request.model_name, &request.model_version),
        };
        let version = match version {
            Ok(version) => version,
            Err(error) => {
                if !matches!(error, ServeError::ModelNotFound(_) | ServeError::NoReadyTarget(_)) {
                    record.unresolved_model = request.model_name.clone();
                }
                record.finish(error.code());
                return Err(error);
            }
        };
        record.version = Some(version.clone());
        let rollout = route
            .as_ref()
            .and_then(|route| snapshot.rollouts.get(&route.name));
        if let Some(live) = rollout {
            record.rollout = Some((live.window.clone(), is_target(&version, &live.canary)));
        }
        let mirror = route
            .as_ref()
            .and_then(|route| plan_mirror(&snapshot, route, &request, &version, rollout));
        // The snapshot is no longer needed; `version` keeps the model alive.
        drop(snapshot);
        let started = Instant::now();
        let result = run_on(&version, request).await;
        record.finish(result.as_ref().map_or_else(ServeError::code, |_| Code::Ok));
        if let (Some(mut job), Ok(response)) = (mirror, &result) {
            job.primary_model = response.model_name.clone();
            job.primary_version = response.model_version.clone();
            job.primary_latency = started.elapsed();
            job.primary_outputs = response.outputs.clone();
            self.mirror.submit(job);
        }
        result
    }
}

/// Decides whether this request is mirrored (by the shadow's fraction) and
/// prepares the job; the inputs are reference-counted, so copying is cheap.
fn plan_mirror(
    snapshot: &Snapshot,
    route: &Route,
    request: &InferRequest,
    primary: &Arc<ModelVersion>,
    rollout: Option<&Arc<LiveRollout>>,
) -> Option<MirrorJob> {
    let shadow = route.shadow.as_ref()?;
    if shadow.fraction < 1.0 && rand::random::<f64>() >= shadow.fraction {
        return None;
    }
    let target = Target {
        model: shadow.model.clone(),
        version: shadow.version,
        weight: 1,
    };
    let resolved = snapshot
        .target_version(&target)
        .ok_or_else(|| format!("shadow {} has no ready version", target.label()));
    // The shadow answered this request itself: comparing it with itself
    // would only flatter it.
    if resolved.as_ref().is_ok_and(|shadow| Arc::ptr_eq(shadow, primary)) {
        return None;
    }
    let rollout_window = rollout
        .filter(|live| live.canary.model == target.model && live.canary.version == target.version)
        .map(|live| live.window.clone());
    Some(MirrorJob {
        request_id: request.id.clone(),
        route: route.name.clone(),
        primary_model: String::new(),
        primary_version: String::new(),
        primary_latency: Duration::ZERO,
        primary_outputs: Vec::new(),
        shadow: resolved,
        shadow_model: shadow.model.clone(),
        shadow_version: target.version_label(),
        inputs: request.inputs.clone(),
        rollout_window,
    })
}

/// Whether `version` is what `target` names (its default version when it names none).
fn is_target(version: &ModelVersion, target: &Target) -> bool {
    version.key.model == target.model && target.version.is_none_or(|v| v == version.key.version)
}

/// Sticky when the route has a sticky header and the request carries it,
/// uniformly random otherwise.
fn draw(route: &Route, headers: &dyn RequestHeaders) -> Draw {
    match route
        .sticky_header
        .as_deref()
        .and_then(|header| headers.get(header))
    {
        Some(value) => Draw::Sticky(sticky_key(value)),
        None => Draw::Random(rand::random()),
    }
}

async fn run_on(version: &Arc<ModelVersion>, request: InferRequest) -> Result<InferResponse, ServeError> {
    let InferRequest {
        id,
        inputs,
        outputs,
        deadline,
        ..
    } = request;
    if deadline.is_some_and(|deadline| deadline <= Instant::now()) {
        return Err(ServeError::DeadlineExceeded);
    }
    let run = version.infer(inputs, outputs, deadline);
    let outputs = match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline.into(), run)
            .await
            .unwrap_or(Err(ServeError::DeadlineExceeded))?,
        None => run.await?,
    };
    Ok(InferResponse {
        model_name: version.key.model.clone(),
        model_version: version.version_label.clone(),
        id,
        outputs,
    })
}
