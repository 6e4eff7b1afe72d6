//! What changed since the last reload, from file events: the models whose
//! directories saw events, whether the routes file did, or "everything"
//! (a rescan, a rebuilt watcher, a path the watcher could not place). A
//! reload of a few models in a repository of thousands then scans and stamps
//! only those.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Paths that identify what an event is about.
#[derive(Debug, Clone)]
pub struct ChangeRoots {
    /// The repository as configured, and as it resolves (events may use either).
    repository: Vec<PathBuf>,
    /// The routes file's directory (events about the file come from there).
    routes_dir: Option<PathBuf>,
}

impl ChangeRoots {
    pub fn new(repository: &Path, routes_file: Option<&Path>) -> Self {
        let mut roots = vec![repository.to_path_buf()];
        roots.extend(std::fs::canonicalize(repository).ok());
        let routes_dir = routes_file.and_then(Path::parent).map(Path::to_path_buf);
        Self {
            repository: roots,
            routes_dir,
        }
    }
}

/// Changes gathered between two reloads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    everything: bool,
    models: BTreeSet<String>,
    routes: bool,
}

impl Changes {
    /// A change that needs a full rescan.
    pub fn everything() -> Self {
        Self {
            everything: true,
            ..Self::default()
        }
    }

    pub fn is_everything(&self) -> bool {
        self.everything
    }

    pub fn is_empty(&self) -> bool {
        !self.everything && !self.routes && self.models.is_empty()
    }

    /// The models whose directories changed.
    pub fn models(&self) -> &BTreeSet<String> {
        &self.models
    }

    /// Whether the routes file (or anything at the repository's top level) changed.
    pub fn routes(&self) -> bool {
        self.routes
    }

    /// Notes a changed model.
    pub fn add_model(&mut self, name: &str) {
        self.models.insert(name.to_string());
    }

    /// Notes what an event at `path` is about.
    pub fn add_path(&mut self, path: &Path, roots: &ChangeRoots) {
        if let Some(dir) = &roots.routes_dir
            && path.parent() == Some(dir.as_path())
            && !roots.repository.iter().any(|root| root == dir)
        {
            self.routes = true;
            return;
        }
        let relative = roots
            .repository
            .iter()
            .find_map(|root| path.strip_prefix(root).ok());
        let Some(relative) = relative else {
            self.everything = true;
            return;
        };
        let mut parts = relative.components();
        match (parts.next(), parts.next()) {
            // An entry of the repository's top level: a model directory
            // appearing or leaving (its name), or a file such as routes.yaml.
            // Hidden entries are staging areas: the rename that publishes
            // one reports its new name too.
            (Some(first), None) => {
                let name = first.as_os_str().to_string_lossy();
                if !name.starts_with('.') {
                    self.models.insert(name.into_owned());
                    self.routes = true;
                }
            }
            (Some(first), Some(_)) => {
                self.models
                    .insert(first.as_os_str().to_string_lossy().into_owned());
            }
            (None, _) => self.everything = true,
        }
    }

    /// Adds `other` to these changes.
    pub fn merge(&mut self, other: Changes) {
        self.everything |= other.everything;
        self.routes |= other.routes;
        self.models.extend(other.models);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_models_routes_or_everything() {
        let roots = ChangeRoots::new(Path::new("/repo"), Some(Path::new("/etc/routes/routes.yaml")));
        let mut changes = Changes::default();
        changes.add_path(Path::new("/repo/m/3/model.onnx"), &roots);
        changes.add_path(Path::new("/repo/n/config.yaml"), &roots);
        assert_eq!(changes.models().iter().collect::<Vec<_>>(), ["m", "n"]);
        assert!(!changes.routes() && !changes.is_everything());
        changes.add_path(Path::new("/etc/routes/..data"), &roots);
        assert!(changes.routes());
        changes.add_path(Path::new("/elsewhere/x"), &roots);
        assert!(changes.is_everything());
    }

    #[test]
    fn a_top_level_entry_is_its_model_and_maybe_the_routes_file() {
        let roots = ChangeRoots::new(Path::new("/repo"), None);
        let mut changes = Changes::default();
        changes.add_path(Path::new("/repo/routes.yaml"), &roots);
        assert!(changes.routes());
        let mut staged = Changes::default();
        staged.add_path(Path::new("/repo/.m.tmp"), &roots);
        assert!(staged.is_empty(), "a staging directory is no model");
        staged.add_path(Path::new("/repo/m"), &roots);
        assert!(staged.models().contains("m"));
    }
}
