//! The serving engine, independent of gRPC: a request loads the current
//! snapshot once, resolves the model version, is checked against the model's
//! declaration, and runs on that version's session workers.

use std::sync::Arc;
use std::time::Instant;

use tonic::Code;
use tonic::metadata::MetadataMap;

use crate::error::{ServeError, code_label};
use crate::in_flight::InFlight;
use crate::model::{InputTensor, ModelVersion, OutputTensor};
use crate::repository::{Snapshot, SnapshotCell};
use crate::routing::{Draw, Route, sticky_key};
use crate::shadow::{Mirror, MirrorJob};
use crate::telemetry::metric;

/// A decoded ModelInfer request.
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
    /// Request headers; a route's sticky header is read from here.
    pub metadata: MetadataMap,
}

/// What answered and what it said.
#[derive(Debug, Clone)]
pub struct InferResponse {
    pub model_name: String,
    pub model_version: String,
    pub id: String,
    pub outputs: Vec<OutputTensor>,
}

/// The engine behind every RPC.
pub struct Gateway {
    snapshots: Arc<SnapshotCell>,
    mirror: Mirror,
    /// Server-wide bound on requests in flight; beyond it requests are shed.
    in_flight: InFlight,
}

impl Gateway {
    pub fn new(snapshots: Arc<SnapshotCell>, mirror: Mirror, in_flight: InFlight) -> Self {
        Self {
            snapshots,
            mirror,
            in_flight,
        }
    }

    /// The snapshot in force now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshots.load()
    }

    /// Counts a request refused before it reached the engine (it could not
    /// be decoded). Names that are neither a model nor a route are counted
    /// with an empty model label, so clients cannot grow the label set.
    pub fn record_rejected(&self, model_name: &str, error: &ServeError) {
        let snapshot = self.snapshots.load();
        let (route, model) = match snapshot.routes.get(model_name) {
            Some(route) => (route.name.clone(), String::new()),
            None if snapshot.models.contains_key(model_name) => (String::new(), model_name.to_string()),
            None => (String::new(), String::new()),
        };
        metrics::counter!(metric::REQUESTS, "route" => route, "model" => model, "version" => "",
            "code" => code_label(error.code()))
        .increment(1);
    }

    /// Runs one inference request end to end, recording its metrics.
    pub async fn infer(&self, request: InferRequest) -> Result<InferResponse, ServeError> {
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
            Some(route) => snapshot.pick(route, draw(route, &request.metadata)),
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
        let mirror = route
            .as_ref()
            .and_then(|route| plan_mirror(&snapshot, route, &request));
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
fn plan_mirror(snapshot: &Snapshot, route: &Route, request: &InferRequest) -> Option<MirrorJob> {
    let shadow = route.shadow.as_ref()?;
    if shadow.fraction < 1.0 && rand::random::<f64>() >= shadow.fraction {
        return None;
    }
    let target = crate::routing::Target {
        model: shadow.model.clone(),
        version: shadow.version,
        weight: 1,
    };
    let resolved = snapshot
        .target_version(&target)
        .ok_or_else(|| format!("shadow {} has no ready version", target.label()));
    Some(MirrorJob {
        request_id: request.id.clone(),
        route: route.name.clone(),
        primary_model: String::new(),
        primary_version: String::new(),
        primary_latency: std::time::Duration::ZERO,
        primary_outputs: Vec::new(),
        shadow: resolved,
        shadow_model: shadow.model.clone(),
        shadow_version: target.version_label(),
        inputs: request.inputs.clone(),
    })
}

/// Sticky when the route has a sticky header and the request carries it,
/// uniformly random otherwise.
fn draw(route: &Route, metadata: &MetadataMap) -> Draw {
    let sticky = route
        .sticky_header
        .as_deref()
        .and_then(|header| metadata.get(header))
        .and_then(|value| value.to_str().ok());
    match sticky {
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
    version.check_inputs(&inputs)?;
    let outputs = version.select_outputs(outputs)?;
    let run = version.run(inputs, outputs, deadline);
    let result = match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline.into(), run)
            .await
            .unwrap_or(Err(ServeError::DeadlineExceeded))?,
        None => run.await?,
    };
    Ok(InferResponse {
        model_name: version.key.model.clone(),
        model_version: version.version_label.clone(),
        id,
        outputs: result.outputs,
    })
}

/// Request metrics, recorded when dropped so a call the client cancelled
/// still counts (as CANCELLED). The common case (a resolved version) uses
/// the version's cached metric handles and allocates nothing.
struct RequestRecord {
    started: Instant,
    route: Option<Arc<Route>>,
    version: Option<Arc<ModelVersion>>,
    /// The model name a request asked for when no version was resolved.
    unresolved_model: String,
    deadline: Option<Instant>,
    code: Option<Code>,
}

impl RequestRecord {
    fn start(deadline: Option<Instant>) -> Self {
        metrics::gauge!(metric::INFLIGHT).increment(1.0);
        Self {
            started: Instant::now(),
            route: None,
            version: None,
            unresolved_model: String::new(),
            deadline,
            code: None,
        }
    }

    fn finish(&mut self, code: Code) {
        self.code = Some(code);
    }
}

impl Drop for RequestRecord {
    fn drop(&mut self) {
        metrics::gauge!(metric::INFLIGHT).decrement(1.0);
        // Dropped unanswered: the client went away, or tonic's own deadline
        // timer ended the call first (it answers CANCELLED; the truth is
        // DEADLINE_EXCEEDED).
        let expired = self.deadline.is_some_and(|d| Instant::now() >= d);
        let code = self.code.unwrap_or(if expired {
            Code::DeadlineExceeded
        } else {
            Code::Cancelled
        });
        let route = self.route.as_ref().map_or("", |r| r.name.as_str());
        match &self.version {
            Some(version) => version
                .metrics
                .record_request(route, code, self.started.elapsed()),
            None => {
                metrics::counter!(metric::REQUESTS,
                    "route" => route.to_string(),
                    "model" => std::mem::take(&mut self.unresolved_model),
                    "version" => "",
                    "code" => code_label(code))
                .increment(1);
            }
        }
    }
}
