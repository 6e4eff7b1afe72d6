//! The files that configure serving, parsed and validated: the per-model
//! `config.yaml` or Triton `config.pbtxt`, and the routes file.

mod declared_io;
mod model_config;
mod model_files;
mod names;
mod rollout;
mod routes;
mod triton;
mod yaml_values;

pub use declared_io::{DeclaredIo, DeclaredTensor, IoMismatch, check_declared_io};
pub use model_config::{
    ConfigError, ConfigFileError, ConfigSource, DynamicBatching, ModelConfig, VersionPolicy,
};
pub use model_files::{CONFIG_PBTXT, CONFIG_YAML, DEFAULT_MODEL_FILE, model_file_hint};
pub use names::is_valid_model_name;
pub use routes::{ModelCatalog, RouteProblem, RoutesError, parse_routes};
