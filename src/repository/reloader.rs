//! The reload loop: the single task that writes the served snapshot. It
//! reloads on start, on file events (debounced: one reload per burst), on
//! the periodic rescan, and while files are still settling.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::watcher::{WatchTargets, watch};
use super::{Loader, SETTLE_TIME, Snapshot, SnapshotWriter};

/// Quiet time after the last file event before a reload starts.
pub const DEBOUNCE: Duration = Duration::from_millis(200);
/// A burst that never goes quiet still reloads this often.
const MAX_DEBOUNCE: Duration = Duration::from_secs(2);
/// Longest the first load waits for files that are still being written.
const INITIAL_SETTLE_LIMIT: Duration = Duration::from_secs(10);

/// How the loop is driven.
pub struct ReloadSettings {
    /// Paths whose file events trigger a reload; `None` = rescans only
    /// (`serve` always watches; tests check the rescan path on its own).
    pub watch: Option<WatchTargets>,
    /// Periodic rescan on top of file events (`--poll-interval`).
    pub poll_interval: Option<Duration>,
}

/// Runs until `stopped` resolves. `published` is called with every snapshot
/// after it is in force (to update health).
pub async fn run_reloads<F, Fut>(
    mut loader: Loader,
    mut snapshots: SnapshotWriter,
    settings: ReloadSettings,
    published: F,
    stopped: impl Future<Output = ()>,
) where
    F: Fn(Arc<Snapshot>) -> Fut,
    Fut: Future<Output = ()>,
{
    tokio::pin!(stopped);
    let (changes_tx, mut changes) = mpsc::channel(1);
    // Without a watcher the sender is dropped, and the event branch below
    // never fires.
    let watcher = settings
        .watch
        .map(|targets| tokio::spawn(watch(targets, changes_tx)));

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
                let snapshot = snapshots.publish(outcome.snapshot);
                published(snapshot).await;
                outcome.unsettled
            }
            Err(error) => {
                tracing::error!(%error, "cannot scan the model repository");
                false
            }
        };
        let timer = if unsettled {
            Some(SETTLE_TIME)
        } else {
            settings.poll_interval
        };
        tokio::select! {
            () = &mut stopped => break,
            () = sleep_or_forever(timer) => {}
            Some(()) = changes.recv() => debounce(&mut changes).await,
        }
    }
    if let Some(watcher) = watcher {
        watcher.abort();
    }
}

/// Waits until no change has arrived for [`DEBOUNCE`] (at most [`MAX_DEBOUNCE`]).
async fn debounce(changes: &mut mpsc::Receiver<()>) {
    let give_up = tokio::time::Instant::now() + MAX_DEBOUNCE;
    while let Ok(Some(())) = tokio::time::timeout_at(
        give_up.min(tokio::time::Instant::now() + DEBOUNCE),
        changes.recv(),
    )
    .await
    {}
}

async fn sleep_or_forever(wait: Option<Duration>) {
    match wait {
        Some(wait) => tokio::time::sleep(wait).await,
        None => std::future::pending().await,
    }
}
