//! Tensors as every layer sees them, independent of any transport and of
//! ONNX Runtime: element types, what a model declares, what a request brings
//! and what goes back, the v2 BYTES framing, and the checks that make a
//! request safe to hand to a backend.

mod bytes_elements;
mod datatype;
mod limits;
mod types;
mod validate;

pub use bytes_elements::{encode_bytes_elements, split_bytes_elements};
pub use datatype::DataType;
pub use limits::{MAX_BYTES_ELEMENT_LEN, MAX_BYTES_ELEMENTS, MAX_TENSORS, check_bytes_elements};
pub use types::{InputTensor, OutputTensor, TensorData, TensorSpec, element_count, shape_text, warmup_input};
