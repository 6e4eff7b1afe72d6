//! Session threads, queues and dynamic batching, on the fake backend.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{BatchPolicy, IdleWait, ModelVersion, VersionKey, VersionSettings};
use crate::backend::fake::{FakeBackend, input_x, write_model};
use crate::error::{Code, ServeError};
use crate::tensor::OutputTensor;

fn load(backend: &FakeBackend, text: &str, settings: VersionSettings) -> ModelVersion {
    let dir = tempfile::tempdir().unwrap();
    let path = write_model(dir.path(), "m", 1, text);
    let key = VersionKey {
        model: "m".into(),
        version: 1,
    };
    ModelVersion::load(backend, key, &path, &settings, &IdleWait::default()).expect("fake model loads")
}

fn no_warmup() -> VersionSettings {
    VersionSettings {
        warmup: false,
        ..Default::default()
    }
}

async fn run(
    version: &ModelVersion,
    values: &[f32],
    deadline: Option<Instant>,
) -> Result<Vec<OutputTensor>, ServeError> {
    version.infer(vec![input_x(values)], Vec::new(), deadline).await
}

#[tokio::test]
async fn a_run_answers_with_the_models_output() {
    let backend = FakeBackend::default();
    let version = load(&backend, "scale 2", VersionSettings::default());
    let outputs = run(&version, &[1.0, 2.0], None).await.unwrap();
    assert_eq!(outputs, vec![OutputTensor::fp32("y", &[1, 2], &[2.0, 4.0])]);
    assert_eq!(
        backend.runs.load(Ordering::SeqCst),
        2,
        "one warm-up run, one request"
    );
}

#[tokio::test]
async fn a_full_queue_is_refused_with_resource_exhausted() {
    let backend = FakeBackend::default();
    let settings = VersionSettings {
        max_queue_size: 1,
        ..no_warmup()
    };
    let version = Arc::new(load(&backend, "delay_ms 200", settings));
    // One running, one queued: the next ones find the queue full.
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let version = version.clone();
            tokio::spawn(async move { run(&version, &[0.0, 0.0], None).await })
        })
        .collect();
    let mut refused = 0;
    for call in calls {
        if let Err(error) = call.await.unwrap() {
            assert_eq!(error.code(), Code::ResourceExhausted, "{error}");
            refused += 1;
        }
    }
    assert!((1..=3).contains(&refused), "{refused} refused");
}

#[tokio::test]
async fn a_job_whose_deadline_passes_in_the_queue_is_not_run() {
    let backend = FakeBackend::default();
    let version = Arc::new(load(&backend, "delay_ms 150", no_warmup()));
    let busy = {
        let version = version.clone();
        tokio::spawn(async move { run(&version, &[0.0, 0.0], None).await })
    };
    while backend.runs.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    let late = run(
        &version,
        &[0.0, 0.0],
        Some(Instant::now() + Duration::from_millis(20)),
    )
    .await;
    assert_eq!(late.unwrap_err().code(), Code::DeadlineExceeded);
    busy.await.unwrap().unwrap();
    assert_eq!(
        backend.runs.load(Ordering::SeqCst),
        1,
        "the expired job never ran"
    );
}

#[tokio::test]
async fn a_run_time_failure_is_internal() {
    let backend = FakeBackend::default();
    let version = load(&backend, "run_error", no_warmup());
    let error = run(&version, &[0.0, 0.0], None).await.unwrap_err();
    assert_eq!(error.code(), Code::Internal);
}

#[tokio::test]
async fn dynamic_batching_merges_requests_and_splits_the_answers() {
    let backend = FakeBackend::default();
    let settings = VersionSettings {
        max_batch_size: 8,
        batching: Some(BatchPolicy {
            max_batch_size: 8,
            target_rows: 4,
            // Long enough that the four requests always meet in one batch.
            max_delay: Duration::from_secs(5),
        }),
        ..no_warmup()
    };
    let version = Arc::new(load(&backend, "scale 10", settings));
    let calls: Vec<_> = (0..4)
        .map(|i| {
            let version = version.clone();
            tokio::spawn(async move { run(&version, &[i as f32, 1.0], None).await })
        })
        .collect();
    for (i, call) in calls.into_iter().enumerate() {
        let outputs = call.await.unwrap().unwrap();
        assert_eq!(
            outputs,
            vec![OutputTensor::fp32("y", &[1, 2], &[i as f32 * 10.0, 10.0])]
        );
    }
    assert_eq!(backend.runs.load(Ordering::SeqCst), 1, "four requests, one run");
}

#[tokio::test]
async fn dropping_a_version_ends_its_sessions() {
    let backend = FakeBackend::default();
    let settings = VersionSettings {
        instances: 3,
        ..no_warmup()
    };
    let version = load(&backend, "scale 1", settings);
    assert_eq!(backend.live_sessions.load(Ordering::SeqCst), 3);
    drop(version);
    let give_up = Instant::now() + Duration::from_secs(10);
    while backend.live_sessions.load(Ordering::SeqCst) > 0 {
        assert!(Instant::now() < give_up, "session threads kept their sessions");
        std::thread::yield_now();
    }
}

#[test]
fn a_backend_load_failure_carries_the_backends_message() {
    let backend = FakeBackend::default();
    let dir = tempfile::tempdir().unwrap();
    let path = write_model(dir.path(), "m", 1, "scale 1");
    let key = VersionKey {
        model: "m".into(),
        version: 1,
    };
    let ok = VersionSettings {
        max_batch_size: 4,
        ..Default::default()
    };
    assert!(ModelVersion::load(&backend, key.clone(), &path, &ok, &IdleWait::default()).is_ok());
    std::fs::write(&path, "fail no such op").unwrap();
    let error = ModelVersion::load(&backend, key, &path, &ok, &IdleWait::default()).unwrap_err();
    assert_eq!(error.to_string(), "no such op");
}

#[tokio::test]
async fn a_request_that_would_wait_past_its_queue_budget_is_refused() {
    let backend = FakeBackend::default();
    let settings = VersionSettings {
        queue_budget: Some(Duration::from_millis(50)),
        ..no_warmup()
    };
    let version = Arc::new(load(&backend, "delay_ms 120", settings));
    let send = |version: &Arc<ModelVersion>| {
        let version = version.clone();
        tokio::spawn(async move { run(&version, &[0.0, 0.0], None).await })
    };
    // No run time known yet: the second request is admitted, then refused
    // when it has waited past its budget behind the first.
    let (first, second) = (send(&version), send(&version));
    assert!(first.await.unwrap().is_ok());
    let refused = second.await.unwrap().unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted);
    assert!(refused.to_string().contains("queue budget"), "{refused}");
    // Now a run is known to take ~120 ms: with one request queued ahead, the
    // next is refused at once.
    let running = send(&version);
    while backend.runs.load(Ordering::SeqCst) < 2 {
        tokio::task::yield_now().await;
    }
    let queued = send(&version);
    while version.queued() == 0 {
        tokio::task::yield_now().await;
    }
    let started = Instant::now();
    let at_once = run(&version, &[0.0, 0.0], None).await.unwrap_err();
    assert!(at_once.to_string().contains("queue ahead"), "{at_once}");
    assert_eq!(at_once.code(), Code::ResourceExhausted);
    assert!(
        started.elapsed() < Duration::from_millis(120),
        "refused without waiting"
    );
    let _ = (running.await, queued.await);
}
