//! The files that configure serving, parsed and validated: the per-model
//! `config.yaml` and the routes file.

mod model_config;
mod names;
mod routes;

pub use model_config::{ConfigError, ConfigFileError, DynamicBatching, ModelConfig, VersionPolicy};
pub use names::is_valid_model_name;
pub use routes::{ModelCatalog, RouteProblem, RoutesError, parse_routes};
