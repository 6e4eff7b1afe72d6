//! Finding and loading the ONNX Runtime shared library.
//!
//! Lookup order (the contract, README "ONNX Runtime"): `--ort-lib`, then `ORT_DYLIB_PATH`, then the copy
//! `scripts/install-ort.sh` placed in the checkout (`.ort/lib/`). A library
//! that is named explicitly and fails to load is an error, never a reason to
//! try another location.

use std::path::{Path, PathBuf};

use ::ort::environment::Environment;

/// Where the install script puts the library, relative to the checkout.
pub const INSTALL_DIR: &str = ".ort/lib";
/// The stable name the install script links to the versioned file.
pub const LIBRARY_NAME: &str = "libonnxruntime.so";

const HOW_TO_INSTALL: &str = "install it with `scripts/install-ort.sh` (from the checkout), \
     or point --ort-lib / ORT_DYLIB_PATH at a libonnxruntime.so of version 1.31 or newer";

/// Why ONNX Runtime could not be loaded. Displayed as one line with the fix.
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    #[error("ONNX Runtime library not found (looked in {searched}); {HOW_TO_INSTALL}")]
    NotFound { searched: String },
    #[error(
        "ONNX Runtime library {path} (from {source_name}) could not be loaded: {reason}; {HOW_TO_INSTALL}"
    )]
    LoadFailed {
        path: PathBuf,
        source_name: &'static str,
        reason: String,
    },
}

/// An initialised ONNX Runtime: sessions are built against `environment`.
#[derive(Clone)]
pub struct OnnxRuntime {
    pub environment: Environment,
    pub library: PathBuf,
}

/// Picks the library path by the contract's lookup order.
fn locate(explicit: Option<&Path>) -> Result<(PathBuf, &'static str), LibraryError> {
    if let Some(path) = explicit {
        return Ok((path.to_path_buf(), "--ort-lib"));
    }
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        return Ok((PathBuf::from(path), "ORT_DYLIB_PATH"));
    }
    let mut candidates = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        candidates.push(cwd.join(INSTALL_DIR).join(LIBRARY_NAME));
    }
    // A binary under `<checkout>/target/<profile>/` finds the checkout's copy.
    if let Ok(exe) = std::env::current_exe() {
        for dir in exe.ancestors().skip(1) {
            candidates.push(dir.join(INSTALL_DIR).join(LIBRARY_NAME));
        }
    }
    candidates.dedup();
    match candidates.iter().find(|p| p.is_file()) {
        Some(found) => Ok((found.clone(), "the checkout's install")),
        None => Err(LibraryError::NotFound {
            searched: format!(
                "--ort-lib, ORT_DYLIB_PATH, ./{INSTALL_DIR}/{LIBRARY_NAME} and above the executable"
            ),
        }),
    }
}

/// Loads the library and creates the process-wide environment. Must run
/// before any other `ort` call: without it `ort` panics on first use.
pub fn init(explicit: Option<&Path>) -> Result<OnnxRuntime, LibraryError> {
    let (path, source_name) = locate(explicit)?;
    let failed = |reason: String| LibraryError::LoadFailed {
        path: path.clone(),
        source_name,
        reason,
    };
    if !path.is_file() {
        return Err(failed("no such file".into()));
    }
    let builder = ::ort::init_from(&path).map_err(|e| failed(e.to_string()))?;
    let environment = builder
        .with_name("switchyard")
        .with_telemetry(false)
        .build()
        .map_err(|e| failed(e.to_string()))?;
    Ok(OnnxRuntime {
        environment,
        library: path,
    })
}
