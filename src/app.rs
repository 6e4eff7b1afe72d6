//! `switchyard serve`: binds the listeners, loads the repository, serves, and
//! shuts down gracefully.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::ServeConfig;
use crate::gateway::Gateway;
use crate::grpc::{GrpcServer, Readiness, TlsSettings};
use crate::in_flight::InFlight;
use crate::model::IdleWait;
use crate::onnx_runtime::OnnxRuntime;
use crate::repository::{Loader, ReloadSettings, SnapshotCell, WatchTargets, run_reloads};
use crate::shadow::{Mirror, ShadowLog};
use crate::telemetry;

/// `--shadow-log` rotates past this size (keeping three older files).
const SHADOW_LOG_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// Runs the gateway until `shutdown` resolves and in-flight work has drained
/// (or the grace period ran out).
pub async fn serve(
    config: ServeConfig,
    runtime: OnnxRuntime,
    metrics: PrometheusHandle,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let grpc_listener = TcpListener::bind(config.grpc_addr)
        .await
        .with_context(|| format!("cannot listen on --grpc-addr {}", config.grpc_addr))?;
    let metrics_listener = TcpListener::bind(config.metrics_addr)
        .await
        .with_context(|| format!("cannot listen on --metrics-addr {}", config.metrics_addr))?;
    let tls = TlsSettings::read(&config)?;
    if !config.model_repo.is_dir() {
        anyhow::bail!(
            "model repository {} is not a directory",
            config.model_repo.display()
        );
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = move || {
        let mut stop_rx = stop_rx.clone();
        async move {
            let _ = stop_rx.wait_for(|&stop| stop).await;
        }
    };

    let snapshots = Arc::new(SnapshotCell::default());
    let shadow_log = match &config.shadow_log {
        Some(path) => Some(
            ShadowLog::open(path, SHADOW_LOG_MAX_BYTES)
                .with_context(|| format!("cannot open --shadow-log {}", path.display()))?,
        ),
        None => None,
    };
    let in_flight = InFlight::new(config.max_concurrent_requests);
    let gateway = Arc::new(Gateway::new(
        snapshots.clone(),
        Mirror::start(shadow_log),
        in_flight.clone(),
    ));
    let health_reporter = tonic_health::server::HealthReporter::new();
    let health_service = tonic_health::pb::health_server::HealthServer::new(
        tonic_health::server::HealthService::from_health_reporter(health_reporter.clone()),
    );
    let readiness = Arc::new(Readiness::new(health_reporter));
    readiness.update(&snapshots.load()).await;

    tracing::info!(
        grpc_addr = %grpc_listener.local_addr()?,
        metrics_addr = %metrics_listener.local_addr()?,
        model_repo = %config.model_repo.display(),
        tls = tls.is_some(),
        onnxruntime = %runtime.library.display(),
        "listening"
    );
    let metrics_task = tokio::spawn(telemetry::serve_metrics(metrics_listener, metrics, stopped()));
    let grpc = GrpcServer {
        gateway,
        readiness: readiness.clone(),
        health: health_service,
        max_message_bytes: config.max_message_bytes,
        max_connection_age: config.max_connection_age,
        tls,
    };
    let mut grpc_task = tokio::spawn(grpc.serve(grpc_listener, stopped()));

    let loader = Loader::new(runtime, config.model_repo.clone(), config.routes_file.clone()).with_idle_wait(
        IdleWait {
            spin: config.idle_spin,
            in_flight,
        },
    );
    let settings = ReloadSettings {
        watch: Some(WatchTargets {
            repository: config.model_repo.clone(),
            routes_file: config.routes_file.clone(),
        }),
        poll_interval: config.poll_interval,
    };
    let health = readiness.clone();
    let reload_task = tokio::spawn(run_reloads(
        loader,
        snapshots.clone(),
        settings,
        move |snapshot| {
            let health = health.clone();
            async move { health.update(&snapshot).await }
        },
        stopped(),
    ));

    tokio::select! {
        () = shutdown => {}
        result = &mut grpc_task => {
            result??;
            anyhow::bail!("gRPC server stopped unexpectedly");
        }
    }

    // Readiness first, so load balancers stop sending before we stop accepting.
    readiness.begin_shutdown().await;
    let _ = stop_tx.send(true);
    reload_task.abort();
    match tokio::time::timeout(config.shutdown_grace, &mut grpc_task).await {
        Ok(result) => {
            result??;
            tracing::info!("in-flight requests drained; exiting");
        }
        Err(_) => {
            tracing::warn!(
                grace_secs = config.shutdown_grace.as_secs_f64(),
                "grace period over; exiting with requests still running"
            );
            grpc_task.abort();
        }
    }
    metrics_task.abort();
    Ok(())
}
