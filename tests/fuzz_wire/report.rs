//! Tallies, failure lists and short renderings for the fuzz report.

use std::collections::BTreeMap;
use std::fmt;

use switchyard::proto::inference::ModelInferRequest;

/// Counts of outcomes by label, printed sorted.
#[derive(Default)]
pub struct Tally(BTreeMap<String, usize>);

impl Tally {
    pub fn add(&mut self, label: impl Into<String>) {
        *self.0.entry(label.into()).or_default() += 1;
    }

    pub fn merge(&mut self, other: Tally) {
        for (label, n) in other.0 {
            *self.0.entry(label).or_default() += n;
        }
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(label, n)| format!("{label}: {n}")).collect();
        write!(f, "{{{}}}", parts.join(", "))
    }
}

/// What a phase found: outcomes, and contract violations.
#[derive(Default)]
pub struct Findings {
    pub tally: Tally,
    pub failures: Vec<String>,
}

impl Findings {
    pub fn fail(&mut self, failure: impl Into<String>) {
        self.failures.push(failure.into());
    }

    pub fn merge(&mut self, other: Findings) {
        self.tally.merge(other.tally);
        self.failures.extend(other.failures);
    }
}

/// `value`'s Debug form, cut to about `max` bytes: request strings run to
/// 64 KiB, and `{:.N?}` does not shorten a string's Debug form.
pub fn clip(value: &impl fmt::Debug, max: usize) -> String {
    let text = format!("{value:?}");
    if text.len() <= max {
        return text;
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}… ({} bytes)", &text[..cut], text.len())
}

pub fn short(request: &ModelInferRequest) -> String {
    clip(request, 1500)
}
