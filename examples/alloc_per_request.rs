//! Counts heap allocations per request on the serving hot path: the engine
//! (snapshot, routing, validation, metrics), the hand-off to the session
//! worker, tensor conversion, the ONNX Runtime run itself, and the answer.
//! gRPC decoding/encoding (prost, h2) is not included.
//!
//!   scripts/install-ort.sh && cargo run --release --example alloc_per_request

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use switchyard::engine::{Engine, InFlight, InferRequest, NoHeaders};
use switchyard::repository::{Loader, snapshot_cell};
use switchyard::shadow::Mirror;
use switchyard::tensor::{DataType, InputTensor, TensorData};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const CALLS: u64 = 20_000;

fn request(model: &str, rows: usize, features: usize) -> InferRequest {
    let data: Vec<u8> = (0..rows * features)
        .flat_map(|i| (i as f32 / 100.0).to_le_bytes())
        .collect();
    InferRequest {
        model_name: model.into(),
        inputs: vec![InputTensor {
            name: "x".into(),
            datatype: DataType::Fp32,
            shape: vec![rows as i64, features as i64],
            data: TensorData::Raw(Bytes::from(data)),
        }],
        ..Default::default()
    }
}

fn main() -> anyhow::Result<()> {
    let runtime = Arc::new(switchyard::backend::ort::init(None)?);
    let _metrics = switchyard::telemetry::install_metrics()?;
    let repo = tempfile_repo()?;
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    tokio.block_on(async {
        let mut loader = Loader::new(runtime, repo.clone(), None);
        // Freshly copied files are left alone until they settle, as in `serve`.
        let mut outcome = loader.reload().await?;
        while outcome.unsettled {
            tokio::time::sleep(switchyard::repository::SETTLE_TIME).await;
            outcome = loader.reload().await?;
        }
        let (reader, mut writer) = snapshot_cell();
        writer.publish(outcome.snapshot);
        let engine = Engine::new(reader, Mirror::start(None), InFlight::new(1024));
        println!("| path | allocations / request | bytes / request |");
        println!("| --- | --- | --- |");
        for (label, model) in [
            ("mlp_small, batch 1, direct", "mlp"),
            ("mlp_small, batch 1, via a route", "routed"),
        ] {
            let template = request(model, 1, 64);
            for _ in 0..1000 {
                engine.infer(template.clone(), &NoHeaders).await?;
            }
            // The request itself is cloned outside the count.
            let clones: Vec<InferRequest> = (0..CALLS).map(|_| template.clone()).collect();
            let (a0, b0) = (ALLOCATIONS.load(Ordering::Relaxed), BYTES.load(Ordering::Relaxed));
            for request in clones {
                engine.infer(request, &NoHeaders).await?;
            }
            let (a1, b1) = (ALLOCATIONS.load(Ordering::Relaxed), BYTES.load(Ordering::Relaxed));
            println!(
                "| {label} | {:.1} | {:.0} |",
                (a1 - a0) as f64 / CALLS as f64,
                (b1 - b0) as f64 / CALLS as f64
            );
        }
        anyhow::Ok(())
    })?;
    std::fs::remove_dir_all(&repo)?;
    Ok(())
}

/// A repository with `mlp_small` as model `mlp` and a route `routed` to it.
fn tempfile_repo() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("switchyard-allocs-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("mlp/1"))?;
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/models/mlp_small/1/model.onnx");
    std::fs::copy(fixture, dir.join("mlp/1/model.onnx"))?;
    std::fs::write(
        dir.join("routes.yaml"),
        "routes:\n  routed:\n    targets: [{model: mlp, weight: 1}]\n",
    )?;
    Ok(dir)
}
