//! The one mapping from engine errors to HTTP status, and the error body
//! (`{"error": "<message>"}`, the same message as over gRPC).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::error::{Code, ServeError, client_message};

/// The HTTP status for an engine code (the contract's table).
pub fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::InvalidArgument => StatusCode::BAD_REQUEST,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        // nginx's "client closed request"; nobody reads it, the client is gone.
        Code::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
    }
}

/// An error answer with the given status and message.
pub fn error_body(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": message.into() }))).into_response()
}

/// How an engine error is answered over HTTP.
pub struct HttpError(pub ServeError);

impl From<ServeError> for HttpError {
    fn from(error: ServeError) -> Self {
        Self(error)
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        error_body(http_status(self.0.code()), client_message(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contracts_status_table() {
        let table = [
            (Code::NotFound, 404),
            (Code::InvalidArgument, 400),
            (Code::Unavailable, 503),
            (Code::ResourceExhausted, 429),
            (Code::DeadlineExceeded, 504),
            (Code::Internal, 500),
        ];
        for (code, status) in table {
            assert_eq!(http_status(code).as_u16(), status, "{code}");
        }
    }
}
