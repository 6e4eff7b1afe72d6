//! The gRPC transport: the v2 inference service, health, reflection, TLS and
//! message limits. Converts and delegates; the engine is in [`crate::gateway`].

mod convert;
mod model_config;
mod readiness;
mod server;
mod service;
mod stream;

pub use readiness::Readiness;
pub use server::{GrpcServer, TlsSettings};
pub use service::{InferenceService, PLATFORM, SERVER_NAME};
