//! Configuration: the command line and the per-model `config.yaml`.

mod cli;
mod model_config;

pub use cli::{CheckArgs, Cli, Command, RepositoryArgs, ServeArgs, ServeConfig};
pub use model_config::{DynamicBatching, ModelConfig, VersionPolicy};
