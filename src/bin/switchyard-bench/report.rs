//! The figures of a run, as text for people or one JSON object for scripts.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::args::{BenchArgs, Mode};
use super::load::Outcome;
use crate::code_label;

/// Open-loop sends skipped because `--max-outstanding` requests were in flight.
pub const CLIENT_OVERLOAD: &str = "CLIENT_OVERLOAD";
/// Requests still unanswered when the run stopped waiting for them.
pub const CLIENT_UNFINISHED: &str = "CLIENT_UNFINISHED";

#[derive(Debug, Serialize)]
pub struct Report {
    pub url: String,
    pub model: String,
    /// "closed" (`--concurrency`) or "open" (`--rate`).
    pub mode: &'static str,
    pub concurrency: Option<usize>,
    pub rate: Option<f64>,
    pub connections: u32,
    pub threads: u32,
    pub warmup_s: f64,
    /// Measured wall time.
    pub duration_s: f64,
    /// Requests sent in the window (skipped open-loop sends are not).
    pub requests_sent: u64,
    pub ok: u64,
    /// Successful requests per second of the window.
    pub throughput_rps: f64,
    /// Latency of successful requests; null when there were none.
    pub latency_us: Option<Latency>,
    pub errors: BTreeMap<String, u64>,
    /// Successful answers by "model/version" as the server named them.
    pub responses: BTreeMap<String, u64>,
    /// The load generator's own user+system CPU, in % of one core.
    pub client_cpu_percent: f64,
}

#[derive(Debug, Serialize)]
pub struct Latency {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl Report {
    pub fn new(args: &BenchArgs, mode: Mode, outcome: &Outcome) -> Self {
        let stats = &outcome.stats;
        let seconds = outcome.wall.as_secs_f64();
        let per_second = |count: f64| if seconds > 0.0 { count / seconds } else { 0.0 };
        let latency = (!stats.latency.is_empty()).then(|| Latency {
            p50: stats.latency.value_at_quantile(0.50),
            p90: stats.latency.value_at_quantile(0.90),
            p99: stats.latency.value_at_quantile(0.99),
            p999: stats.latency.value_at_quantile(0.999),
            max: stats.latency.max(),
        });
        let mut errors: BTreeMap<String, u64> = stats
            .errors_by_code()
            .map(|(code, count)| (code_label(code).to_string(), count))
            .collect();
        for (name, count) in [
            (CLIENT_OVERLOAD, outcome.overloads),
            (CLIENT_UNFINISHED, stats.unfinished()),
        ] {
            if count > 0 {
                errors.insert(name.to_string(), count);
            }
        }
        let responses = stats
            .responses
            .iter()
            .map(|(model, version, count)| (format!("{model}/{version}"), *count))
            .collect();
        let (concurrency, rate) = match mode {
            Mode::Closed { concurrency } => (Some(concurrency), None),
            Mode::Open { rate, .. } => (None, Some(rate)),
        };
        Self {
            url: args.url.clone(),
            model: args.model.clone(),
            mode: if rate.is_some() { "open" } else { "closed" },
            concurrency,
            rate,
            connections: args.connections,
            threads: args.threads,
            warmup_s: args.warmup,
            duration_s: seconds,
            requests_sent: stats.sent,
            ok: stats.ok,
            throughput_rps: per_second(stats.ok as f64),
            latency_us: latency,
            errors,
            responses,
            client_cpu_percent: 100.0 * per_second(outcome.cpu.as_secs_f64()),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|error| format!(r#"{{"error":"{error}"}}"#))
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let load = match (self.concurrency, self.rate) {
            (Some(n), _) => format!("closed loop, concurrency {n}"),
            (_, Some(rate)) => format!("open loop, {rate} req/s"),
            _ => String::new(),
        };
        let _ = writeln!(out, "switchyard bench: {} at {}", self.model, self.url);
        let _ = writeln!(
            out,
            "  load          {load}; {} connection(s), {} thread(s)",
            self.connections, self.threads
        );
        let _ = writeln!(
            out,
            "  window        {:.2} s measured after {} s warm-up",
            self.duration_s, self.warmup_s
        );
        let _ = writeln!(out, "  sent          {}", self.requests_sent);
        let _ = writeln!(
            out,
            "  ok            {} ({:.1} req/s)",
            self.ok, self.throughput_rps
        );
        match &self.latency_us {
            Some(l) => {
                let _ = writeln!(
                    out,
                    "  latency (µs)  p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
                    l.p50, l.p90, l.p99, l.p999, l.max
                );
            }
            None => out.push_str("  latency (µs)  n/a (no successful request)\n"),
        }
        let _ = writeln!(out, "  errors        {}", listing(&self.errors));
        let _ = writeln!(out, "  responses     {}", listing(&self.responses));
        let _ = writeln!(
            out,
            "  client CPU    {:.1} % of one core",
            self.client_cpu_percent
        );
        out
    }
}

fn listing(counts: &BTreeMap<String, u64>) -> String {
    if counts.is_empty() {
        return "none".into();
    }
    let items: Vec<_> = counts
        .iter()
        .map(|(name, count)| format!("{name} {count}"))
        .collect();
    items.join(", ")
}
