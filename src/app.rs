//! `switchyard serve`: binds the listeners, loads the repository, serves, and
//! shuts down gracefully.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest the first load waits for files that are still being written.
const INITIAL_SETTLE_LIMIT: Duration = Duration::from_secs(10);

use anyhow::Context;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::ServeConfig;
use crate::gateway::Gateway;
use crate::grpc::{GrpcServer, Readiness, TlsSettings};
use crate::onnx_runtime::OnnxRuntime;
use crate::repository::{Loader, SETTLE_TIME, SnapshotCell};
use crate::telemetry;

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
    let gateway = Arc::new(Gateway::new(snapshots.clone()));
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
        tls,
    };
    let mut grpc_task = tokio::spawn(grpc.serve(grpc_listener, stopped()));

    let loader = Loader::new(runtime, config.model_repo.clone(), config.routes_file.clone());
    let reload_task = tokio::spawn(reload_loop(
        loader,
        snapshots.clone(),
        readiness.clone(),
        config.poll_interval,
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

/// Owns every write to the snapshot: the first load, then rescans.
async fn reload_loop(
    mut loader: Loader,
    snapshots: Arc<SnapshotCell>,
    readiness: Arc<Readiness>,
    poll_interval: Option<Duration>,
    stopped: impl Future<Output = ()>,
) {
    tokio::pin!(stopped);
    // Readiness waits until files present at start-up have settled (a copy in
    // progress is not served half-written), but not forever.
    let readiness_deadline = Instant::now() + INITIAL_SETTLE_LIMIT;
    let mut initial_load_done = false;
    loop {
        let unsettled = match loader.reload().await {
            Ok(mut outcome) => {
                if !initial_load_done {
                    initial_load_done = !outcome.unsettled || Instant::now() >= readiness_deadline;
                    if initial_load_done {
                        for problem in &outcome.problems {
                            tracing::warn!(problem = %problem, "repository layout");
                        }
                        tracing::info!(
                            models = outcome.snapshot.models.len(),
                            "initial repository load done"
                        );
                    }
                }
                outcome.snapshot.initial_load_done = initial_load_done;
                snapshots.publish(outcome.snapshot);
                readiness.update(&snapshots.load()).await;
                outcome.unsettled
            }
            Err(error) => {
                tracing::error!(%error, "cannot scan the model repository");
                false
            }
        };
        let wait = if unsettled {
            Some(SETTLE_TIME)
        } else {
            poll_interval
        };
        tokio::select! {
            () = &mut stopped => return,
            () = sleep_or_forever(wait) => {}
        }
    }
}

async fn sleep_or_forever(wait: Option<Duration>) {
    match wait {
        Some(wait) => tokio::time::sleep(wait).await,
        None => std::future::pending().await,
    }
}
