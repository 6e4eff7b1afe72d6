//! The REST routes and their layers: request bodies may be gzip- or
//! deflate-compressed (`Content-Encoding`), answers are compressed when the
//! client asks (`Accept-Encoding`), and a body declared larger than
//! `--max-message-bytes` is refused before any of it is read.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header::CONTENT_LENGTH;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use tower_http::compression::CompressionLayer;
use tower_http::decompression::RequestDecompressionLayer;

use super::handlers::*;
use super::infer::{InferState, infer, too_large};
use crate::engine::Engine;

/// Every REST endpoint, with `engine` behind it.
pub fn router(engine: Arc<Engine>, max_body_bytes: usize) -> Router {
    let state = InferState {
        engine: engine.clone(),
        max_body_bytes,
    };
    let inference = Router::new()
        .route("/v2/models/{model}/infer", post(infer))
        .route("/v2/models/{model}/versions/{version}/infer", post(infer))
        .with_state(state)
        .layer(RequestDecompressionLayer::new())
        .layer(middleware::from_fn_with_state(
            max_body_bytes,
            refuse_declared_oversize,
        ));
    Router::new()
        .route("/v2/health/live", get(live))
        .route("/v2/health/ready", get(ready))
        .route("/v2", get(server_metadata))
        .route("/v2/models/stats", get(all_statistics))
        .route("/v2/models/{model}", get(model_metadata))
        .route("/v2/models/{model}/versions/{version}", get(model_metadata))
        .route("/v2/models/{model}/ready", get(model_ready))
        .route("/v2/models/{model}/versions/{version}/ready", get(model_ready))
        .route("/v2/models/{model}/config", get(model_config_json))
        .route(
            "/v2/models/{model}/versions/{version}/config",
            get(model_config_json),
        )
        .route("/v2/models/{model}/stats", get(model_statistics_json))
        .route(
            "/v2/models/{model}/versions/{version}/stats",
            get(model_statistics_json),
        )
        .route("/v2/repository/index", post(repository_index))
        .route("/v2/routes", get(routes))
        .route("/v2/repository/models/{model}/load", post(repository_control))
        .route("/v2/repository/models/{model}/unload", post(repository_control))
        .with_state(engine)
        .merge(inference)
        .fallback(not_found)
        .layer(CompressionLayer::new())
}

/// 413 at once for a body whose declared length is over the limit (the
/// decoder's own limit catches bodies that do not declare one).
async fn refuse_declared_oversize(State(limit): State<usize>, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return too_large(limit);
    }
    next.run(request).await
}
