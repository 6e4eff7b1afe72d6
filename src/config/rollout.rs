//! The `rollout` block of a route in the routes file: parsed, then validated
//! against the route it belongs to. Problems go to the route's problem list,
//! so a bad block rejects the whole file like any other route problem.

use std::time::Duration;

use serde::Deserialize;

use crate::routing::rollout::{DEFAULT_FAILURE_LIMIT, DEFAULT_MIN_REQUESTS, Gates, Rollout};
use crate::routing::{Shadow, Target};

/// The block as written. `canary`, `steps` and `interval` are required;
/// `min_requests` defaults to [`DEFAULT_MIN_REQUESTS`] (100),
/// `failure_limit` to [`DEFAULT_FAILURE_LIMIT`] (1); an absent gate is not
/// checked.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RolloutSpec {
    canary: CanarySpec,
    /// Canary share in percent per step.
    steps: Vec<u32>,
    /// `60s`, `5m`, `500ms`, `1h`, or a sum such as `1m30s`.
    interval: String,
    #[serde(default = "default_min_requests")]
    min_requests: u64,
    max_error_rate: Option<f64>,
    max_p99_ratio: Option<f64>,
    min_argmax_agreement: Option<f64>,
    max_mean_abs_diff: Option<f64>,
    #[serde(default = "default_failure_limit")]
    failure_limit: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CanarySpec {
    model: String,
    #[serde(default)]
    version: Option<u64>,
}

fn default_min_requests() -> u64 {
    DEFAULT_MIN_REQUESTS
}

fn default_failure_limit() -> u32 {
    DEFAULT_FAILURE_LIMIT
}

/// Validates the block against the route's (configured) targets and shadow.
/// Every problem goes to `problem`; `None` if there was any.
pub(super) fn validate(
    spec: &RolloutSpec,
    targets: &[Target],
    shadow: Option<&Shadow>,
    problem: &mut impl FnMut(String),
) -> Option<Rollout> {
    let mut found = false;
    let mut report = |text: String| {
        found = true;
        problem(format!("rollout {text}"));
    };
    let canary = canary_index(&spec.canary, targets, &mut report);
    let steps = check_steps(&spec.steps, &mut report);
    let interval = match parse_interval(&spec.interval) {
        Ok(interval) => Some(interval),
        Err(reason) => {
            report(format!("interval {reason}"));
            None
        }
    };
    if spec.min_requests == 0 {
        report("min_requests must be at least 1".into());
    }
    if spec.failure_limit == 0 {
        report("failure_limit must be at least 1".into());
    }
    let gates = Gates {
        max_error_rate: spec.max_error_rate,
        max_p99_ratio: spec.max_p99_ratio,
        min_argmax_agreement: spec.min_argmax_agreement,
        max_mean_abs_diff: spec.max_mean_abs_diff,
    };
    check_gates(&gates, &mut report);
    if let (Some(canary), Some(steps)) = (canary, &steps) {
        check_with_route(canary, steps, &gates, targets, shadow, &mut report);
    }
    let rollout = Rollout {
        canary: canary?,
        steps: steps?,
        interval: interval?,
        min_requests: spec.min_requests,
        gates,
        failure_limit: spec.failure_limit,
    };
    (!found).then_some(rollout)
}

fn label(model: &str, version: Option<u64>) -> String {
    version.map_or_else(|| model.to_string(), |v| format!("{model}/{v}"))
}

/// The one target the canary names.
fn canary_index(canary: &CanarySpec, targets: &[Target], report: &mut impl FnMut(String)) -> Option<usize> {
    let matches: Vec<usize> = targets
        .iter()
        .enumerate()
        .filter(|(_, t)| t.model == canary.model && t.version == canary.version)
        .map(|(i, _)| i)
        .collect();
    let name = label(&canary.model, canary.version);
    match matches.as_slice() {
        [index] => Some(*index),
        [] => {
            report(format!("canary '{name}' is not one of the route's targets"));
            None
        }
        _ => {
            report(format!(
                "canary '{name}' names more than one of the route's targets"
            ));
            None
        }
    }
}

/// At least one step, each in 0..=100, strictly increasing, the last above 0.
fn check_steps(steps: &[u32], report: &mut impl FnMut(String)) -> Option<Vec<u8>> {
    let mut ok = true;
    let mut fail = |text: String| {
        ok = false;
        report(text);
    };
    if steps.is_empty() {
        fail("needs at least one step".into());
    }
    if let Some(step) = steps.iter().find(|&&s| s > 100) {
        fail(format!("step {step} is above 100 (steps are percent)"));
    }
    if steps.windows(2).any(|pair| pair[0] >= pair[1]) {
        fail(format!("steps {steps:?} must be strictly increasing"));
    }
    if steps.last() == Some(&0) {
        fail("steps must end above 0".into());
    }
    ok.then(|| steps.iter().map(|&s| u8::try_from(s).ok()).collect())
        .flatten()
}

fn check_gates(gates: &Gates, report: &mut impl FnMut(String)) {
    let share = |v: f64| (0.0..=1.0).contains(&v);
    if let Some(v) = gates.max_error_rate.filter(|&v| !share(v)) {
        report(format!("max_error_rate {v} must be between 0 and 1"));
    }
    if let Some(v) = gates.max_p99_ratio.filter(|&v| !(v.is_finite() && v > 0.0)) {
        report(format!("max_p99_ratio {v} must be a finite number above 0"));
    }
    if let Some(v) = gates.min_argmax_agreement.filter(|&v| !share(v)) {
        report(format!("min_argmax_agreement {v} must be between 0 and 1"));
    }
    if let Some(v) = gates.max_mean_abs_diff.filter(|&v| !(v.is_finite() && v >= 0.0)) {
        report(format!(
            "max_mean_abs_diff {v} must be a finite number of at least 0"
        ));
    }
}

/// The rules that need the route: the shadow for mirror gates and step 0,
/// another target to take the traffic the canary does not get.
fn check_with_route(
    canary: usize,
    steps: &[u8],
    gates: &Gates,
    targets: &[Target],
    shadow: Option<&Shadow>,
    report: &mut impl FnMut(String),
) {
    let Some(target) = targets.get(canary) else {
        return;
    };
    if gates.needs_shadow() && shadow.is_none() {
        report(
            "min_argmax_agreement and max_mean_abs_diff compare mirrors and need a shadow on the route"
                .into(),
        );
    }
    if steps.first() == Some(&0) {
        match shadow {
            None => report("step 0 is shadow only and needs a shadow on the route".into()),
            Some(s) if s.model != target.model || s.version != target.version => report(format!(
                "step 0 is shadow only: the route's shadow '{}' must be the canary '{}'",
                label(&s.model, s.version),
                target.label()
            )),
            Some(_) => {}
        }
    }
    let others: u64 = targets
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != canary)
        .map(|(_, t)| u64::from(t.weight))
        .sum();
    if others == 0 && steps.iter().any(|&s| s < 100) {
        report(
            "needs another target with a weight above 0 to take the traffic the canary does not get".into(),
        );
    }
}

/// A positive duration: one or more `<integer><unit>` parts, unit `ms`, `s`,
/// `m` or `h`, optionally separated by spaces (`60s`, `1m30s`, `1h 30m`).
pub(super) fn parse_interval(text: &str) -> Result<Duration, String> {
    let shape = || format!("'{text}' is not a duration such as 60s, 5m, 500ms or 1h");
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err("is empty".into());
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let unit_end = rest[digits..]
            .find(|c: char| !c.is_ascii_alphabetic())
            .map_or(rest.len(), |i| digits + i);
        let (number, unit) = (&rest[..digits], &rest[digits..unit_end]);
        if number.is_empty() {
            return Err(shape());
        }
        let number: u64 = number.parse().map_err(|_| format!("'{text}' is too long"))?;
        let seconds = |factor: u64| number.checked_mul(factor).map(Duration::from_secs);
        let part = match unit {
            "ms" => Some(Duration::from_millis(number)),
            "s" => seconds(1),
            "m" => seconds(60),
            "h" => seconds(3600),
            "" if unit_end == rest.len() => {
                return Err(format!("'{text}' needs a unit: ms, s, m or h"));
            }
            _ => return Err(shape()),
        };
        total = part
            .and_then(|part| total.checked_add(part))
            .ok_or_else(|| format!("'{text}' is too long"))?;
        rest = rest[unit_end..].trim_start();
    }
    if total.is_zero() {
        return Err(format!("'{text}' must be positive"));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTRACT: [(&str, &str); 9] = [
        ("canary", "{model: m, version: 2}"),
        ("steps", "[0, 5, 25, 50, 100]"),
        ("interval", "60s"),
        ("min_requests", "200"),
        ("max_error_rate", "0.01"),
        ("max_p99_ratio", "1.5"),
        ("min_argmax_agreement", "0.98"),
        ("max_mean_abs_diff", "0.5"),
        ("failure_limit", "2"),
    ];

    /// The contract's block with some keys replaced (`""` removes a key).
    fn block(overrides: &[(&str, &str)]) -> String {
        let mut text = String::new();
        for (key, value) in CONTRACT {
            let value = overrides
                .iter()
                .find(|(k, _)| *k == key)
                .map_or(value, |(_, v)| *v);
            if !value.is_empty() {
                text.push_str(&format!("{key}: {value}\n"));
            }
        }
        text
    }

    fn targets() -> Vec<Target> {
        [(1, 100), (2, 0)]
            .into_iter()
            .map(|(version, weight)| Target {
                model: "m".into(),
                version: Some(version),
                weight,
            })
            .collect()
    }

    fn shadow(version: u64) -> Shadow {
        Shadow {
            model: "m".into(),
            version: Some(version),
            fraction: 1.0,
        }
    }

    fn check(text: &str, targets: &[Target], shadow: Option<Shadow>) -> Result<Rollout, Vec<String>> {
        let spec: RolloutSpec = serde_saphyr::from_str(text).expect("test yaml parses");
        let mut problems = Vec::new();
        match validate(&spec, targets, shadow.as_ref(), &mut |p| problems.push(p)) {
            Some(rollout) if problems.is_empty() => Ok(rollout),
            _ => Err(problems),
        }
    }

    /// The problems of the contract block with `overrides`, on the contract's
    /// route (targets m/1 at 100 and m/2 at 0, shadow m/2).
    fn problems(overrides: &[(&str, &str)]) -> Vec<String> {
        check(&block(overrides), &targets(), Some(shadow(2))).expect_err("expected problems")
    }

    fn assert_problem(overrides: &[(&str, &str)], needle: &str) {
        let problems = problems(overrides);
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("rollout ") && p.contains(needle)),
            "'{needle}' not in {problems:?}"
        );
    }

    #[test]
    fn parses_the_contract_block() {
        let rollout = check(&block(&[]), &targets(), Some(shadow(2))).unwrap();
        assert_eq!(rollout.canary, 1);
        assert_eq!(rollout.steps, vec![0, 5, 25, 50, 100]);
        assert_eq!(rollout.interval, Duration::from_secs(60));
        assert_eq!(rollout.min_requests, 200);
        assert_eq!(rollout.failure_limit, 2);
        assert_eq!(
            rollout.gates,
            Gates {
                max_error_rate: Some(0.01),
                max_p99_ratio: Some(1.5),
                min_argmax_agreement: Some(0.98),
                max_mean_abs_diff: Some(0.5),
            }
        );
    }

    #[test]
    fn optional_keys_default_and_gates_may_be_absent() {
        let text = "canary: {model: m, version: 2}\nsteps: [5, 100]\ninterval: 5m\n";
        let rollout = check(text, &targets(), None).unwrap();
        assert_eq!(rollout.min_requests, DEFAULT_MIN_REQUESTS);
        assert_eq!(rollout.failure_limit, DEFAULT_FAILURE_LIMIT);
        assert_eq!(rollout.gates, Gates::default());
        assert_eq!(rollout.interval, Duration::from_secs(300));
    }

    #[test]
    fn intervals_in_humantime_style() {
        for (text, millis) in [
            ("60s", 60_000),
            ("5m", 300_000),
            ("500ms", 500),
            ("1h", 3_600_000),
        ] {
            assert_eq!(parse_interval(text), Ok(Duration::from_millis(millis)), "{text}");
        }
        assert_eq!(parse_interval("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_interval(" 1h 30m "), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_interval(""), Err("is empty".to_string()));
        for text in "5d s 1.5s -5s 5m4 99999999999999999999s 18446744073709551615h".split(' ') {
            assert!(parse_interval(text).is_err(), "{text}");
        }
        assert!(
            parse_interval("1.5s")
                .unwrap_err()
                .contains("not a duration such as 60s")
        );
        assert!(parse_interval("0ms 0s").unwrap_err().contains("must be positive"));
        assert_problem(&[("interval", "0s")], "interval '0s' must be positive");
        assert_problem(&[("interval", "60")], "interval '60' needs a unit");
    }

    #[test]
    fn canary_must_be_exactly_one_target() {
        assert_problem(
            &[("canary", "{model: m, version: 3}")],
            "canary 'm/3' is not one of the route's targets",
        );
        // No version means the default version: a different target from m/2.
        assert_problem(&[("canary", "{model: m}")], "canary 'm' is not one of");
        let twice = [targets(), targets()].concat();
        let problems = check(&block(&[]), &twice, Some(shadow(2))).unwrap_err();
        assert!(problems[0].contains("more than one"), "{problems:?}");
    }

    #[test]
    fn steps_rules() {
        assert_problem(&[("steps", "[]")], "at least one step");
        assert_problem(&[("steps", "[5, 101]")], "step 101 is above 100");
        assert_problem(&[("steps", "[5, 5, 100]")], "strictly increasing");
        assert_problem(&[("steps", "[50, 25, 100]")], "strictly increasing");
        assert_problem(&[("steps", "[0]")], "end above 0");
        // Steps need not end at 100: promotion holds the last share.
        let text = block(&[("steps", "[0, 10, 30]")]);
        assert_eq!(
            check(&text, &targets(), Some(shadow(2))).unwrap().steps,
            vec![0, 10, 30]
        );
    }

    #[test]
    fn shadow_rules() {
        let without_shadow =
            |overrides: &[(&str, &str)]| check(&block(overrides), &targets(), None).unwrap_err();
        let problems = without_shadow(&[("steps", "[5, 100]")]);
        assert!(
            problems.iter().any(|p| p.contains("need a shadow")),
            "{problems:?}"
        );
        let gates_off = [
            ("steps", "[0, 100]"),
            ("min_argmax_agreement", ""),
            ("max_mean_abs_diff", ""),
        ];
        let problems = without_shadow(&gates_off);
        assert_eq!(
            problems,
            vec!["rollout step 0 is shadow only and needs a shadow on the route"]
        );
        let problems = check(&block(&gates_off), &targets(), Some(shadow(1))).unwrap_err();
        assert!(
            problems[0].contains("shadow 'm/1' must be the canary 'm/2'"),
            "{problems:?}"
        );
        // A shadow that is not the canary is fine when step 0 is not used.
        let text = block(&[("steps", "[5, 100]")]);
        assert!(check(&text, &targets(), Some(shadow(1))).is_ok());
        // Without the shadow gates and step 0, no shadow is needed.
        let text = block(&[("steps", "[5, 100]"), gates_off[1], gates_off[2]]);
        assert!(check(&text, &targets(), None).is_ok());
    }

    #[test]
    fn counts_and_gate_ranges() {
        assert_problem(&[("min_requests", "0")], "min_requests must be at least 1");
        assert_problem(&[("failure_limit", "0")], "failure_limit must be at least 1");
        assert_problem(
            &[("max_error_rate", "1.5")],
            "max_error_rate 1.5 must be between 0 and 1",
        );
        assert_problem(&[("max_error_rate", "-0.1")], "max_error_rate -0.1");
        assert_problem(&[("max_error_rate", ".nan")], "max_error_rate NaN");
        assert_problem(
            &[("max_p99_ratio", "0")],
            "max_p99_ratio 0 must be a finite number above 0",
        );
        assert_problem(&[("max_p99_ratio", "-1")], "max_p99_ratio -1");
        assert_problem(&[("max_p99_ratio", ".inf")], "max_p99_ratio inf");
        assert_problem(&[("min_argmax_agreement", "1.2")], "min_argmax_agreement 1.2");
        assert_problem(&[("max_mean_abs_diff", "-1")], "max_mean_abs_diff -1");
        // The bounds themselves are allowed.
        let edges = [
            ("max_error_rate", "0"),
            ("min_argmax_agreement", "1"),
            ("max_mean_abs_diff", "0"),
        ];
        assert!(check(&block(&edges), &targets(), Some(shadow(2))).is_ok());
    }

    #[test]
    fn another_target_must_take_the_rest() {
        let lone = targets()[1..].to_vec();
        let problems = check(&block(&[]), &lone, Some(shadow(2))).unwrap_err();
        assert!(problems[0].contains("another target"), "{problems:?}");
        // A straight switch to 100% needs no other target.
        let text = block(&[
            ("steps", "[100]"),
            ("min_argmax_agreement", ""),
            ("max_mean_abs_diff", ""),
        ]);
        assert!(check(&text, &lone, None).is_ok());
    }

    #[test]
    fn every_problem_is_listed() {
        let problems = problems(&[
            ("steps", "[]"),
            ("interval", "soon"),
            ("min_requests", "0"),
            ("max_error_rate", "2"),
        ]);
        assert_eq!(problems.len(), 4, "{problems:?}");
    }
}
