//! The watcher survives what real deployments do to watched directories:
//! the repository directory removed and created again under the same name
//! (its old inotify watch follows the old inode away). Without any periodic
//! rescan, the server notices within its re-resolve period (2 s), watches
//! the new directory, and serves a version published there from its events.

mod common;

use std::time::{Duration, Instant};

use common::*;
use switchyard::proto::inference::ModelReadyRequest;

async fn ready(client: &mut Client, version: &str) -> bool {
    let request = ModelReadyRequest {
        name: "add_fp32".into(),
        version: version.into(),
    };
    client
        .model_ready(request)
        .await
        .is_ok_and(|r| r.into_inner().ready)
}

#[tokio::test]
async fn a_replaced_repository_directory_is_watched_again() {
    let holder = tempfile::tempdir().unwrap();
    let repo = holder.path().join("repo");
    copy_dir(&fixtures().join("add_fp32"), &repo.join("add_fp32"));
    let server = TestServer::start_ready(&repo, &[]).await;
    let mut client = server.client().await;
    assert!(ready(&mut client, "1").await);

    // Replace the directory: move it away and create a new one under the
    // same name. The old watch now follows the moved directory.
    std::fs::rename(&repo, holder.path().join("old")).unwrap();
    copy_dir(&fixtures().join("add_fp32"), &repo.join("add_fp32"));
    let rewatched = |e: &serde_json::Value| {
        let message = e["message"].as_str().unwrap_or("");
        message.contains("re-watching") || message.contains("recreating it")
    };
    server.wait_for_log(Duration::from_secs(10), rewatched).await;

    // A version published in the new directory is picked up from its events.
    copy_dir(&fixtures().join("add_fp32/1"), &repo.join("add_fp32/.2.tmp"));
    std::fs::rename(repo.join("add_fp32/.2.tmp"), repo.join("add_fp32/2")).unwrap();
    let started = Instant::now();
    while !ready(&mut client, "2").await {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "version 2 in the new directory was never served"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
