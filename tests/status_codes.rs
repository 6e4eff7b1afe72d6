//! One test per row of the contract's status table, against the real binary.

mod common;

use common::*;
use tonic::Code;

async fn server(repo: &TestRepo) -> TestServer {
    TestServer::start_ready(repo.path(), &[]).await
}

fn assert_status(
    result: Result<tonic::Response<impl std::fmt::Debug>, tonic::Status>,
    code: Code,
    needles: &[&str],
) {
    let status = result.expect_err("expected an error status");
    assert_eq!(status.code(), code, "message: {}", status.message());
    for needle in needles {
        assert!(
            status.message().contains(needle),
            "'{needle}' not in '{}'",
            status.message()
        );
    }
}

#[tokio::test]
async fn unknown_model_is_not_found() {
    let repo = TestRepo::with_models(&["add_fp32"]);
    let server = server(&repo).await;
    let mut request = add_request(&[0.0; 4]);
    request.model_name = "no_such_model".into();
    assert_status(
        server.client().await.model_infer(request).await,
        Code::NotFound,
        &["no_such_model"],
    );
    let mut request = add_request(&[0.0; 4]);
    request.model_version = "9".into();
    assert_status(
        server.client().await.model_infer(request).await,
        Code::NotFound,
        &["9"],
    );
}

#[tokio::test]
async fn model_without_ready_version_is_unavailable() {
    let repo = TestRepo::with_models(&["add_fp32", "corrupt"]);
    let server = server(&repo).await;
    let mut request = add_request(&[0.0; 4]);
    request.model_name = "corrupt".into();
    assert_status(
        server.client().await.model_infer(request).await,
        Code::Unavailable,
        &["corrupt"],
    );
}

#[tokio::test]
async fn malformed_inputs_are_invalid_argument_naming_the_input() {
    let repo = TestRepo::with_models(&["add_fp32"]);
    repo.write_config("add_fp32", "max_batch_size: 2\n");
    let server = server(&repo).await;
    let mut client = server.client().await;
    let four = f32_bytes(&[1.0; 4]);

    // missing input
    let request = raw_request("add_fp32", vec![(input("a", "FP32", &[1, 4]), four.clone())]);
    assert_status(
        client.model_infer(request).await,
        Code::InvalidArgument,
        &["missing input 'b'", "FP32", "[-1, 4]"],
    );

    // unknown input
    let mut request = add_request(&[1.0; 4]);
    request.inputs.push(input("c", "FP32", &[1, 4]));
    request.raw_input_contents.push(four.clone().into());
    assert_status(
        client.model_infer(request).await,
        Code::InvalidArgument,
        &["unknown input 'c'"],
    );

    // wrong datatype
    let mut request = add_request(&[1.0; 4]);
    request.inputs[1].datatype = "INT32".into();
    assert_status(
        client.model_infer(request).await,
        Code::InvalidArgument,
        &["'b'", "expected datatype FP32, got INT32"],
    );

    // wrong shape
    let request = raw_request(
        "add_fp32",
        vec![
            (input("a", "FP32", &[2, 2]), four.clone()),
            (input("b", "FP32", &[1, 4]), four.clone()),
        ],
    );
    assert_status(
        client.model_infer(request).await,
        Code::InvalidArgument,
        &["'a'", "expected shape [-1, 4]", "got [2, 2]"],
    );

    // byte count differs from shape x element size
    let mut request = add_request(&[1.0; 4]);
    request.raw_input_contents[0] = f32_bytes(&[1.0; 3]).into();
    assert_status(
        client.model_infer(request).await,
        Code::InvalidArgument,
        &["'a'", "expected 16 bytes", "got 12 bytes"],
    );

    // a huge claimed shape with a few bytes allocates nothing and is refused
    let mut request = add_request(&[1.0; 4]);
    request.inputs[0].shape = vec![1 << 40, 4];
    assert_status(client.model_infer(request).await, Code::InvalidArgument, &["'a'"]);

    // batch over max_batch_size
    let request = add_request(&[1.0; 12]);
    assert_status(
        client.model_infer(request).await,
        Code::InvalidArgument,
        &["'a'", "max_batch_size", "got 3"],
    );

    // the server still answers a correct request correctly afterwards
    let response = client
        .model_infer(add_request(&[1.0, 2.0, 3.0, 4.0]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        f32_values(&response.raw_output_contents[0]),
        vec![2.0, 3.0, 4.0, 5.0]
    );
}

/// A request to `mlp_small` with `rows` rows: big enough to keep a session busy.
fn heavy_request(rows: i64) -> switchyard::proto::inference::ModelInferRequest {
    let values = vec![0.5f32; rows as usize * 64];
    raw_request(
        "mlp_small",
        vec![(input("x", "FP32", &[rows, 64]), f32_bytes(&values))],
    )
}

#[tokio::test]
async fn full_queue_is_resource_exhausted() {
    let repo = TestRepo::with_models(&["mlp_small"]);
    repo.write_config("mlp_small", "max_queue_size: 1\n");
    let server = server(&repo).await;
    let client = server.client().await;
    let calls = (0..24).map(|_| {
        let mut client = client.clone();
        async move { client.model_infer(heavy_request(4096)).await.map(|_| ()) }
    });
    let results = futures::future::join_all(calls).await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let shed: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(ok >= 1, "some requests must be served");
    assert!(
        !shed.is_empty(),
        "a queue of 1 must shed some of 24 concurrent requests"
    );
    for status in shed {
        assert_eq!(status.code(), Code::ResourceExhausted, "{}", status.message());
        assert!(status.message().contains("queue is full"), "{}", status.message());
    }
}

#[tokio::test]
async fn passed_deadline_is_deadline_exceeded() {
    let repo = TestRepo::with_models(&["mlp_small"]);
    let server = server(&repo).await;
    // Keep the only session busy (own connection), wait until the server has
    // it in flight, then send a request that cannot wait that long.
    let mut busy_client = server.client().await;
    let busy = tokio::spawn(async move { busy_client.model_infer(heavy_request(16384)).await });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while server.scrape().await.value("switchyard_inflight_requests", &[]) != Some(1.0) {
        assert!(std::time::Instant::now() < deadline, "busy request never arrived");
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let mut late = tonic::Request::new(heavy_request(1));
    late.metadata_mut().insert("grpc-timeout", "50m".parse().unwrap());
    let status = server
        .client()
        .await
        .model_infer(late)
        .await
        .expect_err("the late request must fail");
    // The client enforces its own deadline too and may report it first (tonic
    // says CANCELLED "Timeout expired"); the server's answer is in its metrics.
    assert!(
        status.code() == Code::DeadlineExceeded || status.message().contains("Timeout expired"),
        "{status:?}"
    );
    busy.await.unwrap().expect("the busy request itself succeeds");
    let metrics = server.scrape().await;
    let late = [
        ("route", ""),
        ("model", "mlp_small"),
        ("version", "1"),
        ("code", "DEADLINE_EXCEEDED"),
    ];
    assert_eq!(
        metrics.value("switchyard_requests_total", &late),
        Some(1.0),
        "{metrics}"
    );
}

#[tokio::test]
async fn runtime_failure_is_internal_with_onnx_runtime_message() {
    let repo = TestRepo::with_models(&["runtime_error"]);
    repo.write_config("runtime_error", "warmup: false\n");
    let server = server(&repo).await;
    let mut client = server.client().await;
    let request = raw_request(
        "runtime_error",
        vec![(input("x", "FP32", &[5]), f32_bytes(&[1.0; 5]))],
    );
    assert_status(
        client.model_infer(request).await,
        Code::Internal,
        &["onnx runtime failed"],
    );
    // Six elements reshape fine: the session survived the failure.
    let request = raw_request(
        "runtime_error",
        vec![(input("x", "FP32", &[6]), f32_bytes(&[1.0; 6]))],
    );
    let response = client.model_infer(request).await.unwrap().into_inner();
    assert_eq!(response.outputs[0].shape, vec![2, 3]);
}

#[tokio::test]
async fn server_wide_concurrency_limit_sheds_at_once() {
    let repo = TestRepo::with_models(&["mlp_small"]);
    repo.write_config("mlp_small", "instances: 1\nmax_queue_size: 64\n");
    let server = TestServer::start_ready(repo.path(), &["--max-concurrent-requests", "2"]).await;
    let client = server.client().await;
    let calls = (0..16).map(|_| {
        let mut client = client.clone();
        async move {
            let started = std::time::Instant::now();
            (
                client.model_infer(heavy_request(2048)).await.map(|_| ()),
                started.elapsed(),
            )
        }
    });
    let results = futures::future::join_all(calls).await;
    let ok = results.iter().filter(|(r, _)| r.is_ok()).count();
    let shed: Vec<_> = results
        .iter()
        .filter_map(|(r, took)| r.as_ref().err().map(|e| (e, took)))
        .collect();
    assert!(ok >= 2, "the first requests are served");
    assert!(
        !shed.is_empty(),
        "a limit of 2 must shed some of 16 concurrent requests"
    );
    for (status, _) in &shed {
        assert_eq!(status.code(), Code::ResourceExhausted, "{}", status.message());
        assert!(
            status.message().contains("concurrency limit"),
            "{}",
            status.message()
        );
    }
}
