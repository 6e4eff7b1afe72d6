//! The routes file: canary splits and shadows, parsed and validated as a
//! whole. A file with any problem is rejected entirely (the caller keeps the
//! routes in force), and the error names every problem, with line and column
//! for syntax errors.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;

use super::names::is_valid_model_name;
use super::rollout::{RolloutSpec, validate as validate_rollout};
use crate::routing::{Route, RouteTable, Shadow, Target};

/// Why a routes file was rejected as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutesError {
    /// Not YAML of the expected shape; the message has line and column.
    #[error("{0}")]
    Syntax(String),
    /// Parsed, but some routes do not hold up; every problem is listed.
    #[error("{}", join(.0))]
    Invalid(Vec<RouteProblem>),
    /// The file could not be read.
    #[error("cannot read: {0}")]
    Unreadable(String),
}

/// One problem of one route.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("route '{route}': {problem}")]
pub struct RouteProblem {
    pub route: String,
    pub problem: String,
}

fn join(problems: &[RouteProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoutesFile {
    #[serde(default)]
    routes: BTreeMap<String, RouteSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteSpec {
    targets: Vec<TargetSpec>,
    #[serde(default)]
    sticky_header: Option<String>,
    #[serde(default)]
    shadow: Option<ShadowSpec>,
    #[serde(default)]
    rollout: Option<RolloutSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetSpec {
    model: String,
    #[serde(default)]
    version: Option<u64>,
    weight: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShadowSpec {
    model: String,
    #[serde(default)]
    version: Option<u64>,
    #[serde(default = "full_fraction")]
    fraction: f64,
}

fn full_fraction() -> f64 {
    1.0
}

/// What the repository holds, for checking that routes name real things.
pub trait ModelCatalog {
    /// Whether a model of this name exists.
    fn has_model(&self, model: &str) -> bool;
    /// Whether this version directory exists.
    fn has_version(&self, model: &str, version: u64) -> bool;
}

/// Parses and validates a routes file against the repository.
pub fn parse_routes(text: &str, catalog: &dyn ModelCatalog) -> Result<RouteTable, RoutesError> {
    if text.trim().is_empty() {
        return Ok(RouteTable::new());
    }
    let file: RoutesFile = serde_saphyr::from_str(text).map_err(|e| RoutesError::Syntax(e.to_string()))?;
    let mut problems = Vec::new();
    let mut table = RouteTable::new();
    for (name, spec) in file.routes {
        let mut problem = |text: String| {
            problems.push(RouteProblem {
                route: name.clone(),
                problem: text,
            })
        };
        if !is_valid_model_name(&name) {
            problem("route names may only use letters, digits, '_', '.' and '-'".into());
        }
        if spec.targets.is_empty() {
            problem("needs at least one target".into());
        }
        if spec.targets.iter().map(|t| u64::from(t.weight)).sum::<u64>() == 0 && !spec.targets.is_empty() {
            problem("target weights must add up to more than 0".into());
        }
        for target in &spec.targets {
            check_reference(&mut problem, "target", &target.model, target.version, catalog);
        }
        if let Some(header) = &spec.sticky_header
            && let Err(reason) = check_header(header)
        {
            problem(format!("sticky_header '{header}' {reason}"));
        }
        if let Some(shadow) = &spec.shadow {
            if !(0.0..=1.0).contains(&shadow.fraction) {
                problem(format!(
                    "shadow fraction {} must be between 0 and 1",
                    shadow.fraction
                ));
            }
            check_reference(&mut problem, "shadow", &shadow.model, shadow.version, catalog);
        }
        let targets: Vec<Target> = spec
            .targets
            .into_iter()
            .map(|t| Target {
                model: t.model,
                version: t.version,
                weight: t.weight,
            })
            .collect();
        let shadow = spec.shadow.map(|s| Shadow {
            model: s.model,
            version: s.version,
            fraction: s.fraction,
        });
        let rollout = spec
            .rollout
            .and_then(|r| validate_rollout(&r, &targets, shadow.as_ref(), &mut problem));
        let route = Route {
            name: name.clone(),
            targets,
            sticky_header: spec.sticky_header,
            shadow,
            rollout,
        };
        table.insert(name, Arc::new(route));
    }
    if problems.is_empty() {
        Ok(table)
    } else {
        Err(RoutesError::Invalid(problems))
    }
}

fn check_reference(
    problem: &mut impl FnMut(String),
    what: &str,
    model: &str,
    version: Option<u64>,
    catalog: &dyn ModelCatalog,
) {
    if !catalog.has_model(model) {
        problem(format!("{what} model '{model}' is not in the repository"));
    } else if let Some(version) = version {
        if version == 0 {
            problem(format!("{what} version must be a positive integer"));
        } else if !catalog.has_version(model, version) {
            problem(format!(
                "{what} model '{model}' has no version {version} in the repository"
            ));
        }
    }
}

/// A sticky header must be a valid gRPC metadata key as clients send it:
/// lowercase ASCII letters, digits, `-`, `_` and `.`, not reserved, not binary.
fn check_header(header: &str) -> Result<(), &'static str> {
    if header.is_empty() {
        return Err("is empty");
    }
    if !header
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err("is not a valid gRPC metadata key (lowercase letters, digits, '-', '_', '.')");
    }
    if header.starts_with("grpc-") || header.starts_with(':') {
        return Err("is reserved by gRPC");
    }
    if header.ends_with("-bin") {
        return Err("is a binary header; sticky values must be text");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Repo;
    impl ModelCatalog for Repo {
        fn has_model(&self, model: &str) -> bool {
            model == "m" || model == "other"
        }
        fn has_version(&self, model: &str, version: u64) -> bool {
            self.has_model(model) && version <= 3
        }
    }

    const GOOD: &str = "\
routes:
  canary:
    targets:
      - {model: m, version: 1, weight: 90}
      - {model: m, version: 2, weight: 10}
    sticky_header: x-user-id
    shadow: {model: m, version: 3, fraction: 0.5}
  plain:
    targets: [{model: other, weight: 1}]
";

    #[test]
    fn parses_the_contract_example() {
        let table = parse_routes(GOOD, &Repo).unwrap();
        let canary = &table["canary"];
        assert_eq!(canary.targets.len(), 2);
        assert_eq!(canary.targets[1].weight, 10);
        assert_eq!(canary.sticky_header.as_deref(), Some("x-user-id"));
        assert_eq!(canary.shadow.as_ref().unwrap().fraction, 0.5);
        assert_eq!(table["plain"].targets[0].version, None);
        assert!(parse_routes("", &Repo).unwrap().is_empty());
    }

    #[test]
    fn unknown_keys_rejected_with_position() {
        let err = parse_routes(
            "routes:\n  r:\n    targets: [{model: m, weight: 1}]\n    stiky: x\n",
            &Repo,
        )
        .unwrap_err();
        assert!(matches!(err, RoutesError::Syntax(_)), "{err:?}");
        let err = err.to_string();
        assert!(err.contains("stiky") && err.contains('4'), "{err}");
    }

    #[test]
    fn every_problem_is_listed() {
        let text = "\
routes:
  r:
    targets:
      - {model: missing, weight: 1}
      - {model: m, version: 9, weight: 0}
    sticky_header: X-User
    shadow: {model: m, fraction: 1.5}
  empty:
    targets: []
";
        let RoutesError::Invalid(problems) = parse_routes(text, &Repo).unwrap_err() else {
            panic!("expected validation problems")
        };
        assert_eq!(
            problems.iter().filter(|p| p.route == "r").count(),
            4,
            "{problems:?}"
        );
        let err = join(&problems);
        for needle in [
            "'missing' is not in the repository",
            "no version 9",
            "X-User",
            "fraction 1.5",
            "at least one target",
        ] {
            assert!(err.contains(needle), "{needle} missing from {err}");
        }
    }

    #[test]
    fn weights_must_not_all_be_zero_or_negative() {
        let zero = "routes:\n  r:\n    targets: [{model: m, weight: 0}]\n";
        assert!(
            parse_routes(zero, &Repo)
                .unwrap_err()
                .to_string()
                .contains("more than 0")
        );
        let negative = "routes:\n  r:\n    targets: [{model: m, weight: -5}]\n";
        assert!(parse_routes(negative, &Repo).is_err());
    }

    #[test]
    fn rollout_block_is_validated_with_the_route() {
        let contract = "\
routes:
  trip:
    targets:
      - {model: m, version: 1, weight: 100}
      - {model: m, version: 2, weight: 0}
    shadow: {model: m, version: 2, fraction: 1.0}
    rollout:
      canary: {model: m, version: 2}
      steps: [0, 5, 25, 50, 100]
      interval: 60s
      min_requests: 200
      max_error_rate: 0.01
      max_p99_ratio: 1.5
      min_argmax_agreement: 0.98
      max_mean_abs_diff: 0.5
      failure_limit: 2
  plain:
    targets: [{model: other, weight: 1}]
";
        let table = parse_routes(contract, &Repo).unwrap();
        let rollout = table["trip"].rollout.as_ref().unwrap();
        assert_eq!((rollout.canary, rollout.steps.len()), (1, 5));
        assert_eq!(table["plain"].rollout, None);
        // One bad block rejects the whole file, naming the route.
        let bad = contract.replace("version: 2}\n      steps", "version: 3}\n      steps");
        let err = parse_routes(&bad, &Repo).unwrap_err().to_string();
        assert_eq!(
            err,
            "route 'trip': rollout canary 'm/3' is not one of the route's targets"
        );
        // An unknown key in the block is a syntax error with its position.
        let typo = contract.replace("failure_limit", "failure_limt");
        let err = parse_routes(&typo, &Repo).unwrap_err();
        assert!(matches!(err, RoutesError::Syntax(_)), "{err:?}");
        let err = err.to_string();
        assert!(
            err.contains("failure_limt") && err.contains("line 16 column 7"),
            "{err}"
        );
    }

    #[test]
    fn header_rules() {
        assert!(check_header("x-user-id").is_ok());
        assert!(check_header("grpc-timeout").is_err());
        assert!(check_header("x-user-bin").is_err());
        assert!(check_header("x user").is_err());
    }
}
