//! `--poll-interval` for filesystems without file events (NFS, some CSI
//! volumes): the reload loop with no watcher at all picks up a new version
//! from its periodic rescan alone, and without the rescan it never does.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use switchyard::repository::{Loader, ReloadSettings, run_reloads, snapshot_cell};

/// Runs the reload loop without a watcher, adds version 2 once version 1 is
/// served, and reports whether version 2 became servable within `wait`.
async fn new_version_seen(poll_interval: Option<Duration>, wait: Duration) -> bool {
    let repo = TestRepo::new();
    repo.add_version("mlp_small", "m", 1);
    let runtime =
        Arc::new(switchyard::backend::ort::init(None).expect("ONNX Runtime (scripts/install-ort.sh)"));
    let loader = Loader::new(runtime, repo.path().to_path_buf(), None);
    let (snapshots, writer) = snapshot_cell();
    let settings = ReloadSettings {
        watch: None,
        poll_interval,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let reloads = tokio::spawn(run_reloads(loader, writer, settings, |_| async {}, async {
        let _ = stopped.await;
    }));

    let servable = |version: &str| snapshots.load().resolve("m", version).is_ok();
    let start = Instant::now();
    while !servable("1") {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "version 1 never loaded"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    repo.add_version("mlp_small", "m", 2);
    let added = Instant::now();
    let seen = loop {
        if servable("2") {
            eprintln!("version 2 servable {:?} after it was added", added.elapsed());
            break true;
        }
        if added.elapsed() > wait {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let _ = stop.send(());
    reloads.await.expect("reload loop");
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_periodic_rescan_alone_finds_a_new_version() {
    // One rescan notices the file, the settle check (0.5 s) loads it.
    assert!(new_version_seen(Some(Duration::from_millis(200)), Duration::from_secs(15)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_events_or_rescans_nothing_changes() {
    // The control: what the test above sees comes from the rescan.
    assert!(!new_version_seen(None, Duration::from_secs(2)).await);
}
