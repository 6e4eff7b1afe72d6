//! `--shadow-log FILE`: shadow records as JSON lines in a size-capped file,
//! rotated as FILE.1 … FILE.N. Written by its own thread so the async
//! runtime never waits on the disk.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};

/// Rotated files kept besides the current one.
const KEEP: usize = 3;
/// Records waiting for the writer; more are dropped (and the drop logged).
const BACKLOG: usize = 4096;

/// Handle to the writer thread.
#[derive(Clone)]
pub struct ShadowLog {
    lines: SyncSender<String>,
}

impl ShadowLog {
    /// Opens (appending) `path` and starts the writer; rotates past `max_bytes`.
    pub fn open(path: &Path, max_bytes: u64) -> std::io::Result<Self> {
        let file = open_append(path)?;
        let written = file.metadata()?.len();
        let (lines, receiver) = sync_channel::<String>(BACKLOG);
        let mut writer = Writer {
            path: path.to_path_buf(),
            file,
            written,
            max_bytes,
        };
        std::thread::Builder::new()
            .name("shadow-log".into())
            .spawn(move || {
                for line in receiver {
                    if let Err(error) = writer.write(&line) {
                        tracing::warn!(%error, path = %writer.path.display(), "cannot write shadow log");
                    }
                }
            })?;
        Ok(Self { lines })
    }

    /// Queues one JSON line; never blocks.
    pub fn write(&self, line: String) {
        if let Err(TrySendError::Full(_)) = self.lines.try_send(line) {
            tracing::warn!("shadow log writer is behind; record dropped from the file (still in the log)");
        }
    }
}

struct Writer {
    path: PathBuf,
    file: File,
    written: u64,
    max_bytes: u64,
}

impl Writer {
    fn write(&mut self, line: &str) -> std::io::Result<()> {
        let len = line.len() as u64 + 1;
        if self.written > 0 && self.written + len > self.max_bytes {
            self.rotate()?;
        }
        self.file.write_all(line.as_bytes())?;
        self.file.write_all(b"\n")?;
        self.written += len;
        Ok(())
    }

    /// FILE.(N-1) -> FILE.N, …, FILE -> FILE.1, then a fresh FILE.
    fn rotate(&mut self) -> std::io::Result<()> {
        for index in (1..KEEP).rev() {
            let from = numbered(&self.path, index);
            if from.exists() {
                std::fs::rename(&from, numbered(&self.path, index + 1))?;
            }
        }
        std::fs::rename(&self.path, numbered(&self.path, 1))?;
        self.file = open_append(&self.path)?;
        self.written = 0;
        Ok(())
    }
}

fn numbered(path: &Path, index: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{index}"));
    PathBuf::from(name)
}

fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_at_the_cap_and_keeps_a_bounded_number_of_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shadow.jsonl");
        let mut writer = Writer {
            path: path.clone(),
            file: open_append(&path).unwrap(),
            written: 0,
            max_bytes: 100,
        };
        for i in 0..40 {
            writer.write(&format!("{{\"n\":{i:012}}}")).unwrap();
        }
        for file in [
            path.clone(),
            numbered(&path, 1),
            numbered(&path, 2),
            numbered(&path, 3),
        ] {
            let size = std::fs::metadata(&file).unwrap().len();
            assert!(size <= 100, "{} has {size} bytes", file.display());
        }
        assert!(!numbered(&path, 4).exists(), "only {KEEP} rotated files are kept");
        let last = std::fs::read_to_string(&path).unwrap();
        assert!(last.trim_end().ends_with("000000000039}"), "{last}");
    }
}
