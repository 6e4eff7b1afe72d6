//! Each model's configuration file (`config.yaml` or Triton's
//! `config.pbtxt`) as the loader tracks it: a broken edit never replaces a
//! working config, each break is logged and counted once, and what a new
//! config leaves unread (fields not honoured, a `config.pbtxt` behind a
//! `config.yaml`) is logged once when it takes effect.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::scan::{CONFIG_FILE, ModelOnDisk};
use crate::config::{ConfigFileError, ModelConfig};
use crate::telemetry::metric;

#[derive(Default)]
pub struct ConfigState {
    /// The last valid config of each model, kept in force when an edit breaks it.
    good: HashMap<String, ModelConfig>,
    /// The last error reported per model, so a broken file is logged once.
    errors: HashMap<String, ConfigFileError>,
}

impl ConfigState {
    /// The config to use for `name`: the file's if valid, else the last valid
    /// one, else none (with the error that prevents it).
    pub fn effective(&mut self, name: &str, on_disk: &ModelOnDisk) -> Result<ModelConfig, ConfigFileError> {
        match &on_disk.config {
            Ok(config) => {
                let file = config_file(on_disk, config);
                let recovered = self.errors.remove(name).is_some();
                let previous = self.good.get(name);
                let changed = previous.is_some_and(|old| old != config);
                if recovered || changed {
                    count_reload(&file, "ok");
                }
                if previous != Some(config) {
                    log_unread(name, &file, config);
                }
                self.good.insert(name.to_string(), config.clone());
                Ok(config.clone())
            }
            Err(error) => {
                if self.errors.get(name) != Some(error) {
                    let file_name = error.path.file_name().unwrap_or_default().to_string_lossy();
                    tracing::error!(model = name, %error, "invalid {file_name}; keeping the previous settings");
                    count_reload(&error.path, "failure");
                    self.errors.insert(name.to_string(), error.clone());
                }
                self.good.get(name).cloned().ok_or_else(|| error.clone())
            }
        }
    }

    /// Forgets models that are no longer in the repository.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        self.good.retain(|model, _| keep(model));
        self.errors.retain(|model, _| keep(model));
    }
}

/// The file a config was read from; `config.yaml` when there is none (the
/// file that would be read).
fn config_file(on_disk: &ModelOnDisk, config: &ModelConfig) -> PathBuf {
    config
        .source
        .file
        .clone()
        .unwrap_or_else(|| on_disk.dir.join(CONFIG_FILE))
}

/// Logs, once per config that takes effect, what its files say that is not
/// applied.
fn log_unread(model: &str, file: &Path, config: &ModelConfig) {
    let file = file.display();
    if let Some(shadowed) = &config.source.shadowed {
        tracing::info!(model, %file, ignored_file = %shadowed.display(),
            "config.yaml and config.pbtxt both present; config.yaml wins, config.pbtxt is not read");
    }
    if !config.source.ignored.is_empty() {
        tracing::warn!(model, %file, fields = %config.source.ignored.join(", "),
            "config.pbtxt fields set but not honoured; ignored");
    }
}

fn count_reload(file: &Path, outcome: &'static str) {
    let file = file.display().to_string();
    metrics::counter!(metric::CONFIG_RELOADS, "file" => file, "outcome" => outcome).increment(1);
}
