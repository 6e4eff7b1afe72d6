//! Tells the reload loop that something under the repository (or the routes
//! file's directory) changed. File events are only a hint: the loop rescans
//! and diffs, so a spurious or coalesced event costs one cheap rescan.
//!
//! Real deployments replace directories under the watcher: Kubernetes swaps
//! a ConfigMap's `..data` symlink, git-sync swaps the repository symlink. So
//! the watched paths are resolved again every few seconds and the watcher is
//! rebuilt when they point elsewhere; a watcher that reports an error is
//! rebuilt too, and every rebuild forces a rescan.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use notify::event::{EventKind, MetadataKind, ModifyKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::changes::{ChangeRoots, Changes};

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
    /// Where the watched paths lead now, and which inode they are: a
    /// directory removed and created again under the same name is another
    /// inode, and the old watch on it is dead.
    fn resolved(&self) -> Vec<Option<(PathBuf, u64)>> {
        let resolve = |path: &Path| {
            let real = std::fs::canonicalize(path).ok()?;
            let inode = std::fs::metadata(&real).ok()?.ino();
            Some((real, inode))
        };
        let mut paths = vec![resolve(&self.repository)];
        if let Some(routes) = &self.routes_file {
            paths.push(resolve(routes));
        }
        paths
    }
}

/// Where the watcher leaves what changed, and how it wakes the reload loop.
#[derive(Debug, Clone)]
pub struct ChangeSink {
    /// Changes not yet taken by the reload loop.
    pub pending: Arc<Mutex<Changes>>,
    /// One `()` per burst (capacity 1: a full channel already means "reload").
    pub wake: mpsc::Sender<()>,
}

impl ChangeSink {
    /// Records `change` and wakes the reload loop; `false` once it is gone.
    fn note(&self, change: impl FnOnce(&mut Changes)) -> bool {
        if let Ok(mut pending) = self.pending.lock() {
            change(&mut pending);
        }
        self.wake.try_send(()).is_ok() || !self.wake.is_closed()
    }
}

/// Watches `targets` until the reload loop is gone, noting each relevant
/// event's paths in `sink`; a rebuilt watcher notes "everything".
pub async fn watch(targets: WatchTargets, sink: ChangeSink) {
    let roots = ChangeRoots::new(&targets.repository, targets.routes_file.as_deref());
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
                    Some(Ok(event)) => {
                        if is_relevant(&event.kind) && !sink.note(|c| note_paths(c, &event.paths, &roots)) {
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
                    if sink.wake.is_closed() {
                        return;
                    }
                    if targets.resolved() != resolved {
                        tracing::info!("watched paths now resolve elsewhere (symlink swap, directory replaced); re-watching");
                        break;
                    }
                }
            }
        }
        drop(watcher);
        if !sink.note(|c| c.merge(Changes::everything())) {
            return;
        }
    }
}

fn note_paths(changes: &mut Changes, paths: &[PathBuf], roots: &ChangeRoots) {
    if paths.is_empty() {
        changes.merge(Changes::everything());
    }
    for path in paths {
        changes.add_path(path, roots);
    }
}

fn start_watcher(
    targets: &WatchTargets,
    events: mpsc::UnboundedSender<notify::Result<notify::Event>>,
) -> notify::Result<RecommendedWatcher> {
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let _ = events.send(event);
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
        let sink = ChangeSink {
            pending: Arc::default(),
            wake: tx,
        };
        let task = tokio::spawn(watch(targets, sink.clone()));
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
        let pending = sink.pending.lock().unwrap().clone();
        assert!(pending.models().contains("m"), "{pending:?}");
        task.abort();
    }
}
