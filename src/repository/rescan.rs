//! Scanning for a reload: the whole repository, or only the models a batch
//! of file events named, into the loader's picture of what is on disk.

use std::collections::BTreeMap;
use std::path::Path;

use super::changes::Changes;
use super::scan::{ModelOnDisk, RepositoryScan, scan, scan_model};
use crate::config::is_valid_model_name;

/// Scans what `changes` names (everything, or some models) into `scanned`
/// on a blocking thread, and reads the routes file. A full scan also
/// replaces `problems`, the layout problems found.
pub async fn rescan(
    root: &Path,
    routes_path: &Path,
    changes: &Changes,
    scanned: &mut BTreeMap<String, ModelOnDisk>,
    problems: &mut Vec<String>,
) -> std::io::Result<std::io::Result<String>> {
    let (root, routes_path) = (root.to_path_buf(), routes_path.to_path_buf());
    if changes.is_everything() {
        let (scan, routes_text) = tokio::task::spawn_blocking(move || {
            let scan = scan(&root, Some(&routes_path));
            scan.map(|scan| (scan, std::fs::read_to_string(&routes_path)))
        })
        .await
        .map_err(std::io::Error::other)??;
        let RepositoryScan {
            models,
            problems: found,
        } = scan;
        *scanned = models;
        *problems = found;
        return Ok(routes_text);
    }
    let names: Vec<String> = changes.models().iter().cloned().collect();
    let (rescanned, routes_text) = tokio::task::spawn_blocking(move || {
        let models: Vec<(String, Option<ModelOnDisk>)> = names
            .into_iter()
            .map(|name| {
                let dir = root.join(&name);
                let found =
                    (is_valid_model_name(&name) && dir.is_dir()).then(|| scan_model(&dir, &mut Vec::new()));
                (name, found)
            })
            .collect();
        (models, std::fs::read_to_string(&routes_path))
    })
    .await
    .map_err(std::io::Error::other)?;
    for (name, found) in rescanned {
        match found {
            Some(model) => scanned.insert(name, model),
            None => scanned.remove(&name),
        };
    }
    Ok(routes_text)
}
