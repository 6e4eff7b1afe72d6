//! Configuration: the command line, the per-model `config.yaml` and the routes file.

mod cli;
mod model_config;
mod routes;

pub use cli::{CheckArgs, Cli, Command, RepositoryArgs, ServeArgs, ServeConfig};
pub use model_config::{DynamicBatching, ModelConfig, VersionPolicy};
pub use routes::{ModelCatalog, RouteTable, parse_routes};
