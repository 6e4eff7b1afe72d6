//! ONNX Runtime behind the backend seam: finding and loading the shared
//! library, building sessions, and converting values in and out.

mod library;
mod session;
mod values;

pub use library::{INSTALL_DIR, LIBRARY_NAME, LibraryError, OnnxRuntime, init};
pub use session::build_session;
