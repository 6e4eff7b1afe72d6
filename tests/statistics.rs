//! Triton's ModelStatistics over gRPC, on the real binary: counts follow
//! what was sent, batched runs count once per execution, failures count as
//! `fail`, and unknown names are NOT_FOUND.

mod common;

use common::*;
use switchyard::proto::inference::{
    InferStatistics, ModelStatistics, ModelStatisticsRequest, StatisticDuration,
};
use tonic::Code;

async fn statistics(
    client: &mut Client,
    name: &str,
    version: &str,
) -> Result<Vec<ModelStatistics>, tonic::Status> {
    let request = ModelStatisticsRequest {
        name: name.into(),
        version: version.into(),
    };
    Ok(client.model_statistics(request).await?.into_inner().model_stats)
}

fn duration(
    stats: &ModelStatistics,
    pick: impl Fn(&InferStatistics) -> Option<&StatisticDuration>,
) -> (u64, u64) {
    let inference = stats.inference_stats.as_ref().expect("inference_stats");
    pick(inference).map_or((0, 0), |d| (d.count, d.ns))
}

#[tokio::test]
async fn counts_follow_the_requests_sent() {
    let repo = TestRepo::with_models(&["add_fp32"]);
    let server = TestServer::start_ready(repo.path(), &[]).await;
    let mut client = server.client().await;
    let before = statistics(&mut client, "add_fp32", "").await.unwrap();
    assert_eq!(before.len(), 1);
    assert_eq!((before[0].execution_count, before[0].last_inference), (0, 0));

    for i in 0..5 {
        client.model_infer(add_request(&[i as f32; 4])).await.unwrap();
    }
    let mut bad = add_request(&[1.0; 4]);
    bad.inputs[0].shape = vec![1, 5];
    assert_eq!(
        client.model_infer(bad).await.unwrap_err().code(),
        Code::InvalidArgument
    );

    let stats = &statistics(&mut client, "add_fp32", "1").await.unwrap()[0];
    assert_eq!((stats.name.as_str(), stats.version.as_str()), ("add_fp32", "1"));
    assert_eq!(stats.execution_count, 5);
    assert_eq!(
        stats.inference_count, 5,
        "no batch dimension: one inference per request"
    );
    assert!(stats.last_inference > 1_700_000_000_000, "ms since the epoch");
    let (success, success_ns) = duration(stats, |s| s.success.as_ref());
    assert_eq!(success, 5);
    assert!(success_ns > 0);
    assert_eq!(
        duration(stats, |s| s.fail.as_ref()).0,
        1,
        "the invalid request failed"
    );
    assert_eq!(duration(stats, |s| s.queue.as_ref()).0, 5);
    for phase in [
        duration(stats, |s| s.compute_input.as_ref()),
        duration(stats, |s| s.compute_infer.as_ref()),
        duration(stats, |s| s.compute_output.as_ref()),
    ] {
        assert_eq!(phase.0, 5);
        assert!(phase.1 > 0);
    }
    let sizes: Vec<(u64, u64)> = stats
        .batch_stats
        .iter()
        .map(|b| (b.batch_size, b.compute_infer.as_ref().map_or(0, |d| d.count)))
        .collect();
    assert_eq!(sizes, vec![(1, 5)]);
}

#[tokio::test]
async fn every_version_and_unknown_names() {
    let repo = TestRepo::with_models(&["add_fp32", "identity_fp32"]);
    let server = TestServer::start_ready(repo.path(), &[]).await;
    let mut client = server.client().await;
    let all = statistics(&mut client, "", "").await.unwrap();
    let mut names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, vec!["add_fp32", "identity_fp32"]);
    let missing = statistics(&mut client, "no_such_model", "").await.unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let missing = statistics(&mut client, "add_fp32", "9").await.unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
}

#[tokio::test]
async fn switched_off_statistics_stay_at_zero() {
    let repo = TestRepo::with_models(&["add_fp32"]);
    let server = TestServer::start_ready(repo.path(), &["--statistics", "false"]).await;
    let mut client = server.client().await;
    client.model_infer(add_request(&[1.0; 4])).await.unwrap();
    let stats = &statistics(&mut client, "add_fp32", "").await.unwrap()[0];
    assert_eq!(
        (stats.execution_count, duration(stats, |s| s.success.as_ref()).0),
        (0, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merged_batch_is_one_execution_of_many_inferences() {
    let repo = TestRepo::new();
    repo.add_version("mlp_small", "batched", 1);
    // A long delay, so that concurrent requests always meet in one batch.
    repo.write_config(
        "batched",
        "max_batch_size: 32\ndynamic_batching: {max_queue_delay_us: 200000, preferred_batch_size: [8]}\n",
    );
    let server = TestServer::start_ready(repo.path(), &[]).await;
    let client = server.client().await;
    let calls = (0..8).map(|_| {
        let mut client = client.clone();
        async move {
            let request = raw_request(
                "batched",
                vec![(input("x", "FP32", &[2, 64]), f32_bytes(&[0.5; 128]))],
            );
            client.model_infer(request).await.unwrap();
        }
    });
    futures::future::join_all(calls).await;
    let stats = &statistics(&mut client.clone(), "batched", "1").await.unwrap()[0];
    assert_eq!(stats.inference_count, 16, "rows");
    assert!(
        stats.execution_count < 8,
        "{} runs for 8 requests",
        stats.execution_count
    );
    assert_eq!(
        duration(stats, |s| s.compute_infer.as_ref()).0,
        8,
        "charged per request"
    );
    let runs: u64 = stats
        .batch_stats
        .iter()
        .map(|b| b.compute_infer.as_ref().map_or(0, |d| d.count))
        .sum();
    assert_eq!(runs, stats.execution_count);
    assert!(
        stats.batch_stats.iter().any(|b| b.batch_size > 2),
        "{:?}",
        stats.batch_stats
    );
}
