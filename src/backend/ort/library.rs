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
    /// The execution providers the library was built with (ONNX Runtime's
    /// names, e.g. `CPUExecutionProvider`).
    pub providers: Vec<String>,
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

/// CUDA and cuDNN libraries in the order their dependencies need, as
/// `scripts/install-ort.sh --gpu` places them next to the library.
const CUDA_LIBRARIES: &[&str] = &[
    "libcudart.so.13",
    "libnvJitLink.so.13",
    "libcublasLt.so.13",
    "libcublas.so.13",
    "libnvrtc.so.13",
    "libcurand.so.10",
    "libcufft.so.12",
    "libcudnn.so.9",
];

/// ONNX Runtime's CUDA provider (`libonnxruntime_providers_cuda.so`) finds
/// its CUDA libraries through the loader's search path only; when they sit
/// next to `library` (the `--gpu` install), they are loaded from there
/// first, so no `LD_LIBRARY_PATH` is needed. Returns what was loaded and
/// what failed, for the start-up log line (empty when there is nothing to
/// preload); asking for the CUDA provider after a failure fails the load
/// with the loader's reason.
fn preload_cuda_libraries(library: &Path) -> String {
    let Some(dir) = library.parent() else {
        return String::new();
    };
    if !dir.join("libonnxruntime_providers_cuda.so").is_file() || !dir.join(CUDA_LIBRARIES[0]).is_file() {
        return String::new();
    }
    let mut loaded = Vec::new();
    for name in CUDA_LIBRARIES {
        let path = dir.join(name);
        if !path.is_file() {
            continue;
        }
        let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
            continue;
        };
        // SAFETY: dlopen of a NUL-terminated path; the handle is kept open for
        // the life of the process (never dlclose'd), so nothing dangles.
        let handle = unsafe { libc::dlopen(c_path.as_ptr(), libc::RTLD_LAZY | libc::RTLD_LOCAL) };
        if handle.is_null() {
            // SAFETY: dlerror returns the last error as a C string (or null).
            let reason = unsafe { libc::dlerror() };
            let reason = if reason.is_null() {
                String::new()
            } else {
                // SAFETY: non-null, NUL-terminated, valid until the next dl* call.
                unsafe { std::ffi::CStr::from_ptr(reason) }
                    .to_string_lossy()
                    .into_owned()
            };
            loaded.push(format!("{name} failed: {reason}"));
        } else {
            loaded.push((*name).to_string());
        }
    }
    format!("from {}: {}", dir.display(), loaded.join(", "))
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
    let cuda_preloaded = preload_cuda_libraries(&path);
    let builder = ::ort::init_from(&path).map_err(|e| failed(e.to_string()))?;
    let environment = builder
        .with_name("switchyard")
        .with_telemetry(false)
        .build()
        .map_err(|e| failed(e.to_string()))?;
    let providers = super::providers::available_providers().map_err(failed)?;
    tracing::info!(library = %path.display(), providers = %providers.join(", "), %cuda_preloaded,
        "onnx runtime loaded; execution providers available");
    Ok(OnnxRuntime {
        environment,
        library: path,
        providers,
    })
}
