//! A backend for unit tests: "model files" are small text files that say
//! how the fake model behaves, so the loader, the reload loop, the engine
//! and the shadow dispatcher can be tested without ONNX Runtime.
//!
//! A file holds lines of `key value`:
//! - `scale S`: output `y` = input `x` × S (FP32, shape `[-1, 2]`); default 1
//! - `fail REASON`: loading fails with REASON
//! - `delay_ms N`: every run sleeps N ms first
//! - `run_error`: every run fails (as ONNX Runtime would at run time)

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Backend, BackendError, RunTimings, Session, SessionOutput, SessionSettings};
use crate::error::ServeError;
use crate::tensor::{DataType, InputTensor, OutputTensor, TensorData, TensorSpec};

/// Called with the path of every load, before it reads the file (a test can
/// change the file "while it is being read").
pub type LoadHook = Box<dyn Fn(&Path) + Send + Sync>;

/// Counts what happened, for assertions.
#[derive(Default)]
pub struct FakeBackend {
    /// Loads attempted, by path.
    pub loads: Mutex<Vec<PathBuf>>,
    /// Sessions alive now (a dropped version's sessions go away).
    pub live_sessions: Arc<AtomicUsize>,
    /// Runs done by every session (a merged batch counts once).
    pub runs: Arc<AtomicUsize>,
    pub on_load: Mutex<Option<LoadHook>>,
}

impl FakeBackend {
    pub fn load_count(&self) -> usize {
        self.loads.lock().map(|l| l.len()).unwrap_or(0)
    }
}

/// What a fake model file says.
#[derive(Debug, Clone, Default)]
struct Behaviour {
    scale: f32,
    delay: Duration,
    run_error: bool,
}

fn parse(text: &str) -> Result<Behaviour, BackendError> {
    let mut behaviour = Behaviour {
        scale: 1.0,
        ..Default::default()
    };
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        let number = || {
            value
                .trim()
                .parse::<f64>()
                .map_err(|e| BackendError::Load(e.to_string()))
        };
        match key {
            "scale" => behaviour.scale = number()? as f32,
            "delay_ms" => behaviour.delay = Duration::from_millis(number()? as u64),
            "run_error" => behaviour.run_error = true,
            "fail" => return Err(BackendError::Load(value.trim().to_string())),
            other => return Err(BackendError::Load(format!("unknown fake model line '{other}'"))),
        }
    }
    Ok(behaviour)
}

impl Backend for FakeBackend {
    fn load(&self, path: &Path, _: &SessionSettings) -> Result<Box<dyn Session>, BackendError> {
        if let Ok(mut loads) = self.loads.lock() {
            loads.push(path.to_path_buf());
        }
        if let Ok(hook) = self.on_load.lock()
            && let Some(hook) = hook.as_ref()
        {
            hook(path);
        }
        let text = std::fs::read_to_string(path).map_err(|e| BackendError::Load(e.to_string()))?;
        let behaviour = parse(&text)?;
        self.live_sessions.fetch_add(1, Ordering::SeqCst);
        let spec = |name: &str| TensorSpec {
            name: name.into(),
            datatype: DataType::Fp32,
            shape: vec![-1, 2],
        };
        Ok(Box::new(FakeSession {
            behaviour,
            inputs: vec![spec("x")],
            outputs: vec![spec("y")],
            live: self.live_sessions.clone(),
            runs: self.runs.clone(),
        }))
    }
}

struct FakeSession {
    behaviour: Behaviour,
    inputs: Vec<TensorSpec>,
    outputs: Vec<TensorSpec>,
    live: Arc<AtomicUsize>,
    runs: Arc<AtomicUsize>,
}

impl Drop for FakeSession {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

impl FakeSession {
    fn scaled(&self, values: &[f32], rows: i64) -> Result<SessionOutput, ServeError> {
        let started = std::time::Instant::now();
        self.runs.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(self.behaviour.delay);
        if self.behaviour.run_error {
            return Err(ServeError::Runtime("fake run failed".into()));
        }
        let scaled: Vec<f32> = values.iter().map(|v| v * self.behaviour.scale).collect();
        Ok(SessionOutput {
            outputs: vec![OutputTensor::fp32("y", &[rows, 2], &scaled)],
            timings: RunTimings {
                infer: started.elapsed(),
                ..Default::default()
            },
        })
    }
}

/// The FP32 values of `x` in `inputs`.
fn values_of(inputs: &[InputTensor]) -> Vec<f32> {
    let Some(TensorData::Raw(raw)) = inputs.iter().find(|i| i.name == "x").map(|i| &i.data) else {
        return Vec::new();
    };
    raw.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

impl Session for FakeSession {
    fn inputs(&self) -> &[TensorSpec] {
        &self.inputs
    }

    fn outputs(&self) -> &[TensorSpec] {
        &self.outputs
    }

    fn run(&mut self, inputs: &[InputTensor], _: &[String]) -> Result<SessionOutput, ServeError> {
        let values = values_of(inputs);
        self.scaled(&values, values.len() as i64 / 2)
    }

    fn run_batch(&mut self, requests: &[&[InputTensor]], _: &[String]) -> Result<SessionOutput, ServeError> {
        let values: Vec<f32> = requests.iter().flat_map(|r| values_of(r)).collect();
        self.scaled(&values, values.len() as i64 / 2)
    }
}

/// An input `x` of `rows` rows holding `values` (row-major, two per row).
pub fn input_x(values: &[f32]) -> InputTensor {
    InputTensor {
        name: "x".into(),
        datatype: DataType::Fp32,
        shape: vec![values.len() as i64 / 2, 2],
        data: TensorData::Raw(
            values
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<u8>>()
                .into(),
        ),
    }
}

/// Writes a fake model file at `root/model/version/model.onnx`, dated a
/// minute ago so the loader treats it as settled under the real clock.
pub fn write_model(root: &Path, model: &str, version: u64, text: &str) -> PathBuf {
    let dir = root.join(model).join(version.to_string());
    std::fs::create_dir_all(&dir).expect("create version directory");
    let path = dir.join("model.onnx");
    std::fs::write(&path, text).expect("write fake model");
    let past = std::time::SystemTime::now() - Duration::from_secs(60);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .and_then(|file| file.set_modified(past))
        .expect("date fake model");
    path
}
