//! ONNX Runtime in-process, no server: the ceiling for a model-bound load in
//! benchmarks/run.sh. Loads one FP32 model the way Switchyard does (same
//! library, Level3 optimisation, `--intra-op-threads` inside a run, one
//! inter-op thread), then runs a batch of pseudo-random input from `--threads`
//! OS threads, each owning its own session (like Switchyard's `instances`),
//! for `--duration` seconds after `--warmup`, and prints one JSON object.
//!
//! ```sh
//! cargo run --release --example ort_inprocess -- --model m.onnx --batch 32 --threads 2
//! ```

use std::path::PathBuf;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use clap::Parser;
use hdrhistogram::Histogram;
use ort::session::Session;
use ort::value::{TensorRef, ValueType};

/// Runs a model in-process from N threads and reports runs/s, rows/s and latency.
#[derive(Debug, Parser)]
struct Args {
    /// The model (one FP32 input whose first dimension is the batch).
    #[arg(long)]
    model: PathBuf,
    /// Rows per run (the first dimension of the input).
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Threads, each with its own session (Switchyard's `instances`).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// ONNX Runtime threads inside one run (Switchyard's `intra_op_threads`).
    #[arg(long, default_value_t = 1)]
    intra_op_threads: usize,
    /// Seconds measured.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Seconds run before the measurement (not reported).
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
}

/// What one thread measured.
struct Measured {
    runs: u64,
    latency: Histogram<u64>,
}

/// The input's name and its shape for `batch` rows (dynamic dimensions after
/// the first must not exist).
fn input_signature(session: &Session, batch: usize) -> Result<(String, Vec<i64>), String> {
    let input = session.inputs().first().ok_or("the model has no input")?;
    let ValueType::Tensor { shape, .. } = input.dtype() else {
        return Err(format!("input '{}' is not a tensor", input.name()));
    };
    let mut dims: Vec<i64> = shape.iter().copied().collect();
    let first = dims.first_mut().ok_or("the input is a scalar")?;
    *first = batch as i64;
    if dims.iter().any(|&d| d < 0) {
        return Err(format!(
            "input '{}' has dynamic dimensions after the first",
            input.name()
        ));
    }
    Ok((input.name().to_string(), dims))
}

/// Deterministic pseudo-random values in [0, 1) (splitmix64), like `switchyard bench`.
fn fill(count: usize, seed: u64) -> Vec<f32> {
    let mut state = seed ^ 0x5EED;
    (0..count)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32
        })
        .collect()
}

/// One thread: its own session, runs until `end`, records runs after `measure_start`.
fn run_thread(
    mut session: Session,
    name: &str,
    shape: &[i64],
    data: &[f32],
    start: &Barrier,
    window: (Duration, Duration),
) -> Result<Measured, String> {
    let mut latency = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).map_err(|e| e.to_string())?;
    let mut runs = 0u64;
    let mut checksum = 0.0f32;
    start.wait();
    let measure_start = Instant::now() + window.0;
    let end = measure_start + window.1;
    loop {
        let began = Instant::now();
        if began >= end {
            break;
        }
        let input = TensorRef::from_array_view((shape.to_vec(), data)).map_err(|e| e.to_string())?;
        let outputs = session
            .run(ort::inputs![name => input])
            .map_err(|e| e.to_string())?;
        // Read the output as a server would before sending it.
        let (_, values) = outputs[0]
            .try_extract_tensor::<f32>()
            .map_err(|e| e.to_string())?;
        checksum += values.first().copied().unwrap_or(0.0);
        if began >= measure_start {
            runs += 1;
            latency.saturating_record(began.elapsed().as_micros() as u64);
        }
    }
    std::hint::black_box(checksum);
    Ok(Measured { runs, latency })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    if args.batch == 0 || args.threads == 0 || args.intra_op_threads == 0 {
        return Err("--batch, --threads and --intra-op-threads must be at least 1".into());
    }
    let window = (
        Duration::try_from_secs_f64(args.warmup)?,
        Duration::try_from_secs_f64(args.duration)?,
    );
    let runtime = switchyard::backend::ort::init(None)?;
    let mut sessions = Vec::with_capacity(args.threads);
    for _ in 0..args.threads {
        // Built exactly as Switchyard builds its sessions.
        let settings = switchyard::backend::SessionSettings {
            intra_op_threads: args.intra_op_threads,
            ..Default::default()
        };
        sessions.push(switchyard::backend::ort::build_session(
            &runtime,
            &args.model,
            &settings,
        )?);
    }
    let (name, shape) = input_signature(&sessions[0], args.batch)?;
    let elements: usize = shape.iter().map(|&d| d as usize).product();
    let data = Arc::new(fill(elements, 1));
    let start = Arc::new(Barrier::new(args.threads));

    let cpu_before = cpu_time();
    let began = Instant::now();
    let results: Vec<Result<Measured, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = sessions
            .into_iter()
            .map(|session| {
                let (name, shape, data, start) = (&name, &shape, data.clone(), start.clone());
                scope.spawn(move || run_thread(session, name, shape, &data, &start, window))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("thread panicked".into())))
            .collect()
    });
    let wall = began.elapsed().as_secs_f64();
    let cpu = cpu_time() - cpu_before;

    let mut latency = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3)?;
    let mut runs = 0u64;
    for result in results {
        let measured = result?;
        runs += measured.runs;
        latency.add(&measured.latency)?;
    }
    let seconds = window.1.as_secs_f64();
    let report = serde_json::json!({
        "model": args.model.display().to_string(),
        "batch": args.batch,
        "threads": args.threads,
        "intra_op_threads": args.intra_op_threads,
        "duration_s": seconds,
        "runs": runs,
        "runs_per_s": runs as f64 / seconds,
        "rows_per_s": (runs as f64 * args.batch as f64) / seconds,
        "latency_us": {
            "p50": latency.value_at_quantile(0.50),
            "p90": latency.value_at_quantile(0.90),
            "p99": latency.value_at_quantile(0.99),
            "max": latency.max(),
        },
        // Over warm-up plus window, in % of one core.
        "cpu_percent": 100.0 * cpu / wall,
    });
    println!("{report}");
    Ok(())
}

/// User plus system CPU seconds of this process.
fn cpu_time() -> f64 {
    // SAFETY: rusage is plain old data; getrusage only writes it.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut usage) != 0 {
            return 0.0;
        }
        usage
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}
