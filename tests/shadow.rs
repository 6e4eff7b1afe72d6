//! Shadow mirroring: the client only sees the primary; mirrored pairs are
//! compared, logged and measured.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;
use switchyard::proto::inference::ModelInferRequest;

fn x_request(route: &str, id: &str) -> ModelInferRequest {
    let mut request = raw_request(
        route,
        vec![(input("x", "FP32", &[1, 4]), f32_bytes(&[1.0, 2.0, 3.0, 4.0]))],
    );
    request.id = id.into();
    request
}

/// Scrapes until sample `name{labels}` exists and its value satisfies `done`.
async fn wait_for_metric(
    server: &TestServer,
    name: &str,
    labels: &[(&str, &str)],
    done: impl Fn(f64) -> bool,
) -> Exposition {
    let started = std::time::Instant::now();
    loop {
        let metrics = server.scrape().await;
        if metrics.value(name, labels).is_some_and(&done) {
            return metrics;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{name} {labels:?} never reached its value in\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn shadow_lines(server: &TestServer) -> Vec<Value> {
    server
        .logs()
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| event["target"] == "shadow")
        .collect()
}

#[tokio::test]
async fn client_gets_the_primary_and_the_comparison_is_right() {
    let repo = TestRepo::new();
    repo.add_version("identity_fp32", "m", 1);
    repo.add_version("scale_fp32", "m", 2);
    std::fs::write(
        repo.path().join("routes.yaml"),
        "routes:\n  r:\n    targets: [{model: m, version: 1, weight: 1}]\n    shadow: {model: m, version: 2, fraction: 1.0}\n",
    )
    .unwrap();
    let shadow_file = repo.path().join(".shadow.jsonl");
    let server = TestServer::start_ready(repo.path(), &["--shadow-log", shadow_file.to_str().unwrap()]).await;
    let mut client = server.client().await;
    for i in 0..20 {
        let response = client
            .model_infer(x_request("r", &format!("req-{i}")))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(response.model_version, "1", "the client always gets the primary");
        assert_eq!(
            f32_values(&response.raw_output_contents[0]),
            vec![1.0, 2.0, 3.0, 4.0]
        );
    }
    let compared = [
        ("route", "r"),
        ("model", "m"),
        ("version", "2"),
        ("outcome", "ok"),
    ];
    let metrics = wait_for_metric(&server, "switchyard_shadow_requests_total", &compared, |n| {
        n == 20.0
    })
    .await;
    let diffs = |le| metrics.value("switchyard_shadow_abs_diff_bucket", &[("route", "r"), ("le", le)]);
    assert_eq!(diffs("10"), Some(20.0), "{metrics}");
    assert_eq!(diffs("1"), Some(0.0), "{metrics}");

    // y = x against y = 2x on [1, 2, 3, 4]: differences 1, 2, 3, 4.
    server
        .wait_for_log(Duration::from_secs(5), |e| {
            e["target"] == "shadow" && e["request_id"] == "req-19"
        })
        .await;
    let line = shadow_lines(&server)
        .into_iter()
        .find(|e| e["request_id"] == "req-19")
        .unwrap();
    assert_eq!(line["route"], "r");
    assert_eq!(
        (line["primary_model"].as_str(), line["primary_version"].as_str()),
        (Some("m"), Some("1"))
    );
    assert_eq!(
        (line["shadow_model"].as_str(), line["shadow_version"].as_str()),
        (Some("m"), Some("2"))
    );
    assert_eq!(line["outcome"], "ok");
    assert_eq!(line["max_abs_diff"], 4.0);
    assert_eq!(line["mean_abs_diff"], 2.5);
    assert!(line["primary_latency_ms"].as_f64().unwrap() > 0.0);
    assert!(line["shadow_latency_ms"].as_f64().unwrap() > 0.0);

    // The same records land in --shadow-log as JSON lines.
    let started = std::time::Instant::now();
    let records = loop {
        let text = std::fs::read_to_string(&shadow_file).unwrap_or_default();
        let records: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        if records.len() == 20 || started.elapsed() > Duration::from_secs(5) {
            break records;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(records.len(), 20);
    assert!(
        records
            .iter()
            .all(|r| r["max_abs_diff"] == 4.0 && r["compared"][0] == "y")
    );
}

#[tokio::test]
async fn classifier_argmax_agreement_is_counted_per_row() {
    let repo = TestRepo::new();
    repo.add_version("classifier", "cls", 1);
    repo.add_version("classifier_b", "cls", 2);
    std::fs::write(
        repo.path().join("routes.yaml"),
        "routes:\n  cls:\n    targets: [{model: cls, version: 1, weight: 1}]\n    shadow: {model: cls, version: 2}\n",
    )
    .unwrap();
    let server = TestServer::start_ready(repo.path(), &[]).await;
    // classifier picks 0, 1, 2, 0 on these rows; classifier_b picks 0, 2, 1, 0.
    let rows = [
        3.0, 0.0, 0.0, 0.0, 0.0, 3.0, 0.0, 0.0, 0.0, 0.0, 3.0, 0.0, 1.0, 0.0, 0.0, 4.0,
    ];
    let request = raw_request("cls", vec![(input("x", "FP32", &[4, 4]), f32_bytes(&rows))]);
    server.client().await.model_infer(request).await.unwrap();
    let rows = |agree| [("route", "cls"), ("agree", agree)];
    let metrics = wait_for_metric(
        &server,
        "switchyard_shadow_argmax_agreement_total",
        &rows("true"),
        |n| n == 2.0,
    )
    .await;
    assert_eq!(
        metrics.value("switchyard_shadow_argmax_agreement_total", &rows("false")),
        Some(2.0),
        "{metrics}"
    );
}

#[tokio::test]
async fn failing_shadow_is_counted_and_never_seen_by_the_client() {
    let repo = TestRepo::new();
    repo.add_version("identity_fp32", "m", 1);
    // A shadow whose inputs do not fit the primary's requests is a valid route.
    repo.add_version("int64_ops", "other", 1);
    std::fs::write(
        repo.path().join("routes.yaml"),
        "routes:\n  r:\n    targets: [{model: m, weight: 1}]\n    shadow: {model: other, fraction: 1.0}\n",
    )
    .unwrap();
    let server = TestServer::start_ready(repo.path(), &[]).await;
    let mut client = server.client().await;
    for i in 0..10 {
        client
            .model_infer(x_request("r", &i.to_string()))
            .await
            .expect("primary answers");
    }
    let failed = [
        ("route", "r"),
        ("model", "other"),
        ("version", "1"),
        ("outcome", "error"),
    ];
    wait_for_metric(&server, "switchyard_shadow_requests_total", &failed, |n| {
        n == 10.0
    })
    .await;
    let line = server
        .wait_for_log(Duration::from_secs(5), |e| e["target"] == "shadow")
        .await;
    assert!(
        line["error"]
            .as_str()
            .unwrap()
            .contains("expected datatype INT64, got FP32"),
        "{line}"
    );
    let metrics = server.scrape().await;
    let answered = [("route", "r"), ("model", "m"), ("version", "1"), ("code", "OK")];
    assert_eq!(
        metrics.value("switchyard_requests_total", &answered),
        Some(10.0),
        "{metrics}"
    );
}

/// Resident memory of a process, from /proc.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_shadow_drops_mirrors_and_never_fails_the_primary() {
    let repo = TestRepo::new();
    repo.add_version("mlp_small", "fast", 1);
    repo.add_version("slow_mlp", "slow", 1);
    std::fs::write(
        repo.path().join("routes.yaml"),
        "routes:\n  r:\n    targets: [{model: fast, weight: 1}]\n    shadow: {model: slow, fraction: 1.0}\n",
    )
    .unwrap();
    let server = TestServer::start_ready(repo.path(), &[]).await;
    let rss_before = rss_kib(server.pid());
    let rows = 32;
    let values = vec![0.5f32; rows * 64];
    let request = raw_request(
        "r",
        vec![(input("x", "FP32", &[rows as i64, 64]), f32_bytes(&values))],
    );
    let client = server.client().await;
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let mut client = client.clone();
            let request = request.clone();
            let sent = sent.clone();
            tokio::spawn(async move {
                let started = std::time::Instant::now();
                while started.elapsed() < Duration::from_secs(2) {
                    let response = client
                        .model_infer(request.clone())
                        .await
                        .expect("the primary always answers");
                    assert_eq!(response.into_inner().model_name, "fast");
                    sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let sent = sent.load(std::sync::atomic::Ordering::Relaxed);
    let mirrors = |outcome| {
        [
            ("route", "r"),
            ("model", "slow"),
            ("version", "1"),
            ("outcome", outcome),
        ]
    };
    let metrics = wait_for_metric(
        &server,
        "switchyard_shadow_requests_total",
        &mirrors("dropped"),
        |_| true,
    )
    .await;
    let count = |outcome| -> u64 {
        metrics
            .value("switchyard_shadow_requests_total", &mirrors(outcome))
            .map_or(0, |n| n as u64)
    };
    let (dropped, ok) = (count("dropped"), count("ok"));
    eprintln!("slow shadow: {sent} primary requests, {ok} mirrored, {dropped} dropped");
    assert!(
        dropped > 0 && dropped < sent,
        "a slow shadow must lose some mirrors: {dropped} of {sent}"
    );
    let answered = [
        ("route", "r"),
        ("model", "fast"),
        ("version", "1"),
        ("code", "OK"),
    ];
    assert_eq!(
        metrics.value("switchyard_requests_total", &answered),
        Some(sent as f64),
        "{metrics}"
    );
    let grown_mib = rss_kib(server.pid()).saturating_sub(rss_before) / 1024;
    assert!(
        grown_mib < 200,
        "memory grew by {grown_mib} MiB: the mirror queue must bound it"
    );
}
