//! The routes file as the loader tracks it: the routes in force (the last
//! file that parsed and validated), what was seen last (so each change is
//! logged and counted once), and why the current file is rejected, if it is.

use std::path::PathBuf;
use std::sync::Arc;

use crate::config::{ModelCatalog, RoutesError, parse_routes};
use crate::routing::{RouteTable, Target};
use crate::telemetry::metric;

pub struct RoutesState {
    /// `--routes`, when given; else `routes.yaml` in the repository, optional.
    configured: Option<PathBuf>,
    default_path: PathBuf,
    in_force: Arc<RouteTable>,
    /// The last text read (or error), so each change is logged once.
    seen: Option<Result<String, RoutesError>>,
    rejected: Option<RoutesError>,
    /// The text the routes in force were parsed from.
    text: String,
}

impl RoutesState {
    pub fn new(configured: Option<PathBuf>, default_path: PathBuf) -> Self {
        Self {
            configured,
            default_path,
            in_force: Arc::new(RouteTable::new()),
            seen: None,
            rejected: None,
            text: String::new(),
        }
    }

    /// The routes file: the one configured, else `routes.yaml` in the repository.
    pub fn path(&self) -> PathBuf {
        self.configured
            .clone()
            .unwrap_or_else(|| self.default_path.clone())
    }

    /// Why the current file is rejected, if it is (the previous routes stay).
    pub fn rejected(&self) -> Option<&RoutesError> {
        self.rejected.as_ref()
    }

    /// The routes in force, as configured.
    pub fn configured(&self) -> Arc<RouteTable> {
        self.in_force.clone()
    }

    /// The text of the routes in force (empty without a file).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Applies the file's text if it parses and validates; otherwise the
    /// routes in force stay, and the error is logged and counted once.
    /// Returns the routes in force and whether they changed.
    pub fn reload(
        &mut self,
        text: std::io::Result<String>,
        catalog: &dyn ModelCatalog,
    ) -> (Arc<RouteTable>, bool) {
        let parsed = match text {
            Ok(text) => parse_routes(&text, catalog).map(|table| (text, table)),
            // Without --routes, a repository without routes.yaml simply has no routes.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && self.configured.is_none() => {
                Ok((String::new(), RouteTable::new()))
            }
            Err(e) => Err(RoutesError::Unreadable(e.to_string())),
        };
        let seen = parsed
            .as_ref()
            .map(|(text, _)| text.clone())
            .map_err(Clone::clone);
        let changed = self.seen.as_ref() != Some(&seen);
        self.seen = Some(seen);
        let file = self.path().display().to_string();
        let mut applied = false;
        match parsed {
            Ok((text, table)) => {
                if changed && (*self.in_force != table || !table.is_empty()) {
                    tracing::info!(file = %file, routes = table.len(), "routes loaded");
                    metrics::counter!(metric::CONFIG_RELOADS, "file" => file, "outcome" => "ok").increment(1);
                }
                applied = changed && text != self.text;
                self.in_force = Arc::new(table);
                self.text = text;
                self.rejected = None;
            }
            Err(error) => {
                if changed {
                    tracing::error!(file = %file, %error, "routes file rejected; the previous routes stay in force");
                    metrics::counter!(metric::CONFIG_RELOADS, "file" => file, "outcome" => "failure")
                        .increment(1);
                }
                self.rejected = Some(error);
            }
        }
        (self.in_force.clone(), applied)
    }
}

/// Sets `switchyard_route_weight` for the new table; targets that left are set to 0.
pub fn publish_route_weights(old: &RouteTable, new: &RouteTable) {
    let gauge = |route: &str, target: &Target| {
        metrics::gauge!(metric::ROUTE_WEIGHT, "route" => route.to_string(),
            "model" => target.model.clone(), "version" => target.version_label())
    };
    for (name, route) in old {
        for target in &route.targets {
            gauge(name, target).set(0.0);
        }
    }
    for (name, route) in new {
        for target in &route.targets {
            gauge(name, target).set(f64::from(target.weight));
        }
    }
}
