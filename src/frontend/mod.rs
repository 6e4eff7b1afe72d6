//! The front ends: each converts its transport's messages to engine types,
//! calls the engine, and converts back. Only modules under here know a
//! transport.

pub mod grpc;
pub mod http;
pub mod triton;
