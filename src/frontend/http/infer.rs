//! `POST /v2/models/{m}[/versions/{v}]/infer`: the body (JSON, or JSON plus
//! binary sections) is read under the size limit, decoded by the codec, run
//! by the engine like any gRPC request, and encoded back.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::codec::{self, EncodedBody};
use super::handlers::ModelPath;
use super::status::{HttpError, error_body};
use crate::engine::{Engine, RequestHeaders};

/// Triton's header for the JSON part's length when binary sections follow.
pub const HEADER_LENGTH: &str = "inference-header-content-length";

/// What the infer handler needs besides the engine.
#[derive(Clone)]
pub struct InferState {
    pub engine: Arc<Engine>,
    /// `--max-message-bytes`: the largest body accepted, after decompression.
    pub max_body_bytes: usize,
}

/// HTTP request headers as the engine reads them.
struct Headers<'a>(&'a HeaderMap);

impl RequestHeaders for Headers<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(|value| value.to_str().ok())
    }
}

pub async fn infer(
    State(state): State<InferState>,
    Path(path): Path<ModelPath>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let body = match Limited::new(body, state.max_body_bytes).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
            return too_large(state.max_body_bytes);
        }
        Err(error) => {
            return error_body(
                StatusCode::BAD_REQUEST,
                format!("cannot read the request body: {error}"),
            );
        }
    };
    let header_length = headers.get(HEADER_LENGTH).and_then(|v| v.to_str().ok());
    let decoded = match codec::decode_infer(&path.model, &path.version, body, header_length) {
        Ok(decoded) => decoded,
        Err(error) => {
            state.engine.record_rejected(&path.model, &error);
            return HttpError(error).into_response();
        }
    };
    match state.engine.infer(decoded.request, &Headers(&headers)).await {
        Ok(response) => encoded(codec::encode_infer(&response, &decoded.binary_outputs)),
        Err(error) => HttpError(error).into_response(),
    }
}

pub fn too_large(limit: usize) -> Response {
    error_body(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("request body is larger than --max-message-bytes ({limit} bytes)"),
    )
}

fn encoded(body: EncodedBody) -> Response {
    let mut response = Body::from(body.body).into_response();
    let headers = response.headers_mut();
    match body.header_length {
        Some(length) => {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            headers.insert(HEADER_LENGTH, HeaderValue::from(length));
        }
        None => {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
    }
    response
}
