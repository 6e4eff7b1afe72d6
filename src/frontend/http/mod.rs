//! The HTTP/REST transport: KServe v2 REST plus Triton's extensions (model
//! configuration, statistics, binary tensor data) on the same engine as
//! gRPC, over HTTP/1.1 and h2c, optionally on the gRPC port itself.

pub mod codec;
mod handlers;
mod infer;
mod proto_json;
mod router;
mod server;
mod status;

pub use handlers::EXTENSIONS;
pub use router::router;
pub use server::{ConnectionLimits, HttpService, grpc_service, one_port_service, rest_service, serve};
pub use status::http_status;
