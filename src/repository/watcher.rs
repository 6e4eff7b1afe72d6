//! Tells the reload loop that something under the repository (or the routes
//! file's directory) changed. File events are only a hint: the loop rescans
//! and diffs, so a spurious or coalesced event costs one cheap rescan.
//!
//! Real deployments replace directories under the watcher: Kubernetes swaps
//! a ConfigMap's `..data` symlink, git-sync swaps the repository symlink. So
//! the watched paths are resolved again every few seconds and the watcher is
//! rebuilt when they point elsewhere; a watcher that reports an error is
//! rebuilt too, and every rebuild forces a rescan.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::event::{EventKind, MetadataKind, ModifyKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

/// How often the watched paths are resolved again to notice symlink swaps.
const RESOLVE_INTERVAL: Duration = Duration::from_secs(2);
/// Pause before rebuilding a watcher that could not be created.
const RETRY_DELAY: Duration = Duration::from_secs(1);

/// What to watch.
#[derive(Debug, Clone)]
pub struct WatchTargets {
    /// The model repository, watched recursively.
    pub repository: PathBuf,
    /// The routes file; its directory is watched (not the file: ConfigMap
    /// updates replace the file's parent links, not the file).
    pub routes_file: Option<PathBuf>,
}

impl WatchTargets {
    fn resolved(&self) -> Vec<Option<PathBuf>> {
        let mut paths = vec![std::fs::canonicalize(&self.repository).ok()];
        if let Some(routes) = &self.routes_file {
            paths.push(std::fs::canonicalize(routes).ok());
        }
        paths
    }
}

/// Watches `targets` until `changes` is closed, sending one `()` per burst
/// of relevant events (the channel should have capacity 1: a full channel
/// already means "rescan").
pub async fn watch(targets: WatchTargets, changes: mpsc::Sender<()>) {
    loop {
        let (raw_tx, mut raw_rx) = mpsc::unbounded_channel();
        let watcher = match start_watcher(&targets, raw_tx) {
            Ok(watcher) => watcher,
            Err(error) => {
                tracing::warn!(%error, "cannot watch the model repository; retrying (rescans continue)");
                tokio::time::sleep(RETRY_DELAY).await;
                continue;
            }
        };
        let resolved = targets.resolved();
        let mut resolve_tick = tokio::time::interval(RESOLVE_INTERVAL);
        resolve_tick.tick().await;
        loop {
            tokio::select! {
                event = raw_rx.recv() => match event {
                    Some(Ok(kind)) => {
                        if is_relevant(&kind) && changes.try_send(()).is_err() && changes.is_closed() {
                            return;
                        }
                    }
                    Some(Err(error)) => {
                        tracing::warn!(%error, "file watcher failed; recreating it and rescanning");
                        break;
                    }
                    None => break,
                },
                _ = resolve_tick.tick() => {
                    if changes.is_closed() {
                        return;
                    }
                    if targets.resolved() != resolved {
                        tracing::info!("watched paths now resolve elsewhere (symlink swap); re-watching");
                        break;
                    }
                }
            }
        }
        drop(watcher);
        if changes.try_send(()).is_err() && changes.is_closed() {
            return;
        }
    }
}

fn start_watcher(
    targets: &WatchTargets,
    events: mpsc::UnboundedSender<notify::Result<EventKind>>,
) -> notify::Result<RecommendedWatcher> {
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let _ = events.send(event.map(|e| e.kind));
    })?;
    watcher.watch(&targets.repository, RecursiveMode::Recursive)?;
    if let Some(dir) = targets.routes_file.as_deref().and_then(Path::parent) {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if !dir.starts_with(&targets.repository) {
            watcher.watch(dir, RecursiveMode::NonRecursive)?;
        }
    }
    Ok(watcher)
}

/// Reads (opens, closes, access-time updates) do not change anything; without
/// this filter the gateway's own scans would trigger rescans forever.
fn is_relevant(kind: &EventKind) -> bool {
    !matches!(
        kind,
        EventKind::Access(_) | EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{AccessKind, AccessMode, CreateKind};

    #[test]
    fn reads_are_not_changes() {
        assert!(!is_relevant(&EventKind::Access(AccessKind::Open(
            AccessMode::Read
        ))));
        assert!(!is_relevant(&EventKind::Modify(ModifyKind::Metadata(
            MetadataKind::AccessTime
        ))));
        assert!(is_relevant(&EventKind::Create(CreateKind::Folder)));
        assert!(is_relevant(&EventKind::Modify(ModifyKind::Any)));
    }

    #[tokio::test]
    async fn a_new_version_directory_is_a_change() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, mut rx) = mpsc::channel(1);
        let targets = WatchTargets {
            repository: dir.path().to_path_buf(),
            routes_file: None,
        };
        let task = tokio::spawn(watch(targets, tx));
        // Reading the repository must not count; wait for the watcher to be
        // in place by creating entries until one is reported.
        let mut reported = false;
        for attempt in 0..50 {
            std::fs::create_dir_all(dir.path().join(format!("m/{}", attempt + 1))).unwrap();
            if tokio::time::timeout(Duration::from_millis(100), rx.recv())
                .await
                .is_ok()
            {
                reported = true;
                break;
            }
        }
        assert!(reported, "creating a directory was never reported");
        task.abort();
    }
}
