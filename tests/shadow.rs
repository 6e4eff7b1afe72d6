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

async fn wait_for_metric(server: &TestServer, needle: &str) -> String {
    let started = std::time::Instant::now();
    loop {
        let metrics = server.metrics().await;
        if metrics.contains(needle) {
            return metrics;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{needle} never appeared in\n{metrics}"
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
    let metrics = wait_for_metric(
        &server,
        r#"switchyard_shadow_requests_total{route="r",model="m",version="2",outcome="ok"} 20"#,
    )
    .await;
    assert!(
        metrics.contains(r#"switchyard_shadow_abs_diff_bucket{route="r",le="10"} 20"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"switchyard_shadow_abs_diff_bucket{route="r",le="1"} 0"#),
        "{metrics}"
    );

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
    let metrics = wait_for_metric(
        &server,
        r#"switchyard_shadow_argmax_agreement_total{route="cls",agree="true"} 2"#,
    )
    .await;
    assert!(
        metrics.contains(r#"switchyard_shadow_argmax_agreement_total{route="cls",agree="false"} 2"#),
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
    wait_for_metric(
        &server,
        r#"switchyard_shadow_requests_total{route="r",model="other",version="1",outcome="error"} 10"#,
    )
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
    let metrics = server.metrics().await;
    assert!(
        metrics.contains(r#"switchyard_requests_total{route="r",model="m",version="1",code="OK"} 10"#),
        "{metrics}"
    );
}
