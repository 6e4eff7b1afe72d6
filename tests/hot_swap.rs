//! Hot swap under continuous load: every kind of repository change, with zero
//! failed requests and the expected version answering soon after each step.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use switchyard::proto::inference::{ModelInferRequest, ModelReadyRequest, RepositoryIndexRequest};

const CLIENTS: usize = 4;
/// How long a step may take to show.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);

fn model_bytes(fixture: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(fixture).join("1/model.onnx")).unwrap()
}

/// `x = [1, 2, 3, 4]` to model `m`; identity answers x, scale answers 2x.
fn request(model: &str) -> ModelInferRequest {
    raw_request(
        model,
        vec![(input("x", "FP32", &[1, 4]), f32_bytes(&[1.0, 2.0, 3.0, 4.0]))],
    )
}

/// What the clients saw.
#[derive(Default)]
struct Observed {
    ok: AtomicU64,
    failed: AtomicU64,
    failures: Mutex<Vec<String>>,
    /// The latest answer: (version, factor) where factor is y / x.
    latest: Mutex<Option<(String, f32)>>,
    /// Answers per version.
    per_version: Mutex<BTreeMap<String, u64>>,
}

/// Continuous load from `CLIENTS` concurrent clients, each on its own connection.
struct Load {
    observed: Arc<Observed>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    async fn start(server: &TestServer) -> Self {
        let observed = Arc::new(Observed::default());
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for _ in 0..CLIENTS {
            let mut client = server.client().await;
            let observed = observed.clone();
            let stop = stop.clone();
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    match client.model_infer(request("m")).await {
                        Ok(response) => {
                            let response = response.into_inner();
                            let y = f32_values(&response.raw_output_contents[0]);
                            let factor = y[3] / 4.0;
                            let valid = y == [factor, 2.0 * factor, 3.0 * factor, 4.0 * factor]
                                && (factor == 1.0 || factor == 2.0);
                            if !valid {
                                observed.failed.fetch_add(1, Ordering::Relaxed);
                                observed
                                    .failures
                                    .lock()
                                    .unwrap()
                                    .push(format!("wrong answer {y:?}"));
                                continue;
                            }
                            observed.ok.fetch_add(1, Ordering::Relaxed);
                            *observed
                                .per_version
                                .lock()
                                .unwrap()
                                .entry(response.model_version.clone())
                                .or_default() += 1;
                            *observed.latest.lock().unwrap() = Some((response.model_version, factor));
                        }
                        Err(status) => {
                            observed.failed.fetch_add(1, Ordering::Relaxed);
                            observed.failures.lock().unwrap().push(format!(
                                "{:?}: {}",
                                status.code(),
                                status.message()
                            ));
                        }
                    }
                }
            }));
        }
        Self {
            observed,
            stop,
            tasks,
        }
    }

    /// Waits until the latest answers come from `version` with `factor`, and
    /// keep doing so for a few more requests.
    async fn wait_for(&self, step: &str, version: &str, factor: f32) -> Duration {
        let started = Instant::now();
        let mut streak = 0;
        let mut last_ok = self.observed.ok.load(Ordering::Relaxed);
        while streak < 20 {
            assert!(
                started.elapsed() < STEP_TIMEOUT,
                "step '{step}': version {version} x{factor} never answered; latest {:?}",
                self.observed.latest.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
            let ok = self.observed.ok.load(Ordering::Relaxed);
            if ok == last_ok {
                continue;
            }
            last_ok = ok;
            let latest = self.observed.latest.lock().unwrap().clone();
            if latest == Some((version.to_string(), factor)) {
                streak += 1;
            } else {
                streak = 0;
            }
        }
        started.elapsed()
    }

    async fn stop(self) -> Arc<Observed> {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            task.await.unwrap();
        }
        self.observed
    }
}

/// Replaces `path` atomically: write a dot-file beside it, then rename.
fn replace_atomically(path: &Path, bytes: &[u8]) {
    let staged = path.with_file_name(".model.onnx.staged");
    std::fs::write(&staged, bytes).unwrap();
    std::fs::rename(&staged, path).unwrap();
}

/// Publishes a version the recommended way: stage `.N.tmp`, rename to `N`.
fn publish_version(repo: &Path, model: &str, version: u64, bytes: &[u8]) {
    let staged = repo.join(model).join(format!(".{version}.tmp"));
    std::fs::create_dir_all(&staged).unwrap();
    std::fs::write(staged.join("model.onnx"), bytes).unwrap();
    std::fs::rename(&staged, repo.join(model).join(version.to_string())).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_change_under_load_fails_no_request() {
    let identity = model_bytes("identity_fp32");
    let scale = model_bytes("scale_fp32");
    let repo = TestRepo::new();
    std::fs::create_dir_all(repo.path().join("m/1")).unwrap();
    std::fs::write(repo.path().join("m/1/model.onnx"), &identity).unwrap();
    let server = TestServer::start_ready(repo.path(), &[]).await;
    let load = Load::start(&server).await;
    let mut timings = Vec::new();
    load.wait_for("start", "1", 1.0).await;

    // 1. add a version: stage as a dot-directory, rename into place.
    publish_version(repo.path(), "m", 2, &scale);
    timings.push((
        "add version (rename from dot-dir)",
        load.wait_for("add", "2", 2.0).await,
    ));

    // 2. replace model.onnx in place by atomic rename.
    replace_atomically(&repo.path().join("m/2/model.onnx"), &identity);
    timings.push((
        "replace by atomic rename",
        load.wait_for("rename", "2", 1.0).await,
    ));

    // 3. replace it by a slow non-atomic copy: chunks over about a second.
    {
        let mut file = std::fs::File::create(repo.path().join("m/2/model.onnx")).unwrap();
        for chunk in scale.chunks(scale.len().div_ceil(10)) {
            file.write_all(chunk).unwrap();
            file.flush().unwrap();
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    timings.push(("replace by slow copy", load.wait_for("slow copy", "2", 2.0).await));

    // 4. add a corrupt version: version 2 keeps serving, the failure is counted.
    publish_version(repo.path(), "m", 3, b"not an onnx model at all");
    let mut client = server.client().await;
    let started = Instant::now();
    let failed_load = [("model", "m"), ("version", "3"), ("outcome", "failure")];
    loop {
        let metrics = server.scrape().await;
        if metrics.value("switchyard_model_loads_total", &failed_load) == Some(1.0) {
            break;
        }
        assert!(
            started.elapsed() < STEP_TIMEOUT,
            "corrupt version never reported:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    timings.push((
        "corrupt version rejected",
        load.wait_for("corrupt", "2", 2.0).await + started.elapsed(),
    ));
    let index = client
        .repository_index(RepositoryIndexRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(
        index
            .models
            .iter()
            .any(|m| m.version == "3" && m.state == "UNAVAILABLE" && !m.reason.is_empty())
    );

    // 5. remove the newest versions: version 1 takes over.
    std::fs::remove_dir_all(repo.path().join("m/3")).unwrap();
    std::fs::remove_dir_all(repo.path().join("m/2")).unwrap();
    timings.push(("remove newest version", load.wait_for("remove", "1", 1.0).await));

    // 6. add a whole new model.
    let started = Instant::now();
    std::fs::create_dir_all(repo.path().join(".n.tmp/1")).unwrap();
    std::fs::write(repo.path().join(".n.tmp/1/model.onnx"), &scale).unwrap();
    std::fs::rename(repo.path().join(".n.tmp"), repo.path().join("n")).unwrap();
    loop {
        let ready = ModelReadyRequest {
            name: "n".into(),
            version: String::new(),
        };
        if client.model_ready(ready).await.unwrap().into_inner().ready {
            break;
        }
        assert!(started.elapsed() < STEP_TIMEOUT, "new model never became ready");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let answer = client.model_infer(request("n")).await.unwrap().into_inner();
    assert_eq!(
        f32_values(&answer.raw_output_contents[0]),
        vec![2.0, 4.0, 6.0, 8.0]
    );
    timings.push(("add a new model", started.elapsed()));

    // 7. twenty rapid swaps of version 1 between the two models; the last wins.
    for swap in 0..20 {
        let bytes = if swap % 2 == 0 { &scale } else { &identity };
        replace_atomically(&repo.path().join("m/1/model.onnx"), bytes);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    timings.push((
        "20 rapid swaps settle",
        load.wait_for("rapid swaps", "1", 1.0).await,
    ));

    let observed = load.stop().await;
    let failures = observed.failures.lock().unwrap().clone();
    let ok = observed.ok.load(Ordering::Relaxed);
    eprintln!(
        "hot swap: {ok} requests ok, {} failed, per version {:?}",
        failures.len(),
        observed.per_version.lock().unwrap()
    );
    for (step, took) in &timings {
        eprintln!("  {step}: visible after {took:?}");
    }
    assert!(
        failures.is_empty(),
        "{} failed requests, first: {:?}",
        failures.len(),
        failures.first()
    );
    assert!(ok > 100, "load too light to mean anything: {ok}");
}

#[tokio::test]
async fn config_edits_take_effect_and_bad_edits_keep_the_old_settings() {
    let repo = TestRepo::new();
    repo.add_version("identity_fp32", "m", 1);
    repo.add_version("scale_fp32", "m", 2);
    let server = TestServer::start_ready(repo.path(), &[]).await;
    let mut client = server.client().await;
    let ready = |version: &str| ModelReadyRequest {
        name: "m".into(),
        version: version.into(),
    };
    assert!(
        !client.model_ready(ready("1")).await.unwrap().into_inner().ready,
        "latest: 1 by default"
    );

    // version_policy all: version 1 gets loaded too. The config arrives the
    // way a Kubernetes ConfigMap update does: a `..data` symlink swap.
    let model_dir = repo.path().join("m");
    let first = model_dir.join("..2026_01");
    std::fs::create_dir_all(&first).unwrap();
    std::fs::write(first.join("config.yaml"), "version_policy: {all: true}\n").unwrap();
    std::os::unix::fs::symlink("..2026_01", model_dir.join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/config.yaml", model_dir.join("config.yaml")).unwrap();
    wait_until(STEP_TIMEOUT, || async {
        client
            .clone()
            .model_ready(ready("1"))
            .await
            .unwrap()
            .into_inner()
            .ready
    })
    .await;

    // A broken edit (unknown key) keeps the previous settings and is counted.
    let second = model_dir.join("..2026_02");
    std::fs::create_dir_all(&second).unwrap();
    std::fs::write(
        second.join("config.yaml"),
        "version_policy: {all: true}\ninstances: 2\nbogus: 1\n",
    )
    .unwrap();
    std::os::unix::fs::symlink("..2026_02", model_dir.join("..data_tmp")).unwrap();
    std::fs::rename(model_dir.join("..data_tmp"), model_dir.join("..data")).unwrap();
    let file = model_dir.join("config.yaml").display().to_string();
    let rejected = [("file", file.as_str()), ("outcome", "failure")];
    wait_until(STEP_TIMEOUT, || async {
        server
            .scrape()
            .await
            .value("switchyard_config_reloads_total", &rejected)
            == Some(1.0)
            && server.logs().iter().any(|l| l.contains("invalid config.yaml"))
    })
    .await;
    assert!(
        client.model_ready(ready("1")).await.unwrap().into_inner().ready,
        "old settings stay in force"
    );

    // Fixing it back to latest: 1 unloads version 1.
    let third = model_dir.join("..2026_03");
    std::fs::create_dir_all(&third).unwrap();
    std::fs::write(
        third.join("config.yaml"),
        "version_policy: {latest: 1}\ninstances: 2\n",
    )
    .unwrap();
    std::os::unix::fs::symlink("..2026_03", model_dir.join("..data_tmp")).unwrap();
    std::fs::rename(model_dir.join("..data_tmp"), model_dir.join("..data")).unwrap();
    wait_until(STEP_TIMEOUT, || async {
        !client
            .clone()
            .model_ready(ready("1"))
            .await
            .unwrap()
            .into_inner()
            .ready
    })
    .await;
    let response = client.model_infer(request("m")).await.unwrap().into_inner();
    assert_eq!(response.model_version, "2");
}
