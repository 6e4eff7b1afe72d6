//! Switchyard: an ONNX model-serving gateway speaking the KServe v2 / Open
//! Inference Protocol. ARCHITECTURE.md has the module map (highest layer
//! first below), the request path, the threads and the reload lifecycle.

pub mod commands;
pub mod frontend;

pub mod engine;
pub mod repository;
pub mod shadow;

pub mod config;
pub mod model;

pub mod backend;

pub mod routing;
pub mod tensor;

pub mod error;
pub mod proto;
pub mod telemetry;
