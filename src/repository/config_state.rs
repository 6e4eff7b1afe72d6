//! Each model's `config.yaml` as the loader tracks it: a broken edit never
//! replaces a working config, and each break is logged and counted once.

use std::collections::HashMap;

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
                let recovered = self.errors.remove(name).is_some();
                let changed = self.good.get(name).is_some_and(|old| old != config);
                if recovered || changed {
                    count_reload(on_disk, "ok");
                }
                self.good.insert(name.to_string(), config.clone());
                Ok(config.clone())
            }
            Err(error) => {
                if self.errors.get(name) != Some(error) {
                    tracing::error!(model = name, %error, "invalid config.yaml; keeping the previous settings");
                    count_reload(on_disk, "failure");
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

fn count_reload(on_disk: &ModelOnDisk, outcome: &'static str) {
    let file = on_disk.dir.join(CONFIG_FILE).display().to_string();
    metrics::counter!(metric::CONFIG_RELOADS, "file" => file, "outcome" => outcome).increment(1);
}
