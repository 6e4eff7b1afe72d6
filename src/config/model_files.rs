//! The files a model directory may configure itself with: Switchyard's
//! `config.yaml` or Triton's `config.pbtxt`. With both, `config.yaml` wins
//! and the other is noted as not read; with neither, every default applies.

use std::path::Path;

use super::triton::parse_pbtxt;
use super::{ConfigError, ConfigFileError, ModelConfig};

/// Switchyard's settings file.
pub const CONFIG_YAML: &str = "config.yaml";
/// Triton's settings file.
pub const CONFIG_PBTXT: &str = "config.pbtxt";
/// The model file of a version directory unless `default_model_filename` says otherwise.
pub const DEFAULT_MODEL_FILE: &str = "model.onnx";

impl ModelConfig {
    /// Reads the settings of the model directory `dir`.
    pub fn load_dir(dir: &Path) -> Result<Self, ConfigFileError> {
        let yaml = dir.join(CONFIG_YAML);
        let pbtxt = dir.join(CONFIG_PBTXT);
        let has_pbtxt = pbtxt.exists();
        if yaml.exists() || !has_pbtxt {
            let mut config = Self::load(&yaml)?;
            if has_pbtxt {
                config.source.shadowed = Some(pbtxt);
            }
            return Ok(config);
        }
        let with_path = |error| ConfigFileError {
            path: pbtxt.clone(),
            error,
        };
        let text =
            std::fs::read_to_string(&pbtxt).map_err(|e| with_path(ConfigError::Unreadable(e.to_string())))?;
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        parse_pbtxt(&text, &name)
            .map(|c| c.read_from(&pbtxt))
            .map_err(with_path)
    }

    /// The model file's name in each version directory.
    pub fn model_file_name(&self) -> &str {
        self.model_filename.as_deref().unwrap_or(DEFAULT_MODEL_FILE)
    }
}

/// The `default_model_filename` a `config.pbtxt` at `path` names, read
/// without parsing the whole file, so that the versions of a model whose
/// file is broken are still found while its previous settings stay in force.
pub fn model_file_hint(path: &Path) -> Option<String> {
    if path.file_name()? != CONFIG_PBTXT {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|line| {
        let rest = line.trim_start().strip_prefix("default_model_filename")?;
        let rest = rest.trim_start().strip_prefix(':').unwrap_or(rest).trim_start();
        let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let name = rest[1..].split(quote).next()?;
        (!name.is_empty() && !name.contains('/')).then(|| name.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_wins_and_the_pbtxt_is_noted() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("m");
        std::fs::create_dir_all(&model).unwrap();
        assert_eq!(ModelConfig::load_dir(&model).unwrap(), ModelConfig::default());

        std::fs::write(
            model.join(CONFIG_PBTXT),
            "max_batch_size: 4\ninstance_group [{ count: 3 }]\n",
        )
        .unwrap();
        let triton = ModelConfig::load_dir(&model).unwrap();
        assert_eq!((triton.instances, triton.max_batch_size), (3, 4));
        assert_eq!(triton.source.file, Some(model.join(CONFIG_PBTXT)));

        std::fs::write(model.join(CONFIG_YAML), "instances: 2\n").unwrap();
        let yaml = ModelConfig::load_dir(&model).unwrap();
        assert_eq!((yaml.instances, yaml.max_batch_size), (2, 0));
        assert_eq!(yaml.source.file, Some(model.join(CONFIG_YAML)));
        assert_eq!(yaml.source.shadowed, Some(model.join(CONFIG_PBTXT)));
    }

    #[test]
    fn pbtxt_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("m");
        std::fs::create_dir_all(&model).unwrap();
        std::fs::write(model.join(CONFIG_PBTXT), "name: \"other\"\n").unwrap();
        let err = ModelConfig::load_dir(&model).unwrap_err();
        assert_eq!(err.path, model.join(CONFIG_PBTXT));
        assert!(err.to_string().contains("'other'"), "{err}");
    }
}
