//! Per-worker figures (recorded on the hot path, merged at the end) and the
//! process's CPU clock.

use std::time::Duration;

use hdrhistogram::Histogram;
use tonic::{Code, Response, Status};

use switchyard::proto::inference::ModelInferResponse;

/// Latencies are kept in µs from 1 µs to 1 h at 3 significant digits.
const MAX_LATENCY_US: u64 = 3_600_000_000;
/// gRPC codes are 0..=16.
const CODES: usize = 17;

/// What one worker saw of the measured window.
pub struct Stats {
    /// Latency of successful requests, in µs.
    pub latency: Histogram<u64>,
    pub sent: u64,
    pub ok: u64,
    /// Failed requests by gRPC code number.
    pub errors: [u64; CODES],
    /// Successful answers by (model_name, model_version) as the server named them;
    /// a Vec because there are one or two of them and lookups must not allocate.
    pub responses: Vec<(String, String, u64)>,
}

impl Stats {
    pub fn new() -> Self {
        Self {
            latency: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
                .expect("constant histogram bounds are valid"),
            sent: 0,
            ok: 0,
            errors: [0; CODES],
            responses: Vec::new(),
        }
    }

    /// Records one finished request.
    pub fn record(&mut self, latency: Duration, result: &Result<Response<ModelInferResponse>, Status>) {
        match result {
            Ok(response) => {
                self.ok += 1;
                self.latency
                    .saturating_record(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
                let answer = response.get_ref();
                let known = self.responses.iter_mut().find(|(model, version, _)| {
                    *model == answer.model_name && *version == answer.model_version
                });
                match known {
                    Some((_, _, count)) => *count += 1,
                    None => {
                        let key = (answer.model_name.clone(), answer.model_version.clone());
                        self.responses.push((key.0, key.1, 1));
                    }
                }
            }
            Err(status) => self.errors[code_index(status.code())] += 1,
        }
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Stats) {
        // Re-recording bucket by bucket cannot fail, unlike `Histogram::add`.
        for bucket in other.latency.iter_recorded() {
            self.latency
                .saturating_record_n(bucket.value_iterated_to(), bucket.count_at_value());
        }
        self.sent += other.sent;
        self.ok += other.ok;
        for (total, count) in self.errors.iter_mut().zip(other.errors) {
            *total += count;
        }
        for (model, version, count) in &other.responses {
            match self
                .responses
                .iter_mut()
                .find(|(m, v, _)| m == model && v == version)
            {
                Some(entry) => entry.2 += count,
                None => self.responses.push((model.clone(), version.clone(), *count)),
            }
        }
    }

    /// Errors by code, zero counts left out.
    pub fn errors_by_code(&self) -> impl Iterator<Item = (Code, u64)> + '_ {
        self.errors
            .iter()
            .enumerate()
            .filter(|(_, count)| **count > 0)
            .map(|(index, count)| (Code::from(index as i32), *count))
    }

    /// Requests sent in the window that had not answered when the run gave up.
    pub fn unfinished(&self) -> u64 {
        let answered = self.ok + self.errors.iter().sum::<u64>();
        self.sent.saturating_sub(answered)
    }
}

impl Default for Stats {
    fn default() -> Self {
        Self::new()
    }
}

fn code_index(code: Code) -> usize {
    (code as usize).min(CODES - 1)
}

/// User plus system CPU time of the whole process (every thread).
pub fn cpu_time() -> Duration {
    // SAFETY: rusage is plain old data; getrusage fills it in and only reads RUSAGE_SELF.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut usage) != 0 {
            return Duration::ZERO;
        }
        usage
    };
    let seconds = |time: libc::timeval| {
        Duration::from_secs(time.tv_sec.max(0) as u64) + Duration::from_micros(time.tv_usec.max(0) as u64)
    };
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard::proto::inference::ModelInferResponse;

    fn ok(model: &str, version: &str) -> Result<Response<ModelInferResponse>, Status> {
        Ok(Response::new(ModelInferResponse {
            model_name: model.into(),
            model_version: version.into(),
            ..Default::default()
        }))
    }

    #[test]
    fn records_and_merges() {
        let mut a = Stats::new();
        let mut b = Stats::new();
        for micros in 1..=100 {
            a.sent += 1;
            a.record(Duration::from_micros(micros), &ok("m", "1"));
        }
        b.sent += 3;
        b.record(Duration::from_millis(5), &ok("m", "2"));
        b.record(Duration::ZERO, &Err(Status::invalid_argument("bad")));
        a.merge(&b);
        assert_eq!((a.sent, a.ok), (103, 101));
        assert_eq!(a.latency.value_at_quantile(0.5), 51);
        assert_eq!(a.latency.max(), a.latency.highest_equivalent(5000));
        assert_eq!(
            a.errors_by_code().collect::<Vec<_>>(),
            vec![(Code::InvalidArgument, 1)]
        );
        assert_eq!(a.responses.len(), 2);
        assert_eq!(a.unfinished(), 1);
    }

    #[test]
    fn cpu_time_advances() {
        let before = cpu_time();
        let mut x = 0u64;
        for i in 0..50_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(cpu_time() > before);
    }
}
