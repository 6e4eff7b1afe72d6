//! The one error type of the serving path and its one mapping to a gRPC status.

use tonic::{Code, Status};

/// Everything a request can fail with. Each variant maps to exactly one gRPC
/// code (see [`ServeError::code`]); the conversion to [`Status`] lives here and
/// nowhere else.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ServeError {
    #[error("unknown model or route '{0}'")]
    ModelNotFound(String),
    #[error("model '{model}' has no version {version}")]
    VersionNotFound { model: String, version: String },
    #[error("model '{0}' has no ready version")]
    NoReadyVersion(String),
    #[error("route '{0}' has no ready target")]
    NoReadyTarget(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("model '{model}' version {version}: queue is full ({capacity} requests waiting)")]
    QueueFull {
        model: String,
        version: u64,
        capacity: usize,
    },
    #[error("server is at its concurrency limit ({0} requests in flight); retry later")]
    Overloaded(usize),
    #[error("deadline exceeded before the request ran")]
    DeadlineExceeded,
    #[error("onnx runtime failed: {0}")]
    Runtime(String),
    #[error("server is shutting down")]
    ShuttingDown,
    #[error("{0} is not supported by this server")]
    Unimplemented(String),
}

impl ServeError {
    /// The gRPC code this error is answered with.
    pub fn code(&self) -> Code {
        match self {
            Self::ModelNotFound(_) | Self::VersionNotFound { .. } => Code::NotFound,
            Self::NoReadyVersion(_) | Self::NoReadyTarget(_) | Self::ShuttingDown => Code::Unavailable,
            Self::InvalidArgument(_) => Code::InvalidArgument,
            Self::QueueFull { .. } | Self::Overloaded(_) => Code::ResourceExhausted,
            Self::DeadlineExceeded => Code::DeadlineExceeded,
            Self::Runtime(_) => Code::Internal,
            Self::Unimplemented(_) => Code::Unimplemented,
        }
    }

    /// Shorthand for the most common client error.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidArgument(message.into())
    }
}

/// Longest error message sent: messages quote names from the request, and
/// a long name must not push the trailers past a client's header limit
/// (8 KiB in gRPC core).
const MAX_MESSAGE_LEN: usize = 1024;

impl From<ServeError> for Status {
    fn from(error: ServeError) -> Self {
        let mut message = error.to_string();
        if message.len() > MAX_MESSAGE_LEN {
            let mut cut = MAX_MESSAGE_LEN;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        Status::new(error.code(), message)
    }
}

/// The name Prometheus labels use for a gRPC code (`OK`, `INVALID_ARGUMENT`, ...).
pub fn code_label(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_status_table() {
        assert_eq!(ServeError::ModelNotFound("m".into()).code(), Code::NotFound);
        assert_eq!(ServeError::NoReadyVersion("m".into()).code(), Code::Unavailable);
        assert_eq!(ServeError::invalid("x").code(), Code::InvalidArgument);
        let full = ServeError::QueueFull {
            model: "m".into(),
            version: 1,
            capacity: 4,
        };
        assert_eq!(full.code(), Code::ResourceExhausted);
        assert_eq!(ServeError::DeadlineExceeded.code(), Code::DeadlineExceeded);
        assert_eq!(ServeError::Runtime("boom".into()).code(), Code::Internal);
    }

    #[test]
    fn long_messages_are_cut_on_a_char_boundary() {
        let status: Status = ServeError::ModelNotFound("é".repeat(5000)).into();
        assert!(status.message().len() <= MAX_MESSAGE_LEN + "…".len());
        assert!(status.message().ends_with('…'));
    }

    #[test]
    fn status_carries_message() {
        let status: Status = ServeError::Runtime("bad reshape".into()).into();
        assert_eq!(status.code(), Code::Internal);
        assert!(status.message().contains("bad reshape"));
        assert_eq!(code_label(Code::InvalidArgument), "INVALID_ARGUMENT");
    }
}
