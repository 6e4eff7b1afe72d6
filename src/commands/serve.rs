//! `switchyard serve`: binds the listeners, loads the repository, serves, and
//! shuts down gracefully.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::cli::{HttpListen, ServeConfig};
use crate::backend::ort::OnnxRuntime;
use crate::engine::{Engine, InFlight};
use crate::frontend::grpc::{CONNECTION_AGE_GRACE, GrpcServer, HealthPublisher, TlsSettings};
use crate::frontend::http;
use crate::model::IdleWait;
use crate::repository::{Loader, ReloadSettings, SnapshotWriter, WatchTargets, run_reloads, snapshot_cell};
use crate::shadow::{Mirror, ShadowLog};
use crate::telemetry;

/// `--shadow-log` rotates past this size (keeping three older files).
const SHADOW_LOG_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// Tells every task that shutdown began.
#[derive(Clone)]
struct StopSignal(watch::Receiver<bool>);

impl StopSignal {
    fn stopped(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut receiver = self.0.clone();
        async move {
            let _ = receiver.wait_for(|&stop| stop).await;
        }
    }
}

/// The sockets `serve` listens on, bound before anything else starts so a
/// taken port fails at once.
struct Listeners {
    grpc: TcpListener,
    /// REST on a port of its own.
    http: Option<TcpListener>,
    metrics: TcpListener,
}

impl Listeners {
    async fn bind(config: &ServeConfig) -> anyhow::Result<Self> {
        let http = match config.http {
            HttpListen::Separate(addr) => Some(bind(addr, "--http-addr").await?),
            HttpListen::Off | HttpListen::OnePort => None,
        };
        Ok(Self {
            grpc: bind(config.grpc_addr, "--grpc-addr").await?,
            http,
            metrics: bind(config.metrics_addr, "--metrics-addr").await?,
        })
    }

    fn log(&self, config: &ServeConfig, runtime: &OnnxRuntime) -> anyhow::Result<()> {
        let grpc_addr = self.grpc.local_addr()?;
        let http_addr = match (&self.http, config.http) {
            (Some(http), _) => Some(http.local_addr()?),
            (None, HttpListen::OnePort) => Some(grpc_addr),
            (None, _) => None,
        };
        tracing::info!(
            grpc_addr = %grpc_addr,
            http_addr = http_addr.map(|a| a.to_string()),
            one_port = config.http == HttpListen::OnePort,
            metrics_addr = %self.metrics.local_addr()?,
            model_repo = %config.model_repo.display(),
            tls = config.tls.is_some(),
            onnxruntime = %runtime.library.display(),
            "listening"
        );
        Ok(())
    }
}

/// Runs the gateway until `shutdown` resolves and in-flight work has drained
/// (or the grace period ran out).
pub async fn serve(
    config: ServeConfig,
    runtime: Arc<OnnxRuntime>,
    metrics: PrometheusHandle,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let listeners = Listeners::bind(&config).await?;
    let tls = read_tls(&config)?;
    if tls.is_some() && config.http == HttpListen::OnePort {
        anyhow::bail!(
            "one-port mode (--http-addr equal to --grpc-addr) serves plain HTTP only; drop --tls-* or use two ports"
        );
    }
    if !config.model_repo.is_dir() {
        anyhow::bail!(
            "model repository {} is not a directory",
            config.model_repo.display()
        );
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let stop = StopSignal(stop_rx);

    let (snapshots, writer) = snapshot_cell();
    let in_flight = InFlight::new(config.max_concurrent_requests);
    let mirror = Mirror::start(open_shadow_log(&config)?);
    let engine = Arc::new(Engine::new(snapshots, mirror, in_flight.clone()));
    let health_reporter = tonic_health::server::HealthReporter::new();
    let health_service = tonic_health::pb::health_server::HealthServer::new(
        tonic_health::server::HealthService::from_health_reporter(health_reporter.clone()),
    );
    let health = Arc::new(HealthPublisher::new(engine.clone(), health_reporter));
    health.publish(&engine.snapshot()).await;

    listeners.log(&config, &runtime)?;
    let metrics_task = tokio::spawn(telemetry::serve_metrics(
        listeners.metrics,
        metrics,
        stop.stopped(),
    ));
    let grpc = GrpcServer {
        engine: engine.clone(),
        health: health_service,
        max_message_bytes: config.max_message_bytes,
        max_connection_age: config.max_connection_age,
        tls,
    };
    let mut frontends = tokio::spawn(serve_frontends(
        grpc,
        listeners.grpc,
        listeners.http,
        config.http,
        stop.clone(),
    ));
    let idle_wait = IdleWait {
        spin: config.idle_spin,
        load: Arc::new(in_flight),
    };
    let loader = Loader::new(runtime, config.model_repo.clone(), config.routes_file.clone())
        .with_idle_wait(idle_wait)
        .with_statistics(config.statistics)
        .with_state_dir(config.state_dir.clone());
    let reload_task = start_reloads(&config, loader, writer, health.clone(), &stop);

    tokio::select! {
        () = shutdown => {}
        result = &mut frontends => {
            result??;
            anyhow::bail!("the servers stopped unexpectedly");
        }
    }
    // Readiness first, so load balancers stop sending before we stop accepting.
    engine.begin_shutdown();
    health.shutdown().await;
    let _ = stop_tx.send(true);
    reload_task.abort();
    drain(frontends, &config).await?;
    metrics_task.abort();
    Ok(())
}

/// gRPC on its listener and REST on its own, or both on the gRPC listener.
async fn serve_frontends(
    grpc: GrpcServer,
    grpc_listener: TcpListener,
    http_listener: Option<TcpListener>,
    mode: HttpListen,
    stop: StopSignal,
) -> anyhow::Result<()> {
    let rest = http::router(grpc.engine.clone(), grpc.max_message_bytes);
    let limits = http::ConnectionLimits {
        max_age: grpc.max_connection_age,
        age_grace: CONNECTION_AGE_GRACE,
    };
    if mode == HttpListen::OnePort {
        let service = http::one_port_service(rest, grpc.routes()?);
        http::serve(grpc_listener, service, limits, stop.stopped()).await;
        return Ok(());
    }
    let rest_server = async {
        if let Some(listener) = http_listener {
            http::serve(listener, http::rest_service(rest), limits, stop.stopped()).await;
        }
        Ok(())
    };
    let grpc_server = async {
        if grpc.tls.is_some() {
            // TLS stays with tonic's server (its transport also times calls out).
            return grpc.serve(grpc_listener, stop.stopped()).await;
        }
        // Plain text on our own server: nothing but the engine ends a call
        // for its deadline, so every expired call is answered and counted.
        let service = http::grpc_service(grpc.routes()?);
        http::serve(grpc_listener, service, limits, stop.stopped()).await;
        Ok(())
    };
    tokio::try_join!(grpc_server, rest_server)?;
    Ok(())
}

async fn bind(addr: std::net::SocketAddr, flag: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {flag} {addr}"))
}

fn read_tls(config: &ServeConfig) -> anyhow::Result<Option<TlsSettings>> {
    config
        .tls
        .as_ref()
        .map(|files| TlsSettings::read(&files.cert, &files.key, files.client_ca.as_deref()))
        .transpose()
}

fn open_shadow_log(config: &ServeConfig) -> anyhow::Result<Option<ShadowLog>> {
    let Some(path) = &config.shadow_log else {
        return Ok(None);
    };
    let log = ShadowLog::open(path, SHADOW_LOG_MAX_BYTES)
        .with_context(|| format!("cannot open --shadow-log {}", path.display()))?;
    Ok(Some(log))
}

/// The reload loop, which owns the snapshot writer; health follows every publish.
fn start_reloads(
    config: &ServeConfig,
    loader: Loader,
    writer: SnapshotWriter,
    health: Arc<HealthPublisher>,
    stop: &StopSignal,
) -> JoinHandle<()> {
    let settings = ReloadSettings {
        watch: Some(WatchTargets {
            repository: config.model_repo.clone(),
            routes_file: config.routes_file.clone(),
        }),
        poll_interval: config.poll_interval,
    };
    let published = move |snapshot: Arc<crate::repository::Snapshot>| {
        let health = health.clone();
        async move { health.publish(&snapshot).await }
    };
    tokio::spawn(run_reloads(loader, writer, settings, published, stop.stopped()))
}

/// Lets running calls finish within the grace period.
async fn drain(mut servers: JoinHandle<anyhow::Result<()>>, config: &ServeConfig) -> anyhow::Result<()> {
    match tokio::time::timeout(config.shutdown_grace, &mut servers).await {
        Ok(result) => {
            result??;
            tracing::info!("in-flight requests drained; exiting");
        }
        Err(_) => {
            tracing::warn!(
                grace_secs = config.shutdown_grace.as_secs_f64(),
                "grace period over; exiting with requests still running"
            );
            servers.abort();
        }
    }
    Ok(())
}
