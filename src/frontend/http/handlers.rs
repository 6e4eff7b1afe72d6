//! Every REST endpoint except inference: health, metadata, readiness, model
//! configuration, statistics and the repository. Each converts, asks the
//! engine, and answers JSON.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::proto_json::to_json;
use super::status::{HttpError, error_body};
use crate::engine::Engine;
use crate::error::ServeError;
use crate::frontend::triton::{PLATFORM, SERVER_NAME, model_config, model_statistics};
use crate::proto::inference::ModelStatisticsResponse;
use crate::tensor::TensorSpec;

/// What server metadata says is served over HTTP.
pub const EXTENSIONS: [&str; 3] = ["model_configuration", "statistics", "binary_tensor_data"];

/// A model name and an optional version from the path.
#[derive(Debug, Deserialize)]
pub struct ModelPath {
    pub model: String,
    #[serde(default)]
    pub version: String,
}

/// 200 when true, 503 when not, with KServe's JSON body (`{"ready": true}`;
/// Triton's clients read only the status).
fn health_answer(key: &str, value: bool, name: Option<&str>) -> Response {
    let status = if value {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut body = json!({ key: value });
    if let Some(name) = name {
        body["name"] = Value::String(name.to_string());
    }
    (status, Json(body)).into_response()
}

pub async fn live() -> Response {
    health_answer("live", true, None)
}

pub async fn ready(State(engine): State<Arc<Engine>>) -> Response {
    health_answer("ready", engine.server_ready(), None)
}

pub async fn server_metadata() -> Json<Value> {
    Json(json!({
        "name": SERVER_NAME,
        "version": env!("CARGO_PKG_VERSION"),
        "extensions": EXTENSIONS,
    }))
}

pub async fn model_ready(State(engine): State<Arc<Engine>>, Path(path): Path<ModelPath>) -> Response {
    let ready = engine.model_ready(&path.model, &path.version);
    health_answer("ready", ready, Some(&path.model))
}

fn tensors(specs: &[TensorSpec]) -> Vec<Value> {
    specs
        .iter()
        .map(|spec| json!({"name": spec.name, "datatype": spec.datatype.as_str(), "shape": spec.shape}))
        .collect()
}

pub async fn model_metadata(
    State(engine): State<Arc<Engine>>,
    Path(path): Path<ModelPath>,
) -> Result<Json<Value>, HttpError> {
    let metadata = engine.model_metadata(&path.model, &path.version)?;
    Ok(Json(json!({
        "name": metadata.name,
        "versions": metadata.versions,
        "platform": PLATFORM,
        "inputs": tensors(&metadata.inputs),
        "outputs": tensors(&metadata.outputs),
    })))
}

pub async fn model_config_json(
    State(engine): State<Arc<Engine>>,
    Path(path): Path<ModelPath>,
) -> Result<Response, HttpError> {
    let description = engine.model_description(&path.model, &path.version)?;
    let config = to_json(&model_config(&description), "inference.ModelConfig")
        .ok_or_else(|| ServeError::Runtime("model configuration could not be rendered".into()))?;
    Ok(Json(config).into_response())
}

/// `GET /v2/models/stats` and the per-model forms.
pub async fn statistics(engine: &Engine, model: &str, version: &str) -> Result<Response, HttpError> {
    let stats = engine.model_statistics(model, version)?;
    let response = ModelStatisticsResponse {
        model_stats: stats.into_iter().map(model_statistics).collect(),
    };
    let json = to_json(&response, "inference.ModelStatisticsResponse")
        .ok_or_else(|| ServeError::Runtime("statistics could not be rendered".into()))?;
    Ok(Json(json).into_response())
}

pub async fn all_statistics(State(engine): State<Arc<Engine>>) -> Result<Response, HttpError> {
    statistics(&engine, "", "").await
}

pub async fn model_statistics_json(
    State(engine): State<Arc<Engine>>,
    Path(path): Path<ModelPath>,
) -> Result<Response, HttpError> {
    statistics(&engine, &path.model, &path.version).await
}

/// The body of `POST /v2/repository/index` (optional).
#[derive(Debug, Default, Deserialize)]
pub struct IndexRequest {
    #[serde(default)]
    ready: bool,
}

pub async fn repository_index(State(engine): State<Arc<Engine>>, body: axum::body::Bytes) -> Response {
    let request: IndexRequest = if body.iter().all(u8::is_ascii_whitespace) {
        IndexRequest::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(request) => request,
            Err(error) => {
                return error_body(StatusCode::BAD_REQUEST, format!("invalid index request: {error}"));
            }
        }
    };
    let entries: Vec<Value> = engine
        .repository_index(request.ready)
        .into_iter()
        .map(|entry| {
            let mut value = json!({"name": entry.name, "version": entry.version.to_string(), "state": entry.state.as_str()});
            if !entry.reason.is_empty() {
                value["reason"] = Value::String(entry.reason);
            }
            value
        })
        .collect();
    Json(entries).into_response()
}

/// `GET /v2/routes`: every route with the weights in force and its rollout's state.
pub async fn routes(State(engine): State<Arc<Engine>>) -> Json<Value> {
    let routes: Vec<Value> = engine.routes().iter().map(route_json).collect();
    Json(json!({ "routes": routes }))
}

fn route_json(view: &crate::engine::RouteView) -> Value {
    let route = &view.route;
    let targets: Vec<Value> = route
        .targets
        .iter()
        .map(|t| json!({"model": t.model, "version": t.version, "weight": t.weight}))
        .collect();
    let shadow = route
        .shadow
        .as_ref()
        .map(|s| json!({"model": s.model, "version": s.version, "fraction": s.fraction}));
    let rollout = view.rollout.as_ref().map(|live| {
        json!({
            "canary": {"model": live.canary.model, "version": live.canary.version},
            "state": live.state.status.as_str(),
            "step": live.state.step_index,
            "steps": live.rollout.steps,
            "canary_percent": live.state.canary_percent(&live.rollout),
            "failures": live.state.failures,
            "failure_limit": live.rollout.failure_limit,
        })
    });
    json!({
        "name": route.name,
        "targets": targets,
        "sticky_header": route.sticky_header,
        "shadow": shadow,
        "rollout": rollout,
    })
}

/// Load and unload are refused as Triton refuses them when it polls its repository.
pub async fn repository_control() -> HttpError {
    HttpError(ServeError::RepositoryControl)
}

pub async fn not_found(uri: axum::http::Uri) -> Response {
    error_body(StatusCode::NOT_FOUND, format!("no endpoint {}", uri.path()))
}
