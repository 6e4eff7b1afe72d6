//! The loader and the reload loop on the fake backend with a fake clock:
//! the settle window, files changed during a load, keeping the previous
//! version when a new one fails, draining on removal, and routes.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use super::{Clock, Loader, ReloadSettings, Snapshot, Unavailable, run_reloads, snapshot_cell};
use crate::backend::fake::{FakeBackend, write_model};

/// A clock that moves only when told.
struct FakeClock(Mutex<SystemTime>);

impl FakeClock {
    fn at(time: SystemTime) -> Arc<Self> {
        Arc::new(Self(Mutex::new(time)))
    }

    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for FakeClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap()
    }
}

fn modified(path: &Path) -> SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

fn loader(backend: &Arc<FakeBackend>, root: &Path) -> Loader {
    Loader::new(backend.clone(), root.to_path_buf(), None)
}

fn ready_versions(snapshot: &Snapshot, model: &str) -> Vec<u64> {
    snapshot
        .models
        .get(model)
        .map(|state| state.ready.keys().copied().collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_file_inside_the_settle_window_is_left_until_it_settles() {
    let backend = Arc::new(FakeBackend::default());
    let repo = tempfile::tempdir().unwrap();
    let path = write_model(repo.path(), "m", 1, "scale 2");
    let clock = FakeClock::at(modified(&path) + Duration::from_millis(100));
    let mut loader = loader(&backend, repo.path()).with_clock(clock.clone());

    let outcome = loader.reload().await.unwrap();
    assert!(outcome.unsettled);
    assert_eq!(
        outcome.snapshot.models["m"].unavailable[&1],
        Unavailable::StillWriting
    );
    assert_eq!(backend.load_count(), 0, "nothing is read before it settles");

    clock.advance(Duration::from_millis(500));
    let outcome = loader.reload().await.unwrap();
    assert!(!outcome.unsettled);
    assert_eq!(ready_versions(&outcome.snapshot, "m"), vec![1]);
}

#[tokio::test]
async fn a_file_changed_during_its_load_is_not_taken_as_final() {
    let backend = Arc::new(FakeBackend::default());
    let repo = tempfile::tempdir().unwrap();
    write_model(repo.path(), "m", 1, "scale 2");
    // The first load sees the file grow under it, as a copy in progress would.
    let grown = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hook_grown = grown.clone();
    *backend.on_load.lock().unwrap() = Some(Box::new(move |path: &Path| {
        if !hook_grown.swap(true, Ordering::SeqCst) {
            std::fs::write(path, "scale 2\nscale 3\n").unwrap();
        }
    }));
    let clock = FakeClock::at(SystemTime::now() + Duration::from_secs(3600));
    let mut loader = loader(&backend, repo.path()).with_clock(clock);

    let outcome = loader.reload().await.unwrap();
    assert!(outcome.unsettled, "a changed stamp means reload again");
    assert!(ready_versions(&outcome.snapshot, "m").is_empty());
    let outcome = loader.reload().await.unwrap();
    assert_eq!(ready_versions(&outcome.snapshot, "m"), vec![1]);
    assert_eq!(backend.load_count(), 2);
}

#[tokio::test]
async fn a_broken_replacement_keeps_the_previous_version_serving() {
    let backend = Arc::new(FakeBackend::default());
    let repo = tempfile::tempdir().unwrap();
    let mut loader = loader(&backend, repo.path());
    write_model(repo.path(), "m", 1, "scale 2");
    let first = loader.reload().await.unwrap().snapshot;
    let serving = first.models["m"].ready[&1].clone();

    write_model(repo.path(), "m", 1, "fail truncated upload\n");
    let second = loader.reload().await.unwrap().snapshot;
    assert!(
        Arc::ptr_eq(&second.models["m"].ready[&1], &serving),
        "the old copy serves on"
    );
    let loads = backend.load_count();
    loader.reload().await.unwrap();
    assert_eq!(backend.load_count(), loads, "an unchanged failure is not retried");

    write_model(repo.path(), "m", 1, "scale 3\n");
    let third = loader.reload().await.unwrap().snapshot;
    assert!(
        !Arc::ptr_eq(&third.models["m"].ready[&1], &serving),
        "a fixed file replaces it"
    );
}

#[tokio::test]
async fn latest_one_serves_the_highest_version_that_loads() {
    let backend = Arc::new(FakeBackend::default());
    let repo = tempfile::tempdir().unwrap();
    write_model(repo.path(), "m", 1, "scale 1");
    write_model(repo.path(), "m", 2, "fail bad graph");
    let outcome = loader(&backend, repo.path()).reload().await.unwrap();
    let state = &outcome.snapshot.models["m"];
    assert_eq!(state.ready.keys().copied().collect::<Vec<_>>(), vec![1]);
    assert!(matches!(state.unavailable[&2], Unavailable::LoadFailed(_)));
    assert_eq!(state.unavailable[&2].to_string(), "bad graph");
}

#[tokio::test]
async fn a_removed_version_drains_then_frees_its_sessions() {
    let backend = Arc::new(FakeBackend::default());
    let repo = tempfile::tempdir().unwrap();
    let mut loader = loader(&backend, repo.path());
    write_model(repo.path(), "m", 1, "scale 2\ndelay_ms 100");
    let held = loader.reload().await.unwrap().snapshot.models["m"].ready[&1].clone();
    let running = {
        let held = held.clone();
        tokio::spawn(async move {
            let input = crate::backend::fake::input_x(&[1.0, 1.0]);
            held.infer(vec![input], Vec::new(), None).await
        })
    };
    std::fs::remove_dir_all(repo.path().join("m/1")).unwrap();
    let outcome = loader.reload().await.unwrap();
    assert!(ready_versions(&outcome.snapshot, "m").is_empty());
    assert_eq!(
        backend.live_sessions.load(Ordering::SeqCst),
        1,
        "still held by a request"
    );
    assert!(
        running.await.unwrap().is_ok(),
        "the running request finishes on it"
    );
    drop(held);
    drop(outcome);
    let give_up = Instant::now() + Duration::from_secs(10);
    while backend.live_sessions.load(Ordering::SeqCst) > 0 {
        assert!(Instant::now() < give_up, "the removed version was never freed");
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn a_broken_routes_file_keeps_the_routes_in_force() {
    let backend = Arc::new(FakeBackend::default());
    let repo = tempfile::tempdir().unwrap();
    write_model(repo.path(), "m", 1, "scale 1");
    let routes = repo.path().join("routes.yaml");
    std::fs::write(&routes, "routes:\n  r:\n    targets: [{model: m, weight: 1}]\n").unwrap();
    let mut loader = loader(&backend, repo.path());
    assert!(loader.reload().await.unwrap().snapshot.routes.contains_key("r"));

    std::fs::write(
        &routes,
        "routes:\n  r:\n    targets: [{model: missing, weight: 1}]\n",
    )
    .unwrap();
    let outcome = loader.reload().await.unwrap();
    assert!(
        outcome.snapshot.routes["r"].targets[0].model == "m",
        "previous routes stay"
    );
    let error = outcome.routes_error.expect("rejection reported");
    assert!(
        matches!(error, crate::config::RoutesError::Invalid(ref p) if p.len() == 1),
        "{error}"
    );
}

#[tokio::test]
async fn the_reload_loop_publishes_a_new_version_from_its_rescans() {
    let backend = Arc::new(FakeBackend::default());
    let repo = tempfile::tempdir().unwrap();
    write_model(repo.path(), "m", 1, "scale 1");
    let (reader, writer) = snapshot_cell();
    let (published_tx, mut published) = tokio::sync::mpsc::unbounded_channel();
    let settings = ReloadSettings {
        watch: None,
        poll_interval: Some(Duration::from_millis(20)),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let reloads = tokio::spawn(run_reloads(
        loader(&backend, repo.path()),
        writer,
        settings,
        move |snapshot: Arc<Snapshot>| {
            let _ = published_tx.send(ready_versions(&snapshot, "m"));
            async {}
        },
        async {
            let _ = stopped.await;
        },
    ));
    assert_eq!(published.recv().await.unwrap(), vec![1]);
    write_model(repo.path(), "m", 2, "scale 2");
    while published.recv().await.unwrap() != vec![2] {}
    assert_eq!(
        ready_versions(&reader.load(), "m"),
        vec![2],
        "what was published is in force"
    );
    let _ = stop.send(());
    reloads.await.unwrap();
}

#[tokio::test]
async fn only_a_version_that_only_mirrors_runs_in_the_background() {
    let backend = Arc::new(FakeBackend::default());
    let repo = tempfile::tempdir().unwrap();
    for version in 1..=3 {
        write_model(repo.path(), "m", version, "scale 1");
    }
    std::fs::write(repo.path().join("m/config.yaml"), "version_policy: {all: true}\n").unwrap();
    let routes = repo.path().join("routes.yaml");
    let shadow_of = |shadow: u64, target: u64| {
        format!(
            "routes:\n  r:\n    targets: [{{model: m, version: {target}, weight: 1}}]\n    shadow: {{model: m, version: {shadow}}}\n"
        )
    };
    std::fs::write(&routes, shadow_of(2, 1)).unwrap();
    let mut loader = loader(&backend, repo.path());
    let background = |snapshot: &Snapshot| -> Vec<u64> {
        let ready = &snapshot.models["m"].ready;
        ready
            .iter()
            .filter(|(_, v)| v.priority.is_background())
            .map(|(&k, _)| k)
            .collect()
    };
    let first = loader.reload().await.unwrap().snapshot;
    assert_eq!(background(&first), vec![2], "version 1 is a target, 3 no shadow");
    // The old shadow becomes the route's target, 3 the shadow.
    std::fs::write(&routes, shadow_of(3, 2)).unwrap();
    let second = loader.reload().await.unwrap().snapshot;
    assert_eq!(background(&second), vec![3], "2 is back to normal priority");
}

#[tokio::test]
async fn a_partial_reload_rescans_only_the_models_named() {
    let backend = Arc::new(FakeBackend::default());
    let repo = tempfile::tempdir().unwrap();
    write_model(repo.path(), "a", 1, "scale 1");
    write_model(repo.path(), "b", 1, "scale 1");
    let mut loader = loader(&backend, repo.path());
    let first = loader.reload().await.unwrap().snapshot;
    let b_before = first.models["b"].ready[&1].clone();
    // Both change on disk, but only `a` is reported changed.
    write_model(repo.path(), "a", 2, "scale 2");
    write_model(repo.path(), "b", 1, "scale 3\n");
    let mut changes = super::Changes::default();
    changes.add_model("a");
    let partial = loader.reload_changes(&changes).await.unwrap().snapshot;
    assert_eq!(ready_versions(&partial, "a"), vec![2]);
    assert!(
        Arc::ptr_eq(&partial.models["b"].ready[&1], &b_before),
        "b was not looked at"
    );
    // A model that disappeared is dropped by a partial reload too.
    std::fs::remove_dir_all(repo.path().join("a")).unwrap();
    let gone = loader.reload_changes(&changes).await.unwrap().snapshot;
    assert!(!gone.models.contains_key("a"));
    let full = loader.reload().await.unwrap().snapshot;
    assert!(
        !Arc::ptr_eq(&full.models["b"].ready[&1], &b_before),
        "a full rescan sees b's change"
    );
}
