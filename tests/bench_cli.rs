//! `switchyard-bench` against a real server: closed loop, open loop, and
//! errors reported by code instead of aborting the run.

mod common;

use std::process::Command;

use common::*;
use serde_json::Value;

/// Runs `switchyard-bench --json` with `args` and returns its report.
fn bench(url: &str, args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_switchyard-bench"))
        .args(["--url", url, "-m", "add_fp32", "--warmup", "0", "--json"])
        .args(args)
        .output()
        .expect("run switchyard-bench");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "bench failed: {stderr}\n{stdout}");
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

/// The two inputs of `add_fp32`, one row of four each.
const BOTH_INPUTS: [&str; 4] = ["--input", "a:FP32:1,4", "--input", "b:FP32:1,4"];

/// Starts a server with `add_fp32` and runs `switchyard-bench --json` with
/// `args` against it, off the async runtime.
async fn bench_against_add_fp32(args: &[&str]) -> Value {
    let repo = TestRepo::with_models(&["add_fp32"]);
    let server = TestServer::start_ready(repo.path(), &[]).await;
    let url = server.grpc_url();
    let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        bench(&url, &args)
    })
    .await
    .unwrap()
}

fn count(report: &Value, field: &str) -> u64 {
    report[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} missing: {report}"))
}

#[tokio::test]
async fn closed_loop_reports_latency_and_versions() {
    let report =
        bench_against_add_fp32(&[&BOTH_INPUTS[..], &["--concurrency", "2", "--duration", "1"]].concat())
            .await;
    assert!(count(&report, "ok") > 0, "{report}");
    assert_eq!(report["errors"], serde_json::json!({}), "{report}");
    assert_eq!(count(&report, "ok"), count(&report, "requests_sent"), "{report}");
    assert_eq!(
        report["responses"]["add_fp32/1"].as_u64(),
        Some(count(&report, "ok"))
    );
    let latency = &report["latency_us"];
    let p50 = latency["p50"].as_u64().unwrap();
    let p99 = latency["p99"].as_u64().unwrap();
    assert!(
        0 < p50 && p50 <= p99 && p99 <= latency["max"].as_u64().unwrap(),
        "{report}"
    );
    assert!(report["throughput_rps"].as_f64().unwrap() > 0.0);
    assert!(report["client_cpu_percent"].as_f64().unwrap() > 0.0);
}

#[tokio::test]
async fn open_loop_sends_at_the_rate() {
    let report =
        bench_against_add_fp32(&[&BOTH_INPUTS[..], &["--rate", "200", "--duration", "1"]].concat()).await;
    let sent = count(&report, "requests_sent");
    assert!((140..=260).contains(&sent), "expected about 200 sends: {report}");
    assert_eq!(count(&report, "ok"), sent, "{report}");
    assert_eq!(report["mode"], "open");
}

#[tokio::test]
async fn bad_input_counts_invalid_argument() {
    let report = bench_against_add_fp32(&[
        "--input",
        "nope:FP32:1,4",
        "--input",
        "b:FP32:1,4",
        "--duration",
        "0.5",
    ])
    .await;
    assert_eq!(count(&report, "ok"), 0, "{report}");
    assert!(
        report["errors"]["INVALID_ARGUMENT"].as_u64().unwrap_or(0) > 0,
        "{report}"
    );
    assert!(report["latency_us"].is_null(), "{report}");
}

#[tokio::test]
async fn inputs_come_from_metadata_when_not_given() {
    let report = bench_against_add_fp32(&["--duration", "0.3", "--batch-size", "3"]).await;
    assert!(count(&report, "ok") > 0, "{report}");
    assert_eq!(report["errors"], serde_json::json!({}), "{report}");
}

#[test]
fn unreachable_server_exits_non_zero_with_a_message() {
    let output = Command::new(env!("CARGO_BIN_EXE_switchyard-bench"))
        .args(["--url", "http://127.0.0.1:1", "-m", "add_fp32", "--duration", "1"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot connect to http://127.0.0.1:1"),
        "{stderr}"
    );
}
