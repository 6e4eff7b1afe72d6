//! Triton's protobuf messages built from engine answers, shared by both
//! front ends: gRPC sends them as they are, HTTP as Triton's JSON form.

mod model_config;
mod statistics;

pub use model_config::model_config;
pub use statistics::model_statistics;

/// Server name reported by server metadata.
pub const SERVER_NAME: &str = "switchyard";
/// Platform reported for every model, as Triton names ONNX Runtime models.
pub const PLATFORM: &str = "onnxruntime_onnx";
