//! Dynamic batching: concurrent requests are merged into one run and the
//! answers are bit-for-bit those of unbatched runs.

mod common;

use common::*;
use tonic::Code;

const BATCHED: &str =
    "max_batch_size: 32\ndynamic_batching: {max_queue_delay_us: 20000, preferred_batch_size: [16]}\n";

fn mlp_request(model: &str, seed: u32, rows: i64) -> switchyard::proto::inference::ModelInferRequest {
    // Deterministic, distinct inputs per request.
    let values: Vec<f32> = (0..rows as u32 * 64)
        .map(|i| ((i.wrapping_mul(2_654_435_761) ^ seed.wrapping_mul(40_503)) % 2000) as f32 / 1000.0 - 1.0)
        .collect();
    raw_request(model, vec![(input("x", "FP32", &[rows, 64]), f32_bytes(&values))])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_answers_equal_unbatched_bit_for_bit() {
    let repo = TestRepo::new();
    repo.add_version("mlp_small", "batched", 1);
    repo.write_config("batched", BATCHED);
    repo.add_version("mlp_small", "plain", 1);
    let server = TestServer::start_ready(repo.path(), &[]).await;
    let client = server.client().await;

    let run_all = |model: &'static str| {
        let client = client.clone();
        async move {
            let calls = (0..48u32).map(|seed| {
                let mut client = client.clone();
                async move {
                    let rows = i64::from(seed % 3 + 1);
                    let response = client
                        .model_infer(mlp_request(model, seed, rows))
                        .await
                        .unwrap()
                        .into_inner();
                    assert_eq!(response.outputs[0].shape, vec![rows, 10]);
                    response.raw_output_contents[0].clone()
                }
            });
            futures::future::join_all(calls).await
        }
    };
    let batched = run_all("batched").await;
    let plain = run_all("plain").await;
    for (seed, (b, p)) in batched.iter().zip(&plain).enumerate() {
        assert_eq!(
            b, p,
            "request {seed}: batched answer differs from the unbatched one"
        );
    }

    // Batching really happened: fewer runs than requests.
    let count = server
        .scrape()
        .await
        .value(
            "switchyard_batch_size_count",
            &[("model", "batched"), ("version", "1")],
        )
        .expect("batch size histogram");
    assert!(
        count < 48.0,
        "48 concurrent requests ran in {count} runs: nothing was merged"
    );
    eprintln!("48 concurrent requests ran as {count} batched runs");
}

#[tokio::test]
async fn batches_respect_max_batch_size() {
    let repo = TestRepo::new();
    repo.add_version("mlp_small", "batched", 1);
    repo.write_config("batched", BATCHED);
    let server = TestServer::start_ready(repo.path(), &[]).await;
    let mut client = server.client().await;
    let status = client
        .model_infer(mlp_request("batched", 1, 33))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("max_batch_size"),
        "{}",
        status.message()
    );
    let ok = client
        .model_infer(mlp_request("batched", 1, 32))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ok.outputs[0].shape, vec![32, 10]);
}
