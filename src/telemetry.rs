//! Logs (JSON lines on stderr by default) and Prometheus metrics: names,
//! descriptions, histogram buckets and the `/metrics` HTTP endpoint.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode, body::Incoming, service::service_fn};
use hyper_util::rt::TokioIo;
use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

/// Metric names: the contract's, one place.
pub mod metric {
    pub const REQUESTS: &str = "switchyard_requests_total";
    pub const REQUEST_DURATION: &str = "switchyard_request_duration_seconds";
    pub const INFERENCE_DURATION: &str = "switchyard_inference_duration_seconds";
    pub const QUEUE_DURATION: &str = "switchyard_queue_duration_seconds";
    pub const INFLIGHT: &str = "switchyard_inflight_requests";
    pub const MODEL_READY: &str = "switchyard_model_ready";
    pub const MODEL_LOADS: &str = "switchyard_model_loads_total";
    pub const ROUTE_WEIGHT: &str = "switchyard_route_weight";
    pub const CONFIG_RELOADS: &str = "switchyard_config_reloads_total";
    pub const SHADOW_REQUESTS: &str = "switchyard_shadow_requests_total";
    pub const SHADOW_ABS_DIFF: &str = "switchyard_shadow_abs_diff";
    pub const SHADOW_ARGMAX_AGREEMENT: &str = "switchyard_shadow_argmax_agreement_total";
    pub const SHADOW_DURATION: &str = "switchyard_shadow_duration_seconds";
    pub const BATCH_SIZE: &str = "switchyard_batch_size";
    pub const ROLLOUT_STATE: &str = "switchyard_rollout_state";
    pub const ROLLOUT_STEP: &str = "switchyard_rollout_step";
    pub const ROLLOUT_CHECKS: &str = "switchyard_rollout_checks_total";
}

/// The `switchyard_requests_total` series of one request outcome: the one
/// place its label set is built.
pub fn requests_counter(route: &str, model: &str, version: &str, code: &'static str) -> metrics::Counter {
    metrics::counter!(metric::REQUESTS,
        "route" => route.to_string(),
        "model" => model.to_string(),
        "version" => version.to_string(),
        "code" => code)
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
}

/// Installs the global log subscriber; level from `RUST_LOG` (default info).
pub fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,ort=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

const LATENCY_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];
const ABS_DIFF_BUCKETS: &[f64] = &[1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0];
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0];

/// Installs the process-wide Prometheus recorder with histogram buckets (so
/// durations render as histograms, not summaries) and describes every metric.
pub fn install_metrics() -> anyhow::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .set_buckets(LATENCY_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(metric::SHADOW_ABS_DIFF.into()), ABS_DIFF_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(metric::BATCH_SIZE.into()), BATCH_BUCKETS)?
        .install_recorder()?;
    describe_metrics();
    Ok(handle)
}

fn describe_metrics() {
    use metric::*;
    describe_counter!(
        REQUESTS,
        "ModelInfer requests answered, by route, model, version and gRPC code"
    );
    describe_histogram!(
        REQUEST_DURATION,
        Unit::Seconds,
        "ModelInfer time from arrival to answer"
    );
    describe_histogram!(INFERENCE_DURATION, Unit::Seconds, "ONNX Runtime run time");
    describe_histogram!(
        QUEUE_DURATION,
        Unit::Seconds,
        "time a request waited for a free session"
    );
    describe_gauge!(INFLIGHT, "ModelInfer requests being processed");
    describe_gauge!(
        MODEL_READY,
        "1 when the model version serves traffic, 0 when it failed or is unloaded"
    );
    describe_counter!(MODEL_LOADS, "model version loads, by outcome (ok, failure)");
    describe_gauge!(ROUTE_WEIGHT, "configured weight of each route target");
    describe_counter!(
        CONFIG_RELOADS,
        "routes and config.yaml reloads, by file and outcome (ok, failure)"
    );
    describe_counter!(
        SHADOW_REQUESTS,
        "mirrored requests, by outcome (ok, error, dropped, mismatch)"
    );
    describe_histogram!(
        SHADOW_ABS_DIFF,
        "max absolute difference between primary and shadow outputs"
    );
    describe_counter!(
        SHADOW_ARGMAX_AGREEMENT,
        "rows whose argmax agreed (true) or not (false) between primary and shadow"
    );
    describe_histogram!(SHADOW_DURATION, Unit::Seconds, "shadow model run time");
    describe_histogram!(BATCH_SIZE, "requests merged into one run by dynamic batching");
    describe_gauge!(
        ROLLOUT_STATE,
        "1 for the state each route's automatic rollout is in (progressing, promoted, rolled_back)"
    );
    describe_gauge!(ROLLOUT_STEP, "index in `steps` of the rollout step in force");
    describe_counter!(
        ROLLOUT_CHECKS,
        "rollout checks, by result (pass, fail, inconclusive)"
    );
}

/// Serves `GET /metrics` on `listener` until `shutdown` resolves.
pub async fn serve_metrics(
    listener: TcpListener,
    handle: PrometheusHandle,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let upkeep = handle.clone();
    let upkeep_task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(error) => {
                    tracing::warn!(%error, "metrics listener accept failed");
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let handle = handle.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<Incoming>| {
                let handle = handle.clone();
                async move { Ok::<_, Infallible>(metrics_response(&request, &handle)) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
    upkeep_task.abort();
}

fn metrics_response(request: &Request<Incoming>, handle: &PrometheusHandle) -> Response<Full<Bytes>> {
    let (status, body) = if request.method() == hyper::Method::GET && request.uri().path() == "/metrics" {
        (StatusCode::OK, handle.render())
    } else {
        (
            StatusCode::NOT_FOUND,
            "not found; metrics are at GET /metrics\n".to_string(),
        )
    };
    Response::builder()
        .status(status)
        .header("content-type", "text/plain; version=0.0.4")
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_default()
}
