//! Models as the serving path sees them: element types, tensors, and loaded
//! versions that run requests on their own session threads.

mod batching;
mod datatype;
mod executor;
mod idle_wait;
mod onnx_values;
mod tensor;
mod version;
mod version_metrics;

pub use datatype::DataType;
pub use executor::RunOutput;
pub use idle_wait::IdleWait;
pub use tensor::{
    InputTensor, OutputTensor, TensorData, TensorSpec, element_count, encode_bytes_elements, shape_text,
    split_bytes_elements,
};
pub use version::{ModelVersion, VersionKey, build_session};
pub use version_metrics::VersionMetrics;
