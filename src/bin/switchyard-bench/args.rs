//! `switchyard bench` options. Doc comments here are the `--help` text.

use std::time::Duration;

use clap::Args;
use tonic::metadata::{AsciiMetadataKey, AsciiMetadataValue};

use switchyard::tensor::DataType;

/// Load generator speaking the v2 protocol over gRPC (like Triton's perf_analyzer).
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Server gRPC URL.
    #[arg(long, default_value = "http://127.0.0.1:8001")]
    pub url: String,
    /// Model (or route) to call.
    #[arg(short = 'm', long)]
    pub model: String,
    /// Model version to ask for (default: the server's choice).
    #[arg(long)]
    pub model_version: Option<String>,
    /// Input tensor NAME:TYPE:SHAPE, e.g. x:FP32:1,64 (repeatable; TYPE is a v2 name
    /// such as FP32 or BYTES). Filled with deterministic pseudo-random data.
    /// Without any, inputs come from the server's ModelMetadata.
    #[arg(long = "input", value_name = "NAME:TYPE:SHAPE", value_parser = parse_input)]
    pub inputs: Vec<InputSpec>,
    /// Size of the first dynamic dimension when inputs come from ModelMetadata
    /// (other dynamic dimensions are 1).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(i64).range(1..))]
    pub batch_size: i64,
    /// Closed loop: keep N requests in flight (the default, with N = 1).
    #[arg(long, value_name = "N", conflicts_with = "rate", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub concurrency: Option<u32>,
    /// Open loop: send R requests per second at fixed intervals; latency counts
    /// from the intended send time, so a stalled server shows (no coordinated omission).
    #[arg(long, value_name = "R")]
    pub rate: Option<f64>,
    /// Open loop: most requests in flight; a send due beyond it is skipped and
    /// counted as a CLIENT_OVERLOAD error.
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_outstanding: u32,
    /// Seconds measured.
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub duration: f64,
    /// Seconds of load before the measurement starts (not reported).
    #[arg(long, default_value_t = 1.0, value_name = "SECS")]
    pub warmup: f64,
    /// Separate HTTP/2 connections; requests are spread over them round-robin.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub connections: u32,
    /// Per-request deadline sent as grpc-timeout. Requests still running
    /// this long plus 1 s (without it: 10 s) after the window are CLIENT_UNFINISHED.
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_ms: Option<u64>,
    /// gRPC metadata KEY:VALUE sent with every request, e.g. x-user-id:42 (repeatable).
    #[arg(long = "header", value_name = "KEY:VALUE", value_parser = parse_header)]
    pub headers: Vec<Header>,
    /// Worker threads of the load generator (keep it small to leave cores to the server).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: u32,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// One `--input NAME:TYPE:SHAPE`.
#[derive(Debug, Clone, PartialEq)]
pub struct InputSpec {
    pub name: String,
    pub datatype: DataType,
    pub shape: Vec<i64>,
}

/// One `--header KEY:VALUE`, checked to be valid ASCII metadata.
#[derive(Debug, Clone)]
pub struct Header {
    pub key: AsciiMetadataKey,
    pub value: AsciiMetadataValue,
}

/// How requests are issued.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    Closed { concurrency: usize },
    Open { rate: f64, max_outstanding: usize },
}

impl BenchArgs {
    /// The load mode, after range checks clap cannot express.
    pub fn mode(&self) -> Result<Mode, String> {
        match self.rate {
            Some(rate) if !(rate.is_finite() && rate > 0.0) => {
                Err("--rate must be a positive number of requests per second".into())
            }
            Some(rate) => Ok(Mode::Open {
                rate,
                max_outstanding: self.max_outstanding as usize,
            }),
            None => Ok(Mode::Closed {
                concurrency: self.concurrency.unwrap_or(1) as usize,
            }),
        }
    }

    /// (warm-up, measured window), checked.
    pub fn window(&self) -> Result<(Duration, Duration), String> {
        let warmup = Duration::try_from_secs_f64(self.warmup)
            .map_err(|_| "--warmup must be a non-negative number of seconds".to_string())?;
        let duration = Duration::try_from_secs_f64(self.duration)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or("--duration must be a positive number of seconds")?;
        Ok((warmup, duration))
    }

    pub fn timeout(&self) -> Option<Duration> {
        self.timeout_ms.map(Duration::from_millis)
    }
}

fn parse_input(text: &str) -> Result<InputSpec, String> {
    let mut parts = text.splitn(3, ':');
    let (Some(name), Some(datatype), Some(shape)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("expected NAME:TYPE:SHAPE, e.g. x:FP32:1,64".into());
    };
    if name.is_empty() {
        return Err("the input name is empty".into());
    }
    let datatype = DataType::parse(datatype).ok_or_else(|| {
        let names: Vec<_> = DataType::ALL.iter().map(|t| t.as_str()).collect();
        format!("unknown type '{datatype}' (one of {})", names.join(", "))
    })?;
    let shape = shape
        .split(',')
        .map(|dim| dim.trim().parse::<i64>().ok().filter(|d| *d >= 0))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| format!("shape '{shape}' must be non-negative integers separated by commas"))?;
    Ok(InputSpec {
        name: name.to_string(),
        datatype,
        shape,
    })
}

fn parse_header(text: &str) -> Result<Header, String> {
    let (key, value) = text
        .split_once(':')
        .ok_or("expected KEY:VALUE, e.g. x-user-id:42")?;
    let key = key
        .trim()
        .parse::<AsciiMetadataKey>()
        .map_err(|_| format!("'{key}' is not a valid ASCII metadata key"))?;
    let value = value
        .trim()
        .parse::<AsciiMetadataValue>()
        .map_err(|_| format!("'{value}' is not a valid ASCII metadata value"))?;
    Ok(Header { key, value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_parse() {
        let spec = parse_input("x:FP32:1,64").unwrap();
        assert_eq!(spec.name, "x");
        assert_eq!(spec.datatype, DataType::Fp32);
        assert_eq!(spec.shape, vec![1, 64]);
        assert!(parse_input("x:FLOAT:1").is_err());
        assert!(parse_input("x:FP32:1,-1").is_err());
        assert!(parse_input("x:FP32").is_err());
    }

    #[test]
    fn headers_parse() {
        let header = parse_header("X-User-Id: 42").unwrap();
        assert_eq!(header.key.as_str(), "x-user-id");
        assert_eq!(header.value.to_str().unwrap(), "42");
        assert!(parse_header("novalue").is_err());
        assert!(parse_header("bad key:1").is_err());
    }
}
