//! `--idle-spin-us`: session threads that poll for the next request before
//! sleeping answer exactly like threads that always sleep, for a lone
//! sequential client (where they poll) and for concurrent ones (where they
//! do not), with and without dynamic batching, and still shut down promptly.

mod common;

use std::time::Duration;

use common::*;

const BATCHED: &str =
    "max_batch_size: 8\ndynamic_batching: {max_queue_delay_us: 200, preferred_batch_size: [4]}\n";

fn request(model: &str, seed: u32) -> switchyard::proto::inference::ModelInferRequest {
    let values: Vec<f32> = (0..64u32)
        .map(|i| ((i.wrapping_mul(2_654_435_761) ^ seed.wrapping_mul(40_503)) % 2000) as f32 / 1000.0 - 1.0)
        .collect();
    raw_request(model, vec![(input("x", "FP32", &[1, 64]), f32_bytes(&values))])
}

/// Answers of `model` to seeds 0..40: the first 20 one at a time, the rest
/// eight at a time.
async fn answers(server: &TestServer, model: &str) -> Vec<bytes::Bytes> {
    let mut client = server.client().await;
    let mut answers = Vec::new();
    for seed in 0..20 {
        let response = client
            .model_infer(request(model, seed))
            .await
            .unwrap()
            .into_inner();
        answers.push(response.raw_output_contents[0].clone());
    }
    let concurrent = (20..40u32).map(|seed| {
        let mut client = client.clone();
        async move {
            let response = client
                .model_infer(request(model, seed))
                .await
                .unwrap()
                .into_inner();
            response.raw_output_contents[0].clone()
        }
    });
    answers.extend(futures::future::join_all(concurrent).await);
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_and_sleeping_session_threads_answer_alike() {
    let repo = TestRepo::new();
    repo.add_version("mlp_small", "plain", 1);
    repo.add_version("mlp_small", "batched", 1);
    repo.write_config("batched", BATCHED);
    // A window far longer than the gap between requests: every sequential
    // request is picked up by a polling thread.
    let mut spinning = TestServer::start_ready(repo.path(), &["--idle-spin-us", "2000000"]).await;
    let sleeping = TestServer::start_ready(repo.path(), &["--idle-spin-us", "0"]).await;
    for model in ["plain", "batched"] {
        let polled = answers(&spinning, model).await;
        let parked = answers(&sleeping, model).await;
        assert_eq!(polled.len(), 40);
        assert_eq!(polled, parked, "{model}: answers differ between waiting policies");
    }
    // A thread still polling when the server stops must not hold it up.
    let status = spinning.terminate(Duration::from_secs(10));
    assert!(status.success(), "spinning server exited with {status}");
}
