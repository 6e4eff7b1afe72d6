//! The one error type of the serving path and its status codes. The codes
//! are the engine's own; each front end maps them to its transport's status
//! in one function (`frontend::grpc::status`, `frontend::http::status`).

/// The outcome of a request as the engine classifies it. The names are gRPC's
/// (the contract's metric label values), but nothing here depends on gRPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    Ok,
    /// The client went away before the answer.
    Cancelled,
    InvalidArgument,
    DeadlineExceeded,
    NotFound,
    ResourceExhausted,
    Unimplemented,
    Internal,
    Unavailable,
}

impl Code {
    /// Every code, for tables and tests.
    pub const ALL: [Code; 9] = [
        Self::Ok,
        Self::Cancelled,
        Self::InvalidArgument,
        Self::DeadlineExceeded,
        Self::NotFound,
        Self::ResourceExhausted,
        Self::Unimplemented,
        Self::Internal,
        Self::Unavailable,
    ];

    /// The label value metrics use (`OK`, `INVALID_ARGUMENT`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Cancelled => "CANCELLED",
            Self::InvalidArgument => "INVALID_ARGUMENT",
            Self::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Self::NotFound => "NOT_FOUND",
            Self::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Self::Unimplemented => "UNIMPLEMENTED",
            Self::Internal => "INTERNAL",
            Self::Unavailable => "UNAVAILABLE",
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything a request can fail with. Each variant has exactly one code
/// (see [`ServeError::code`]).
#[derive(Debug, Clone, thiserror::Error)]
pub enum ServeError {
    #[error("unknown model or route '{0}'")]
    ModelNotFound(String),
    #[error("model '{model}' has no version {version}")]
    VersionNotFound { model: String, version: String },
    #[error("model '{0}' has no ready version")]
    NoReadyVersion(String),
    // Worded as before the variant existed, for clients that match on it.
    #[error("model '{model}' version '{version}' has no ready version")]
    VersionNotReady { model: String, version: u64 },
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
    #[error("waited {waited_ms} ms for a session, longer than the queue budget; retry later")]
    QueueBudget { waited_ms: u64 },
    #[error(
        "model '{model}' version {version}: the queue ahead would take about {expected_ms} ms, \
         longer than its budget of {budget_ms} ms; retry later"
    )]
    QueueTooSlow {
        model: String,
        version: u64,
        expected_ms: u64,
        budget_ms: u64,
    },
    #[error("server is at its concurrency limit ({0} requests in flight); retry later")]
    Overloaded(usize),
    #[error("deadline exceeded before the request ran")]
    DeadlineExceeded,
    #[error("onnx runtime failed: {0}")]
    Runtime(String),
    #[error("{0} is not supported by this server")]
    Unimplemented(String),
    /// Triton's answer to load/unload when it polls its repository (worded
    /// as Triton words it, for tools that match on it).
    #[error(
        "explicit model load / unload is not allowed if polling is enabled \
         (the repository is driven by its files: add or remove version directories)"
    )]
    RepositoryControl,
}

impl ServeError {
    /// The code this error is answered with.
    pub fn code(&self) -> Code {
        match self {
            Self::ModelNotFound(_) | Self::VersionNotFound { .. } => Code::NotFound,
            Self::NoReadyVersion(_)
            | Self::VersionNotReady { .. }
            | Self::NoReadyTarget(_)
            | Self::RepositoryControl => Code::Unavailable,
            Self::InvalidArgument(_) => Code::InvalidArgument,
            Self::QueueFull { .. }
            | Self::QueueBudget { .. }
            | Self::QueueTooSlow { .. }
            | Self::Overloaded(_) => Code::ResourceExhausted,
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
/// a long name must not push an answer's headers past a client's limit
/// (8 KiB in gRPC core).
pub const MAX_MESSAGE_LEN: usize = 1024;

/// The message a client is sent for `error`, cut at [`MAX_MESSAGE_LEN`] on a
/// character boundary.
pub fn client_message(error: &ServeError) -> String {
    let mut message = error.to_string();
    if message.len() > MAX_MESSAGE_LEN {
        let mut cut = MAX_MESSAGE_LEN;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push('…');
    }
    message
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
        let message = client_message(&ServeError::ModelNotFound("é".repeat(5000)));
        assert!(message.len() <= MAX_MESSAGE_LEN + "…".len());
        assert!(message.ends_with('…'));
    }

    #[test]
    fn not_ready_version_names_model_and_version() {
        let error = ServeError::VersionNotReady {
            model: "m".into(),
            version: 2,
        };
        assert_eq!(error.to_string(), "model 'm' version '2' has no ready version");
        assert_eq!(Code::InvalidArgument.as_str(), "INVALID_ARGUMENT");
    }
}
