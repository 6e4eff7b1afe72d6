//! Switchyard: an ONNX model-serving gateway speaking the KServe v2 / Open
//! Inference Protocol over gRPC. See ARCHITECTURE.md for the request path,
//! the threads and the reload lifecycle.

pub mod app;
pub mod bench;
pub mod commands;
pub mod config;
pub mod error;
pub mod gateway;
pub mod grpc;
pub mod in_flight;
pub mod model;
pub mod onnx_runtime;
pub mod proto;
pub mod repository;
pub mod routing;
pub mod shadow;
pub mod shutdown;
pub mod telemetry;
