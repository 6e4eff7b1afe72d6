//! Reads the model repository layout from disk. Pure file-system work, no
//! ONNX Runtime: `<repo>/<model>/<version>/model.onnx` plus an optional
//! `<repo>/<model>/config.yaml` or Triton `config.pbtxt` (whose
//! `default_model_filename` names the model file instead of `model.onnx`).
//! Entries starting with `.` are ignored (so uploads can be staged as
//! `.3.tmp`); anything else that does not fit is reported, never fatal.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::config::{
    CONFIG_PBTXT, CONFIG_YAML, ConfigFileError, ModelConfig, is_valid_model_name, model_file_hint,
};

/// File name of a version's model unless the config names another.
pub const MODEL_FILE: &str = crate::config::DEFAULT_MODEL_FILE;
/// File name of a model's settings.
pub const CONFIG_FILE: &str = CONFIG_YAML;

/// Identity of a file's content as far as the file system tells: replacing a
/// file by rename changes the inode, writing it in place changes size or mtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    pub len: u64,
    pub modified: Option<SystemTime>,
    pub inode: u64,
}

impl FileStamp {
    /// Stamps `path`, following symlinks; `None` if it is not a readable file.
    pub fn of(path: &Path) -> Option<Self> {
        let meta = std::fs::metadata(path).ok()?;
        meta.is_file().then(|| Self {
            len: meta.len(),
            modified: meta.modified().ok(),
            inode: meta.ino(),
        })
    }
}

/// A version directory found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionOnDisk {
    pub model_file: PathBuf,
    pub stamp: FileStamp,
}

/// A model directory found on disk.
#[derive(Debug, Clone)]
pub struct ModelOnDisk {
    pub dir: PathBuf,
    /// The parsed `config.yaml` or `config.pbtxt` (defaults when neither
    /// exists) or why it is invalid.
    pub config: Result<ModelConfig, ConfigFileError>,
    pub versions: BTreeMap<u64, VersionOnDisk>,
}

/// Everything one scan found.
#[derive(Debug, Clone, Default)]
pub struct RepositoryScan {
    pub models: BTreeMap<String, ModelOnDisk>,
    /// Entries that do not fit the layout, one sentence each.
    pub problems: Vec<String>,
}

/// Parses a version directory name: a positive integer written without
/// leading zeros (so `1` and `01` cannot both claim version 1).
pub fn parse_version(name: &str) -> Option<u64> {
    let version: u64 = name.parse().ok()?;
    (version > 0 && version.to_string() == name).then_some(version)
}

/// Scans `root`. Fails only when `root` itself cannot be read.
pub fn scan(root: &Path, routes_file: Option<&Path>) -> std::io::Result<RepositoryScan> {
    let mut result = RepositoryScan::default();
    for entry in sorted_entries(root)? {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        if !path.is_dir() {
            let is_routes = name == "routes.yaml" || routes_file.is_some_and(|r| r == path);
            if !is_routes {
                result
                    .problems
                    .push(format!("{}: not a model directory, ignored", path.display()));
            }
            continue;
        }
        if !is_valid_model_name(&name) {
            result.problems.push(format!(
                "{}: model names may only use letters, digits, '_', '.' and '-', ignored",
                path.display()
            ));
            continue;
        }
        let model = scan_model(&path, &mut result.problems);
        result.models.insert(name, model);
    }
    Ok(result)
}

pub fn scan_model(dir: &Path, problems: &mut Vec<String>) -> ModelOnDisk {
    let config = ModelConfig::load_dir(dir);
    // A broken config keeps the previous settings in force (config_state),
    // so its versions must still be found: take the model file it names.
    let model_file_name = match &config {
        Ok(config) => config.model_file_name().to_string(),
        Err(error) => model_file_hint(&error.path).unwrap_or_else(|| MODEL_FILE.to_string()),
    };
    let mut versions = BTreeMap::new();
    let entries = match sorted_entries(dir) {
        Ok(entries) => entries,
        Err(e) => {
            problems.push(format!("{}: cannot read: {e}", dir.display()));
            Vec::new()
        }
    };
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == CONFIG_YAML || name == CONFIG_PBTXT {
            continue;
        }
        let path = entry.path();
        match parse_version(&name) {
            Some(version) if path.is_dir() => {
                let model_file = path.join(&model_file_name);
                match FileStamp::of(&model_file) {
                    Some(stamp) => {
                        versions.insert(version, VersionOnDisk { model_file, stamp });
                    }
                    None => problems.push(format!(
                        "{}: no {model_file_name}, version ignored",
                        path.display()
                    )),
                }
            }
            _ => problems.push(format!(
                "{}: not a version directory (a positive integer without leading zeros), ignored",
                path.display()
            )),
        }
    }
    if versions.is_empty() {
        problems.push(format!("{}: no version directories", dir.display()));
    }
    ModelOnDisk {
        dir: dir.to_path_buf(),
        config,
        versions,
    }
}

fn sorted_entries(dir: &Path) -> std::io::Result<Vec<std::fs::DirEntry>> {
    let mut entries = std::fs::read_dir(dir)?.collect::<Result<Vec<_>, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path, content: &[u8]) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    #[test]
    fn version_directory_names() {
        assert_eq!(parse_version("3"), Some(3));
        assert_eq!(parse_version("0"), None);
        assert_eq!(parse_version("03"), None);
        assert_eq!(parse_version("-1"), None);
        assert_eq!(parse_version("3.tmp"), None);
    }

    #[test]
    fn scan_reads_layout_and_reports_misfits() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        touch(&root.join("m/1/model.onnx"), b"x");
        touch(&root.join("m/2/model.onnx"), b"yy");
        touch(&root.join("m/.3.tmp/model.onnx"), b"z");
        touch(&root.join("m/config.yaml"), b"instances: 2\n");
        touch(&root.join("m/notes/readme.txt"), b"");
        touch(&root.join("m/4/other.bin"), b"");
        touch(&root.join("bad name/1/model.onnx"), b"");
        touch(&root.join(".staging/1/model.onnx"), b"");
        touch(&root.join("routes.yaml"), b"routes: {}");
        touch(&root.join("stray.txt"), b"");
        let scan = scan(root, None).unwrap();
        assert_eq!(scan.models.keys().collect::<Vec<_>>(), vec!["m"]);
        let m = &scan.models["m"];
        assert_eq!(m.versions.keys().copied().collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(m.versions[&2].stamp.len, 2);
        assert_eq!(m.config.as_ref().unwrap().instances, 2);
        let problems = scan.problems.join("\n");
        assert!(problems.contains("notes"), "{problems}");
        assert!(problems.contains("no model.onnx"), "{problems}");
        assert!(problems.contains("bad name"), "{problems}");
        assert!(problems.contains("stray.txt"), "{problems}");
        assert!(!problems.contains("routes.yaml"), "{problems}");
        assert!(!problems.contains(".staging"), "{problems}");
    }

    #[test]
    fn triton_config_names_the_model_file() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        touch(&root.join("m/1/net.onnx"), b"x");
        touch(&root.join("m/2/model.onnx"), b"x");
        touch(
            &root.join("m/config.pbtxt"),
            b"default_model_filename: \"net.onnx\"\n",
        );
        let scan = scan(root, None).unwrap();
        let m = &scan.models["m"];
        assert_eq!(m.versions.keys().copied().collect::<Vec<_>>(), vec![1]);
        assert!(m.versions[&1].model_file.ends_with("1/net.onnx"));
        assert!(
            !scan.problems.join("\n").contains("config.pbtxt"),
            "{:?}",
            scan.problems
        );
        assert!(
            scan.problems.join("\n").contains("no net.onnx"),
            "{:?}",
            scan.problems
        );
        // A broken edit still finds the versions by the file it names.
        touch(
            &root.join("m/config.pbtxt"),
            b"default_model_filename: \"net.onnx\"\nbogus: 1\n",
        );
        let scan = super::scan(root, None).unwrap();
        assert!(scan.models["m"].config.is_err());
        assert_eq!(
            scan.models["m"].versions.keys().copied().collect::<Vec<_>>(),
            vec![1]
        );
    }

    #[test]
    fn bad_config_is_reported_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        touch(&dir.path().join("m/1/model.onnx"), b"x");
        touch(&dir.path().join("m/config.yaml"), b"instancez: 2\n");
        let scan = scan(dir.path(), None).unwrap();
        let err = scan.models["m"].config.as_ref().unwrap_err().to_string();
        assert!(err.contains("config.yaml") && err.contains("instancez"), "{err}");
    }
}
