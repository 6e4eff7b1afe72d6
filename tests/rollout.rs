//! Automatic rollout on the real binary, under client load, with 1 s
//! intervals: a good canary promoted through every step, a canary failing
//! at run time rolled back after `failure_limit` checks (client-visible
//! failures bounded by its share of that time), a canary whose outputs
//! differ rolled back at step 0 before any client request reaches it, too
//! few requests held as inconclusive, and an invalid block rejected.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Mutex;

/// What the clients saw: answers by version, and failures.
#[derive(Debug, Default)]
struct Seen {
    versions: BTreeMap<String, u64>,
    failures: u64,
}

/// Clients sending `x` = [1, 2, 3, 4] to route `r` until stopped.
struct Load {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    async fn start(server: &TestServer, clients: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let mut client = server.client().await;
            let (stop, seen) = (stop.clone(), seen.clone());
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let request = raw_request(
                        "r",
                        vec![(input("x", "FP32", &[1, 4]), f32_bytes(&[1.0, 2.0, 3.0, 4.0]))],
                    );
                    let answer = client.model_infer(request).await;
                    let mut seen = seen.lock().await;
                    match answer {
                        Ok(response) => {
                            *seen
                                .versions
                                .entry(response.into_inner().model_version)
                                .or_default() += 1
                        }
                        Err(_) => seen.failures += 1,
                    }
                }
            }));
        }
        Self { stop, seen, tasks }
    }

    async fn snapshot(&self) -> (BTreeMap<String, u64>, u64) {
        let seen = self.seen.lock().await;
        (seen.versions.clone(), seen.failures)
    }

    async fn stop(self) -> (BTreeMap<String, u64>, u64) {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            task.await.unwrap();
        }
        let seen = self.seen.lock().await;
        (seen.versions.clone(), seen.failures)
    }
}

fn routes(canary_fixture_note: &str, shadow: bool, rollout: &str) -> String {
    let shadow = if shadow {
        "    shadow: {model: m, version: 2, fraction: 1.0}\n"
    } else {
        ""
    };
    format!(
        "# {canary_fixture_note}\nroutes:\n  r:\n    targets:\n      - {{model: m, version: 1, weight: 100}}\n      - {{model: m, version: 2, weight: 0}}\n{shadow}    rollout:\n      canary: {{model: m, version: 2}}\n{rollout}"
    )
}

async fn server_with(canary: &str, routes_yaml: &str) -> (TestRepo, TestServer) {
    let repo = TestRepo::new();
    repo.add_version("identity_fp32", "m", 1);
    repo.add_version(canary, "m", 2);
    // fail_fp32 fails every run, its warm-up too.
    repo.write_config("m", "warmup: false\n");
    std::fs::write(repo.path().join("routes.yaml"), routes_yaml).unwrap();
    let server = TestServer::start_ready(repo.path(), &[]).await;
    (repo, server)
}

fn is_rollout_state(state: &'static str) -> impl Fn(&serde_json::Value) -> bool {
    move |e| e["target"] == "rollout" && e["state"] == state
}

fn rollout_lines(server: &TestServer) -> Vec<serde_json::Value> {
    server
        .logs()
        .iter()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|e| e["target"] == "rollout" && e["message"] == "rollout check")
        .collect()
}

/// `GET /v2/routes` over HTTP/1.1.
async fn routes_json(server: &TestServer) -> serde_json::Value {
    let listening = server
        .logs()
        .iter()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|e| e["message"] == "listening")
        .expect("listening line");
    let addr = listening["http_addr"].as_str().expect("http_addr").to_string();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /v2/routes HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).await.unwrap();
    let body = text.split_once("\r\n\r\n").expect("a body").1;
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_canary_is_promoted_through_every_step() {
    let rollout = "      steps: [0, 50, 100]\n      interval: 1s\n      min_requests: 5\n      max_error_rate: 0.01\n      \
                   min_argmax_agreement: 0.9\n      max_mean_abs_diff: 0.01\n      failure_limit: 1\n";
    let (_repo, server) = server_with("identity_fp32", &routes("identical canary", true, rollout)).await;
    let load = Load::start(&server, 2).await;
    server
        .wait_for_log(Duration::from_secs(20), is_rollout_state("promoted"))
        .await;
    let (versions, failures) = load.stop().await;
    assert_eq!(failures, 0);
    assert!(
        versions.get("2").copied().unwrap_or(0) > 0,
        "the canary served clients: {versions:?}"
    );
    // Windows before the clients started may be inconclusive; then step 0
    // (mirrors only) and step 1 (50 %) pass and the last step is promotion.
    let results: Vec<String> = rollout_lines(&server)
        .iter()
        .map(|e| e["result"].as_str().unwrap_or("").to_string())
        .filter(|result| result != "inconclusive")
        .collect();
    assert_eq!(results, ["pass", "pass"], "step 0 then step 1 passed");
    let route = &routes_json(&server).await["routes"][0];
    assert_eq!(route["rollout"]["state"], "promoted");
    assert_eq!(route["rollout"]["canary_percent"], 100);
    let exposition = server.scrape().await;
    assert_eq!(
        exposition.value(
            "switchyard_rollout_state",
            &[("route", "r"), ("state", "promoted")]
        ),
        Some(1.0)
    );
    assert_eq!(
        exposition.value("switchyard_rollout_step", &[("route", "r")]),
        Some(2.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_failing_at_run_time_is_rolled_back_with_bounded_failures() {
    let rollout = "      steps: [10, 50, 100]\n      interval: 1s\n      min_requests: 5\n      max_error_rate: 0.05\n      failure_limit: 2\n";
    let (_repo, server) = server_with("fail_fp32", &routes("canary fails every run", false, rollout)).await;
    let load = Load::start(&server, 2).await;
    server
        .wait_for_log(Duration::from_secs(20), is_rollout_state("rolled_back"))
        .await;
    let (before, failures_before) = load.snapshot().await;
    let answered_before: u64 = before.values().sum::<u64>() + failures_before;
    // After the roll-back no request reaches the canary.
    let settled = before.values().sum::<u64>() + 200;
    while load.snapshot().await.0.values().sum::<u64>() < settled {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (after, failures_after) = load.stop().await;
    let checks: Vec<_> = rollout_lines(&server)
        .into_iter()
        .map(|e| e["result"].clone())
        .filter(|result| result != "inconclusive")
        .collect();
    assert_eq!(checks, ["fail", "fail"], "two failed checks, then the roll-back");
    // Bound: the canary's 10 % of the requests for failure_limit (2) intervals,
    // plus what was in flight at the switch (2 clients).
    let bound = answered_before / 10 + answered_before / 20 + 2;
    assert!(
        failures_before <= bound,
        "{failures_before} failures of {answered_before} (bound {bound})"
    );
    assert!(
        failures_before > 0,
        "the canary did get its share before the roll-back"
    );
    assert!(
        failures_after - failures_before <= 2,
        "failures went on after the roll-back"
    );
    assert!(!after.contains_key("2"));
    eprintln!("client-visible failures: {failures_before} of {answered_before} requests (bound {bound})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_whose_outputs_differ_is_rolled_back_at_step_zero() {
    let rollout = "      steps: [0, 50, 100]\n      interval: 1s\n      min_requests: 5\n      max_mean_abs_diff: 0.1\n      failure_limit: 1\n";
    let (_repo, server) = server_with("scale_fp32", &routes("canary answers 2x", true, rollout)).await;
    let load = Load::start(&server, 2).await;
    let rolled_back = server
        .wait_for_log(Duration::from_secs(20), is_rollout_state("rolled_back"))
        .await;
    let (versions, failures) = load.stop().await;
    assert_eq!(rolled_back["judged_step"], 0, "{rolled_back}");
    assert_eq!(
        (versions.get("2"), failures),
        (None, 0),
        "no client request reached the canary: {versions:?}"
    );
    let exposition = server.scrape().await;
    let canary_answers = exposition.sum("switchyard_requests_total", &[("route", "r"), ("version", "2")]);
    assert_eq!(canary_answers, 0.0);
    assert_eq!(
        routes_json(&server).await["routes"][0]["shadow"],
        serde_json::Value::Null,
        "the shadow stops too"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_few_requests_are_inconclusive_and_hold_the_step() {
    let rollout = "      steps: [0, 100]\n      interval: 1s\n      min_requests: 1000000\n      max_mean_abs_diff: 0.1\n";
    let (_repo, server) = server_with("identity_fp32", &routes("too little traffic", true, rollout)).await;
    let load = Load::start(&server, 1).await;
    let is_inconclusive = |e: &serde_json::Value| e["target"] == "rollout" && e["result"] == "inconclusive";
    server
        .wait_for_log(Duration::from_secs(20), is_inconclusive)
        .await;
    load.stop().await;
    let route = &routes_json(&server).await["routes"][0];
    assert_eq!(
        (
            route["rollout"]["step"].as_u64(),
            route["rollout"]["state"].as_str()
        ),
        (Some(0), Some("progressing"))
    );
    let exposition = server.scrape().await;
    assert!(
        exposition.value(
            "switchyard_rollout_checks_total",
            &[("route", "r"), ("result", "inconclusive")]
        ) >= Some(1.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_rollout_block_is_rejected_and_the_routes_stay() {
    let (repo, server) = server_with(
        "identity_fp32",
        &routes("valid", false, "      steps: [10, 100]\n      interval: 1s\n"),
    )
    .await;
    let routes_file = repo.path().join("routes.yaml");
    let invalid = routes(
        "canary not a target",
        false,
        "      steps: [10, 100]\n      interval: 1s\n",
    )
    .replace("canary: {model: m, version: 2}", "canary: {model: m, version: 3}");
    std::fs::write(&routes_file, invalid).unwrap();
    let file = routes_file.display().to_string();
    let rejected =
        |e: &serde_json::Value| e["message"] == "routes file rejected; the previous routes stay in force";
    let line = server.wait_for_log(Duration::from_secs(10), rejected).await;
    assert!(line["error"].as_str().unwrap_or("").contains("canary"), "{line}");
    let exposition = server.scrape().await;
    assert_eq!(
        exposition.value(
            "switchyard_config_reloads_total",
            &[("file", &file), ("outcome", "failure")]
        ),
        Some(1.0)
    );
    let route = &routes_json(&server).await["routes"][0];
    assert_eq!(
        route["rollout"]["canary"]["version"], 2,
        "the previous routes are in force"
    );
}
