//! ONNX Runtime behind the backend seam: finding and loading the shared
//! library, execution providers, building sessions, and converting values
//! in and out.

mod library;
mod providers;
mod session;
mod values;

pub use library::{INSTALL_DIR, LIBRARY_NAME, LibraryError, OnnxRuntime, init};
pub use providers::{available_providers, check_options, known_options, runtime_name};
pub use session::build_session;
