//! The command line. Doc comments here are the `--help` text.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::telemetry::LogFormat;

/// ONNX model-serving gateway speaking the KServe v2 / Open Inference Protocol over gRPC.
#[derive(Debug, Parser)]
#[command(name = "switchyard", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log format on stderr: JSON lines for machines, text for humans.
    #[arg(long, global = true, value_enum, default_value = "json")]
    pub log_format: LogFormat,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve every model of the repository over gRPC.
    Serve(Box<ServeArgs>),
    /// Load every model and validate the routes offline; exit 0 if the repository would serve.
    Check(CheckArgs),
}

/// Where models, routes and ONNX Runtime are.
#[derive(Debug, Clone, Args)]
pub struct RepositoryArgs {
    /// Model repository directory.
    #[arg(long, env = "SWITCHYARD_MODEL_REPO", default_value = "./model_repo")]
    pub model_repo: PathBuf,
    /// Routes file (default: <model-repo>/routes.yaml when it exists).
    #[arg(long, env = "SWITCHYARD_ROUTES")]
    pub routes: Option<PathBuf>,
    /// ONNX Runtime shared library (else ORT_DYLIB_PATH, else the checkout's .ort/lib).
    #[arg(long)]
    pub ort_lib: Option<PathBuf>,
}

impl RepositoryArgs {
    /// The routes file in force: the one named, else `routes.yaml` in the repository if present.
    pub fn routes_file(&self) -> Option<PathBuf> {
        self.routes.clone().or_else(|| {
            let default = self.model_repo.join("routes.yaml");
            default.exists().then_some(default)
        })
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub repository: RepositoryArgs,
    /// gRPC listen address (Triton's gRPC port by default).
    #[arg(long, default_value = "0.0.0.0:8001")]
    pub grpc_addr: SocketAddr,
    /// HTTP/REST (KServe v2) listen address, Triton's HTTP port by default;
    /// `off` disables it; the gRPC address (port not 0) serves both on one port.
    #[arg(long, default_value = "0.0.0.0:8000", value_parser = parse_http_addr)]
    pub http_addr: HttpAddr,
    /// Prometheus metrics listen address (GET /metrics).
    #[arg(long, default_value = "0.0.0.0:8002")]
    pub metrics_addr: SocketAddr,
    /// Seconds between periodic rescans of the repository, on top of file
    /// events (for NFS and volumes without inotify); 0 = events only.
    #[arg(long, default_value_t = 0.0)]
    pub poll_interval: f64,
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    #[arg(long, default_value_t = 20.0)]
    pub shutdown_grace: f64,
    /// Also write shadow comparison records to this file (JSON lines).
    #[arg(long)]
    pub shadow_log: Option<PathBuf>,
    /// TLS certificate chain (PEM); enables TLS together with --tls-key.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// CA bundle (PEM) that client certificates must chain to (mutual TLS).
    #[arg(long, requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
    /// Largest gRPC message accepted or sent, in bytes.
    #[arg(long, default_value_t = 64 * 1024 * 1024)]
    pub max_message_bytes: usize,
    /// ModelInfer requests processed at once, server-wide; more are refused
    /// at once with RESOURCE_EXHAUSTED. Per-model queues: `max_queue_size` in config.yaml.
    #[arg(long, default_value_t = 1024)]
    pub max_concurrent_requests: usize,
    /// Close client connections after this many seconds (gracefully), so
    /// long-lived HTTP/2 clients rebalance across replicas; 0 = never.
    #[arg(long, default_value_t = 0.0)]
    pub max_connection_age: f64,
    /// Microseconds an idle session thread keeps polling for the next
    /// request before it sleeps, while at most one request is in flight
    /// (saves two thread wake-ups per request for a lone client, at the cost
    /// of that CPU time); 0 = always sleep at once.
    #[arg(long, default_value_t = 300)]
    pub idle_spin_us: u64,
    /// Directory where rolled-back rollouts are remembered across restarts
    /// (with the routes file's content hash); without it a restart starts
    /// every rollout again.
    #[arg(long, env = "SWITCHYARD_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Keep Triton's per-version statistics (ModelStatistics, GET .../stats);
    /// `false` only to measure what they cost.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub statistics: bool,
}

#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub repository: RepositoryArgs,
}

/// `--http-addr`: an address, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpAddr {
    Off,
    At(SocketAddr),
}

fn parse_http_addr(value: &str) -> Result<HttpAddr, String> {
    if value == "off" {
        return Ok(HttpAddr::Off);
    }
    value
        .parse()
        .map(HttpAddr::At)
        .map_err(|e| format!("expected an address like 0.0.0.0:8000, or off ({e})"))
}

/// Where REST is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpListen {
    Off,
    /// On a port of its own.
    Separate(SocketAddr),
    /// On the gRPC port (`--http-addr` equal to `--grpc-addr`).
    OnePort,
}

/// The resolved settings `serve` runs with.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub model_repo: PathBuf,
    pub routes_file: Option<PathBuf>,
    pub grpc_addr: SocketAddr,
    pub http: HttpListen,
    pub metrics_addr: SocketAddr,
    pub poll_interval: Option<Duration>,
    pub shutdown_grace: Duration,
    pub shadow_log: Option<PathBuf>,
    pub tls: Option<TlsFiles>,
    pub max_message_bytes: usize,
    pub max_concurrent_requests: usize,
    pub max_connection_age: Option<Duration>,
    pub idle_spin: Duration,
    pub statistics: bool,
    pub state_dir: Option<PathBuf>,
}

/// PEM files for TLS.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
}

/// A command-line value out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgError {
    #[error("--{0} must be a non-negative number of seconds")]
    NotSeconds(&'static str),
    #[error("--{flag} must be at least {min}")]
    TooSmall { flag: &'static str, min: usize },
}

impl ServeArgs {
    /// Resolves defaults and checks ranges.
    pub fn resolve(&self) -> Result<ServeConfig, ArgError> {
        let seconds = |name: &'static str, value: f64| {
            Duration::try_from_secs_f64(value).map_err(|_| ArgError::NotSeconds(name))
        };
        let poll = seconds("poll-interval", self.poll_interval)?;
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                client_ca: self.tls_client_ca.clone(),
            }),
            _ => None,
        };
        if self.max_message_bytes < 1024 {
            return Err(ArgError::TooSmall {
                flag: "max-message-bytes",
                min: 1024,
            });
        }
        if self.max_concurrent_requests == 0 {
            return Err(ArgError::TooSmall {
                flag: "max-concurrent-requests",
                min: 1,
            });
        }
        let max_connection_age = seconds("max-connection-age", self.max_connection_age)?;
        Ok(ServeConfig {
            model_repo: self.repository.model_repo.clone(),
            routes_file: self.repository.routes_file(),
            grpc_addr: self.grpc_addr,
            http: match self.http_addr {
                HttpAddr::Off => HttpListen::Off,
                // Port 0 asks for any free port: two of them are two listeners.
                HttpAddr::At(addr) if addr == self.grpc_addr && addr.port() != 0 => HttpListen::OnePort,
                HttpAddr::At(addr) => HttpListen::Separate(addr),
            },
            metrics_addr: self.metrics_addr,
            poll_interval: (!poll.is_zero()).then_some(poll),
            shutdown_grace: seconds("shutdown-grace", self.shutdown_grace)?,
            shadow_log: self.shadow_log.clone(),
            tls,
            max_message_bytes: self.max_message_bytes,
            max_concurrent_requests: self.max_concurrent_requests,
            max_connection_age: (!max_connection_age.is_zero()).then_some(max_connection_age),
            idle_spin: Duration::from_micros(self.idle_spin_us),
            statistics: self.statistics,
            state_dir: self.state_dir.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_contract() {
        let cli = Cli::try_parse_from(["switchyard", "serve"]).unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("expected serve")
        };
        let config = args.resolve().unwrap();
        assert_eq!(config.grpc_addr.to_string(), "0.0.0.0:8001");
        assert_eq!(config.http, HttpListen::Separate("0.0.0.0:8000".parse().unwrap()));
        assert_eq!(config.metrics_addr.to_string(), "0.0.0.0:8002");
        assert_eq!(config.max_message_bytes, 64 * 1024 * 1024);
        assert!(config.poll_interval.is_none());
        assert_eq!(cli.log_format, LogFormat::Json);
    }

    #[test]
    fn http_can_be_off_or_share_the_grpc_port() {
        let resolve = |args: &[&str]| {
            let argv = ["switchyard", "serve"].iter().chain(args);
            let Command::Serve(serve) = Cli::try_parse_from(argv).unwrap().command else {
                panic!("expected serve")
            };
            serve.resolve().unwrap().http
        };
        assert_eq!(resolve(&["--http-addr", "off"]), HttpListen::Off);
        assert_eq!(
            resolve(&["--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"]),
            HttpListen::Separate("127.0.0.1:0".parse().unwrap())
        );
        assert_eq!(
            resolve(&["--grpc-addr", "127.0.0.1:9000", "--http-addr", "127.0.0.1:9000"]),
            HttpListen::OnePort
        );
        assert!(Cli::try_parse_from(["switchyard", "serve", "--http-addr", "nowhere"]).is_err());
    }

    #[test]
    fn tls_flags_go_together() {
        assert!(Cli::try_parse_from(["switchyard", "serve", "--tls-cert", "c.pem"]).is_err());
        assert!(Cli::try_parse_from(["switchyard", "serve", "--tls-cert", "c", "--tls-key", "k"]).is_ok());
    }

    #[test]
    fn negative_durations_rejected() {
        let cli = Cli::try_parse_from(["switchyard", "serve", "--poll-interval=-1"]).unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("expected serve")
        };
        assert_eq!(args.resolve().unwrap_err(), ArgError::NotSeconds("poll-interval"));
    }
}
