//! The mirror queue on the fake backend: it is bounded, and a shadow slower
//! than the traffic loses mirrors (counted) instead of queueing them.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{MIRROR_CONCURRENCY, MIRROR_QUEUE, Mirror, MirrorJob};
use crate::backend::fake::{FakeBackend, input_x, write_model};
use crate::model::{IdleWait, ModelVersion, VersionKey, VersionSettings};

fn slow_shadow(backend: &FakeBackend) -> Arc<ModelVersion> {
    let dir = tempfile::tempdir().unwrap();
    let path = write_model(dir.path(), "shadow", 1, "delay_ms 300");
    let key = VersionKey {
        model: "shadow".into(),
        version: 1,
    };
    let settings = VersionSettings {
        warmup: false,
        max_queue_size: 1024,
        ..Default::default()
    };
    Arc::new(ModelVersion::load(backend, key, &path, &settings, &IdleWait::default()).unwrap())
}

fn job(shadow: &Arc<ModelVersion>) -> MirrorJob {
    MirrorJob {
        request_id: String::new(),
        route: "r".into(),
        primary_model: "m".into(),
        primary_version: "1".into(),
        primary_latency: Duration::ZERO,
        primary_outputs: Vec::new(),
        shadow: Ok(shadow.clone()),
        shadow_model: "shadow".into(),
        shadow_version: "1".into(),
        inputs: vec![input_x(&[1.0, 1.0])],
        rollout_window: None,
    }
}

#[tokio::test]
async fn mirrors_beyond_the_queue_are_dropped_not_queued() {
    let backend = FakeBackend::default();
    let shadow = slow_shadow(&backend);
    let mirror = Mirror::start(None);
    let offered = MIRROR_QUEUE + 100;
    let queued = (0..offered).filter(|_| mirror.submit(job(&shadow))).count();
    // The dispatcher can take at most a few jobs off the queue while they are
    // offered (each run takes 300 ms): everything beyond the queue is dropped.
    assert!(queued <= MIRROR_QUEUE + MIRROR_CONCURRENCY + 1, "{queued} queued");
    assert!(queued >= MIRROR_QUEUE, "{queued} queued");
    assert!(
        backend.runs.load(Ordering::SeqCst) <= MIRROR_CONCURRENCY,
        "runs are bounded"
    );
}

#[tokio::test]
async fn a_shadow_that_cannot_be_resolved_is_an_error_not_a_panic() {
    let mirror = Mirror::start(None);
    let backend = FakeBackend::default();
    let mut unresolved = job(&slow_shadow(&backend));
    unresolved.shadow = Err("shadow m/9 has no ready version".into());
    let record = super::run(unresolved).await;
    assert_eq!(record.outcome, super::Outcome::Error);
    assert_eq!(record.error.as_deref(), Some("shadow m/9 has no ready version"));
    drop(mirror);
}

/// (scheduling policy, nice) of this process's threads called `name`, from /proc.
#[cfg(target_os = "linux")]
fn threads_named(name: &str) -> Vec<(i64, i64)> {
    let mut found = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() != name {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        // Fields after the parenthesised name; nice is field 19, policy 41.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or("", |(_, rest)| rest)
            .split_whitespace()
            .collect();
        let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse().ok()).unwrap_or(-1);
        found.push((field(41), field(19)));
    }
    found
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_dispatcher_and_a_mirror_only_versions_threads_run_in_the_background() {
    let backend = FakeBackend::default();
    let dir = tempfile::tempdir().unwrap();
    let path = write_model(dir.path(), "bg", 1, "scale 1");
    let key = VersionKey {
        model: "bg".into(),
        version: 1,
    };
    let settings = VersionSettings {
        warmup: false,
        ..Default::default()
    };
    let shadow = Arc::new(ModelVersion::load(&backend, key, &path, &settings, &IdleWait::default()).unwrap());
    shadow.priority.set_background(true);
    let mirror = Mirror::start(None);
    // One mirror through the dispatcher makes the session thread apply the request.
    let mut job = job(&shadow);
    job.shadow_model = "bg".into();
    assert!(mirror.submit(job));
    let give_up = std::time::Instant::now() + Duration::from_secs(10);
    while backend.runs.load(Ordering::SeqCst) == 0 {
        assert!(std::time::Instant::now() < give_up, "the mirror never ran");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    const SCHED_OTHER: i64 = 0;
    assert!(
        threads_named("shadow-dispatch").contains(&(SCHED_OTHER, 19)),
        "{:?}",
        threads_named("shadow-dispatch")
    );
    assert_eq!(threads_named("ort-bg-1-0"), vec![(SCHED_OTHER, 19)]);
}
