//! The binary's command line: ONNX Runtime lookup errors, `check`, and
//! graceful shutdown on SIGTERM.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;

fn switchyard() -> Command {
    Command::new(env!("CARGO_BIN_EXE_switchyard"))
}

#[test]
fn missing_onnx_runtime_is_one_line_and_exit_2() {
    let repo = TestRepo::with_models(&["add_fp32"]);
    let explicit = serve_command(Path::new(env!("CARGO_BIN_EXE_switchyard")), repo.path())
        .arg("--ort-lib")
        .arg(repo.path().join("libonnxruntime.so"))
        .output()
        .unwrap();
    let env = switchyard()
        .args(["check", "--model-repo"])
        .arg(repo.path())
        .env("ORT_DYLIB_PATH", repo.path().join("add_fp32/1/model.onnx"))
        .output()
        .unwrap();
    for output in [explicit, env] {
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "one line expected: {stderr}"
        );
        assert!(stderr.contains("scripts/install-ort.sh"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn check_lists_models_and_fails_on_every_problem() {
    let good = TestRepo::with_models(&["add_fp32", "int64_ops"]);
    let output = switchyard()
        .args(["check", "--model-repo"])
        .arg(good.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("model add_fp32") && stdout.contains("version 1: ready"),
        "{stdout}"
    );

    let bad = TestRepo::with_models(&["add_fp32", "corrupt"]);
    bad.add_fixture("int64_ops", "misconfigured");
    bad.write_config("misconfigured", "instances: 1\nthreads: 4\n");
    std::fs::create_dir_all(bad.path().join("add_fp32/notes")).unwrap();
    let output = switchyard()
        .args(["check", "--model-repo"])
        .arg(bad.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("error: model corrupt version 1"), "{stdout}");
    assert!(
        stdout.contains("error: model misconfigured version 1: invalid config.yaml"),
        "{stdout}"
    );
    assert!(stdout.contains("threads"), "unknown key named: {stdout}");
    assert!(
        stdout.contains("warning:") && stdout.contains("notes"),
        "{stdout}"
    );
}

#[tokio::test]
async fn sigterm_drains_in_flight_requests_and_exits_zero() {
    let repo = TestRepo::with_models(&["mlp_small"]);
    let mut server = TestServer::start_ready(repo.path(), &["--shutdown-grace", "20"]).await;
    let mut client = server.client().await;
    let values = vec![0.25f32; 16384 * 64];
    let request = raw_request(
        "mlp_small",
        vec![(input("x", "FP32", &[16384, 64]), f32_bytes(&values))],
    );
    let in_flight = tokio::spawn(async move { client.model_infer(request).await });
    // Shut down only once the server holds the request.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server.scrape().await.value("switchyard_inflight_requests", &[]) != Some(1.0) {
        assert!(std::time::Instant::now() < deadline, "request never arrived");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let status = tokio::task::spawn_blocking(move || {
        let status = server.terminate(Duration::from_secs(30));
        (status, server.logs())
    });
    let response = in_flight.await.unwrap().expect("the in-flight request completes");
    assert_eq!(response.into_inner().outputs[0].shape, vec![16384, 10]);
    let (status, logs) = status.await.unwrap();
    assert!(status.success(), "exit status {status:?}");
    let logs = logs.join("\n");
    assert!(
        logs.contains("shutdown requested") && logs.contains("drained"),
        "{logs}"
    );
}
