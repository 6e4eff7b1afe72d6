//! Reading `/metrics` in tests: the Prometheus text exposition, parsed, so a
//! test asks for one sample by metric name and exact label set. (Substring
//! checks on the text cannot say that much: `outcome="failure"} 1` also
//! matches a count of 10, and a label set also matches a longer one.)

use std::fmt;

use prometheus_parse::{Sample, Scrape, Value};

/// A parsed `/metrics` answer; displays as the text it was parsed from.
pub struct Exposition {
    text: String,
    samples: Vec<Sample>,
}

impl Exposition {
    /// Parses the text exposition, or a whole HTTP/1.1 response carrying it
    /// (as [`TestServer::metrics`](super::TestServer::metrics) returns it):
    /// the status line and headers are skipped.
    pub fn parse(text: &str) -> Self {
        let body = match text.split_once("\r\n\r\n") {
            Some((head, body)) if head.starts_with("HTTP/") => body,
            _ => text,
        };
        let lines = body.lines().map(|line| Ok(line.to_owned()));
        let scrape = Scrape::parse(lines).expect("lines of a string always read");
        Self {
            text: text.to_owned(),
            samples: scrape.samples,
        }
    }

    /// The value of the sample `name` whose labels are exactly `labels` (in
    /// any order); `None` when there is no such sample. A histogram bucket is
    /// named as rendered: `<histogram>_bucket`, with its `le` among `labels`.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        if let Some(histogram) = name.strip_suffix("_bucket")
            && let Some(&(_, le)) = labels.iter().find(|(label, _)| *label == "le")
        {
            let others: Vec<_> = labels
                .iter()
                .copied()
                .filter(|(label, _)| *label != "le")
                .collect();
            return self.bucket(histogram, &others, le);
        }
        self.samples
            .iter()
            .find(|s| s.metric == name && has_exactly(s, labels))
            .and_then(|s| scalar(&s.value))
    }

    /// The sum over every sample of `name` whose labels include `labels`
    /// (whatever its other labels are); 0 when there is none.
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|s| s.metric == name && has_all(s, labels))
            .filter_map(|s| scalar(&s.value))
            .sum()
    }

    /// Every sample of `name` whose labels include `labels`, one per line
    /// with its labels sorted: for failure messages.
    pub fn series(&self, name: &str, labels: &[(&str, &str)]) -> String {
        let mut lines: Vec<String> = self
            .samples
            .iter()
            .filter(|s| s.metric == name && has_all(s, labels))
            .map(|s| format!("{}{{{}}} {:?}", s.metric, s.labels, s.value))
            .collect();
        lines.sort();
        lines.join("\n")
    }

    /// The count of histogram `name`'s bucket `le` (as rendered: "0.005",
    /// "+Inf") for exactly the labels `labels`.
    fn bucket(&self, name: &str, labels: &[(&str, &str)], le: &str) -> Option<f64> {
        let le = parse_float(le)?;
        let sample = self
            .samples
            .iter()
            .find(|s| s.metric == name && has_exactly(s, labels))?;
        let Value::Histogram(buckets) = &sample.value else {
            return None;
        };
        buckets.iter().find(|b| b.less_than == le).map(|b| b.count)
    }
}

impl fmt::Display for Exposition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn has_all(sample: &Sample, labels: &[(&str, &str)]) -> bool {
    labels
        .iter()
        .all(|&(label, value)| sample.labels.get(label) == Some(value))
}

fn has_exactly(sample: &Sample, labels: &[(&str, &str)]) -> bool {
    sample.labels.len() == labels.len() && has_all(sample, labels)
}

fn scalar(value: &Value) -> Option<f64> {
    match *value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => Some(v),
        Value::Histogram(_) | Value::Summary(_) => None,
    }
}

/// A sample value or `le` bound as the exposition writes it ("+Inf", "NaN").
fn parse_float(text: &str) -> Option<f64> {
    match text.to_ascii_lowercase().as_str() {
        "nan" => Some(f64::NAN),
        lower => lower.parse().ok(),
    }
}
