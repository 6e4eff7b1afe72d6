//! The gRPC transport: the v2 inference service, health, reflection, TLS and
//! message limits. Converts and delegates; the engine is in [`crate::engine`].

mod convert;
mod health;
mod server;
mod service;
mod status;
mod stream;

pub use health::HealthPublisher;
pub use server::{CONNECTION_AGE_GRACE, GrpcServer, TlsSettings};
pub use service::{EXTENSIONS, InferenceService};
pub use status::{grpc_code, status};
