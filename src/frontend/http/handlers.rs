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

fn ok_or_unavailable(ready: bool) -> StatusCode {
    if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

pub async fn live() -> StatusCode {
    StatusCode::OK
}

pub async fn ready(State(engine): State<Arc<Engine>>) -> StatusCode {
    ok_or_unavailable(engine.server_ready())
}

pub async fn server_metadata() -> Json<Value> {
    Json(json!({
        "name": SERVER_NAME,
        "version": env!("CARGO_PKG_VERSION"),
        "extensions": EXTENSIONS,
    }))
}

pub async fn model_ready(State(engine): State<Arc<Engine>>, Path(path): Path<ModelPath>) -> StatusCode {
    ok_or_unavailable(engine.model_ready(&path.model, &path.version))
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

/// Load and unload are refused as Triton refuses them when it polls its repository.
pub async fn repository_control() -> HttpError {
    HttpError(ServeError::RepositoryControl)
}

pub async fn not_found(uri: axum::http::Uri) -> Response {
    error_body(StatusCode::NOT_FOUND, format!("no endpoint {}", uri.path()))
}
