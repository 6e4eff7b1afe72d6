//! The reload loop: the single task that writes the served snapshot. It
//! reloads on start, on file events (debounced: one reload per burst), on
//! the periodic rescan, and while files are still settling.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::changes::Changes;
use super::watcher::{ChangeSink, WatchTargets, watch};
use super::{Loader, SETTLE_TIME, Snapshot, SnapshotWriter};

/// Quiet time after the last file event before a reload starts.
pub const DEBOUNCE: Duration = Duration::from_millis(200);
/// A burst that never goes quiet still reloads this often.
const MAX_DEBOUNCE: Duration = Duration::from_secs(2);
/// How often rollouts are checked (each check is due only once its interval passed).
const ROLLOUT_TICK: Duration = Duration::from_millis(250);
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
    loader: Loader,
    snapshots: SnapshotWriter,
    settings: ReloadSettings,
    published: F,
    stopped: impl Future<Output = ()>,
) where
    F: Fn(Arc<Snapshot>) -> Fut,
    Fut: Future<Output = ()>,
{
    tokio::pin!(stopped);
    let (wake_tx, mut wake) = mpsc::channel(1);
    let sink = ChangeSink {
        // The first reload scans everything.
        pending: Arc::new(Mutex::new(Changes::everything())),
        wake: wake_tx,
    };
    // Without a watcher `sink` holds the only sender; the wake branch then
    // only fires for what the loop itself notes.
    let watcher = settings
        .watch
        .map(|targets| tokio::spawn(watch(targets, sink.clone())));
    let mut state = LoopState {
        loader,
        snapshots,
        published,
        // Readiness waits until files present at start-up have settled (a copy
        // in progress is not served half-written), but not forever.
        readiness_deadline: Instant::now() + INITIAL_SETTLE_LIMIT,
        initial_load_done: false,
    };
    loop {
        let changes = sink
            .pending
            .lock()
            .map(|mut p| std::mem::take(&mut *p))
            .unwrap_or_else(|_| Changes::everything());
        let retry = state.reload(&changes).await;
        let settling = !retry.is_empty();
        let timer = if settling {
            Some(SETTLE_TIME)
        } else {
            settings.poll_interval
        };
        let next = match state.wait(timer, &mut wake, &mut stopped).await {
            None => break,
            // A settle retry reloads what was unsettled; a poll tick, everything.
            Some(Wake::Timer) if !settling => Changes::everything(),
            Some(Wake::Timer) => retry,
            Some(Wake::Changes) => {
                debounce(&mut wake).await;
                retry
            }
        };
        if let Ok(mut pending) = sink.pending.lock() {
            pending.merge(next);
        }
    }
    if let Some(watcher) = watcher {
        watcher.abort();
    }
}

/// What the loop keeps between reloads.
struct LoopState<F> {
    loader: Loader,
    snapshots: SnapshotWriter,
    published: F,
    readiness_deadline: Instant,
    initial_load_done: bool,
}

impl<F, Fut> LoopState<F>
where
    F: Fn(Arc<Snapshot>) -> Fut,
    Fut: Future<Output = ()>,
{
    /// Reloads after `changes` and publishes; returns what to retry.
    async fn reload(&mut self, changes: &Changes) -> Changes {
        let mut retry = Changes::default();
        match self.loader.reload_changes(changes).await {
            Ok(mut outcome) => {
                if !self.initial_load_done {
                    self.initial_load_done = !outcome.unsettled || Instant::now() >= self.readiness_deadline;
                    if self.initial_load_done {
                        log_initial_load(&outcome);
                    }
                }
                outcome.snapshot.initial_load_done = self.initial_load_done;
                for model in &outcome.unsettled_models {
                    retry.add_model(model);
                }
                let snapshot = self.snapshots.publish(outcome.snapshot);
                (self.published)(snapshot).await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot scan the model repository");
                retry = Changes::everything();
            }
        }
        retry
    }

    /// Waits for the timer, a change or the stop; meanwhile rollouts are
    /// checked, and new weights published over the snapshot in force.
    async fn wait(
        &mut self,
        timer: Option<Duration>,
        wake: &mut mpsc::Receiver<()>,
        stopped: &mut std::pin::Pin<&mut impl Future<Output = ()>>,
    ) -> Option<Wake> {
        let mut rollout_tick = tokio::time::interval(ROLLOUT_TICK);
        rollout_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        rollout_tick.tick().await;
        let timer = sleep_or_forever(timer);
        tokio::pin!(timer);
        loop {
            tokio::select! {
                () = stopped.as_mut() => return None,
                () = &mut timer => return Some(Wake::Timer),
                Some(()) = wake.recv() => return Some(Wake::Changes),
                _ = rollout_tick.tick() => {
                    let current = self.snapshots.reader().load();
                    if let Some(next) = self.loader.check_rollouts(Instant::now(), &current) {
                        (self.published)(self.snapshots.publish(next)).await;
                    }
                }
            }
        }
    }
}

/// Why the loop woke up for a reload.
enum Wake {
    Timer,
    Changes,
}

fn log_initial_load(outcome: &super::ReloadOutcome) {
    for problem in &outcome.problems {
        tracing::warn!(problem = %problem, "repository layout");
    }
    tracing::info!(
        models = outcome.snapshot.models.len(),
        "initial repository load done"
    );
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
