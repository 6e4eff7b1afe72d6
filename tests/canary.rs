//! Weighted canary routing with sticky A/B, driven by a live routes file.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use switchyard::proto::inference::ModelInferRequest;
use tonic::Code;

/// Model `m`: version 1 answers y = x, version 2 answers y = 2x.
fn canary_repo() -> TestRepo {
    let repo = TestRepo::new();
    repo.add_version("identity_fp32", "m", 1);
    repo.add_version("scale_fp32", "m", 2);
    repo
}

/// The labels of route `r`'s canary target, version 2 of `m`.
fn canary_target() -> [(&'static str, &'static str); 3] {
    [("route", "r"), ("model", "m"), ("version", "2")]
}

fn routes(stable: u32, canary: u32) -> String {
    format!(
        "routes:\n  r:\n    targets:\n      - {{model: m, version: 1, weight: {stable}}}\n      \
         - {{model: m, version: 2, weight: {canary}}}\n    sticky_header: x-user-id\n"
    )
}

/// Writes a file atomically, as editors and ConfigMap updates do.
fn write_atomically(path: &Path, text: &str) {
    let staged = path.with_file_name(".routes.staged");
    std::fs::write(&staged, text).unwrap();
    std::fs::rename(&staged, path).unwrap();
}

fn request(model: &str) -> ModelInferRequest {
    raw_request(
        model,
        vec![(input("x", "FP32", &[1, 4]), f32_bytes(&[1.0, 2.0, 3.0, 4.0]))],
    )
}

fn sticky(user: &str) -> tonic::Request<ModelInferRequest> {
    let mut request = tonic::Request::new(request("r"));
    request.metadata_mut().insert("x-user-id", user.parse().unwrap());
    request
}

/// Sends `count` requests to route `r` from 8 concurrent clients; returns
/// answers per version and the failures.
async fn split(server: &TestServer, count: usize) -> (BTreeMap<String, usize>, Vec<String>) {
    let client = server.client().await;
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let mut client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut versions = BTreeMap::new();
            let mut failures = Vec::new();
            for _ in (worker..count).step_by(8) {
                match client.model_infer(request("r")).await {
                    Ok(response) => {
                        let response = response.into_inner();
                        let y = f32_values(&response.raw_output_contents[0]);
                        // The version that answered is the one the response names.
                        let expected = if response.model_version == "1" { 1.0 } else { 2.0 };
                        assert_eq!(
                            y[0], expected,
                            "answer does not match version {}",
                            response.model_version
                        );
                        assert_eq!(response.model_name, "m");
                        *versions.entry(response.model_version).or_insert(0) += 1;
                    }
                    Err(status) => failures.push(format!("{:?} {}", status.code(), status.message())),
                }
            }
            (versions, failures)
        }));
    }
    let mut versions = BTreeMap::new();
    let mut failures = Vec::new();
    for task in tasks {
        let (v, f) = task.await.unwrap();
        for (version, n) in v {
            *versions.entry(version).or_insert(0) += n;
        }
        failures.extend(f);
    }
    (versions, failures)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_follows_weights_and_edits_apply_within_two_seconds() {
    let repo = canary_repo();
    let routes_path = repo.path().join("routes.yaml");
    std::fs::write(&routes_path, routes(90, 10)).unwrap();
    let server = TestServer::start_ready(repo.path(), &[]).await;

    let (versions, failures) = split(&server, 3000).await;
    assert!(failures.is_empty(), "{failures:?}");
    let canary = versions.get("2").copied().unwrap_or(0);
    // Binomial(3000, 0.1): mean 300, sd 16.4; allow 4.5 sd.
    assert!(
        (226..=374).contains(&canary),
        "canary share {canary}/3000, {versions:?}"
    );
    eprintln!("measured split at 90/10 over 3000 requests: {versions:?}");

    let metrics = server.scrape().await;
    assert_eq!(
        metrics.value("switchyard_route_weight", &canary_target()),
        Some(10.0),
        "{metrics}"
    );
    let canary_ok = [canary_target().as_slice(), &[("code", "OK")]].concat();
    assert!(
        metrics
            .value("switchyard_requests_total", &canary_ok)
            .is_some_and(|n| n > 0.0),
        "{metrics}"
    );

    // Edit the weights under load: everything to the canary.
    let mut client = server.client().await;
    let load = tokio::spawn({
        let server_url = server.grpc_url();
        async move {
            let channel = tonic::transport::Channel::from_shared(server_url)
                .unwrap()
                .connect()
                .await
                .unwrap();
            let mut client =
                switchyard::proto::inference::grpc_inference_service_client::GrpcInferenceServiceClient::new(
                    channel,
                );
            let mut failures = 0;
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(3) {
                failures += usize::from(client.model_infer(request("r")).await.is_err());
            }
            failures
        }
    });
    let edited = Instant::now();
    write_atomically(&routes_path, &routes(0, 100));
    let mut streak = 0;
    while streak < 50 {
        let response = client.model_infer(request("r")).await.unwrap().into_inner();
        streak = if response.model_version == "2" {
            streak + 1
        } else {
            0
        };
        assert!(
            edited.elapsed() < Duration::from_secs(5),
            "weight edit not applied"
        );
    }
    let took = edited.elapsed();
    eprintln!("weight edit visible after {took:?}");
    assert!(took < Duration::from_secs(2), "weight edit took {took:?}");
    assert_eq!(load.await.unwrap(), 0, "requests failed during the edit");
}

#[tokio::test]
async fn sticky_users_stay_and_only_users_moving_to_the_canary_change() {
    let repo = canary_repo();
    let routes_path = repo.path().join("routes.yaml");
    std::fs::write(&routes_path, routes(90, 10)).unwrap();
    let server = TestServer::start_ready(repo.path(), &[]).await;
    let mut client = server.client().await;
    let users: Vec<String> = (0..300).map(|i| format!("user-{i}")).collect();

    let mut before = BTreeMap::new();
    for round in 0..3 {
        for user in &users {
            let version = client
                .model_infer(sticky(user))
                .await
                .unwrap()
                .into_inner()
                .model_version;
            if round == 0 {
                before.insert(user.clone(), version);
            } else {
                assert_eq!(
                    before[user], version,
                    "{user} changed target while weights were unchanged"
                );
            }
        }
    }

    write_atomically(&routes_path, &routes(80, 20));
    // Wait for the new weights (the gauge is set when the routes are in force).
    let started = Instant::now();
    while server
        .scrape()
        .await
        .value("switchyard_route_weight", &canary_target())
        != Some(20.0)
    {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "new weights never applied"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut moved = 0;
    for user in &users {
        let version = client
            .model_infer(sticky(user))
            .await
            .unwrap()
            .into_inner()
            .model_version;
        if version != before[user] {
            assert_eq!(
                (before[user].as_str(), version.as_str()),
                ("1", "2"),
                "{user} moved the wrong way"
            );
            moved += 1;
        }
    }
    assert!(
        moved > 0,
        "raising the canary weight should move some users to it"
    );
    eprintln!("sticky: {moved}/300 users moved to the canary when 10 -> 20");
}

#[tokio::test]
async fn invalid_routes_file_keeps_the_previous_routes() {
    let repo = canary_repo();
    let routes_path = repo.path().join("routes.yaml");
    std::fs::write(&routes_path, routes(0, 100)).unwrap();
    let server = TestServer::start_ready(repo.path(), &[]).await;
    let mut client = server.client().await;
    assert_eq!(
        client
            .model_infer(request("r"))
            .await
            .unwrap()
            .into_inner()
            .model_version,
        "2"
    );

    // Unknown key, unknown model: rejected as a whole.
    write_atomically(
        &routes_path,
        "routes:\n  r:\n    targets: [{model: m, version: 1, weight: 1}]\n    stickyy: x\n",
    );
    write_atomically(
        &routes_path,
        "routes:\n  r:\n    targets: [{model: m, version: 1, weight: 1}, {model: ghost, weight: 1}]\n",
    );
    let file = routes_path.display().to_string();
    let rejected = [("file", file.as_str()), ("outcome", "failure")];
    let started = Instant::now();
    while server
        .scrape()
        .await
        .value("switchyard_config_reloads_total", &rejected)
        .is_none()
    {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "rejection never counted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let log = server
        .wait_for_log(Duration::from_secs(5), |e| {
            e["message"] == "routes file rejected; the previous routes stay in force"
        })
        .await;
    assert!(log["error"].as_str().unwrap().contains("ghost"), "{log}");
    for _ in 0..20 {
        assert_eq!(
            client
                .model_infer(request("r"))
                .await
                .unwrap()
                .into_inner()
                .model_version,
            "2"
        );
    }
}

#[tokio::test]
async fn corrupt_canary_sends_everything_to_stable() {
    let repo = TestRepo::new();
    repo.add_version("identity_fp32", "m", 1);
    repo.add_version("corrupt", "m", 2);
    std::fs::write(repo.path().join("routes.yaml"), routes(50, 50)).unwrap();
    let server = TestServer::start_ready(repo.path(), &[]).await;
    let (versions, failures) = split(&server, 400).await;
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(versions, BTreeMap::from([("1".to_string(), 400)]));
}

#[tokio::test]
async fn explicit_version_bypasses_the_route_and_no_ready_target_is_unavailable() {
    let repo = TestRepo::new();
    repo.add_version("identity_fp32", "m", 1);
    repo.add_version("scale_fp32", "m", 2);
    repo.add_version("corrupt", "broken", 1);
    let text = "routes:\n  m:\n    targets: [{model: m, version: 1, weight: 1}]\n  \
                dead:\n    targets: [{model: broken, weight: 1}]\n";
    std::fs::write(repo.path().join("routes.yaml"), text).unwrap();
    // A route without a ready target keeps the server unready; serve anyway.
    let server = TestServer::start(repo.path(), &[]);
    server
        .wait_for_log(Duration::from_secs(10), |e| {
            e["message"] == "initial repository load done"
        })
        .await;
    let mut client = server.client().await;
    // Route `m` shadows model `m` unless a version is named.
    assert_eq!(
        client
            .model_infer(request("m"))
            .await
            .unwrap()
            .into_inner()
            .model_version,
        "1"
    );
    let mut explicit = request("m");
    explicit.model_version = "2".into();
    assert_eq!(
        client
            .model_infer(explicit)
            .await
            .unwrap()
            .into_inner()
            .model_version,
        "2"
    );
    let status = client.model_infer(request("dead")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{}", status.message());
    let ready = client
        .server_ready(switchyard::proto::inference::ServerReadyRequest {})
        .await
        .unwrap();
    assert!(
        !ready.into_inner().ready,
        "a route without a ready target makes the server unready"
    );
}

#[tokio::test]
async fn configmap_symlink_swap_is_picked_up() {
    let repo = canary_repo();
    // The routes file lives outside the repository, mounted like a ConfigMap:
    // routes.yaml -> ..data/routes.yaml, ..data -> ..<timestamp>.
    let mount = tempfile::tempdir().unwrap();
    let first = mount.path().join("..2026_11_29_01");
    std::fs::create_dir(&first).unwrap();
    std::fs::write(first.join("routes.yaml"), routes(100, 0)).unwrap();
    std::os::unix::fs::symlink("..2026_11_29_01", mount.path().join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/routes.yaml", mount.path().join("routes.yaml")).unwrap();
    let routes_arg = mount.path().join("routes.yaml");
    let server = TestServer::start_ready(repo.path(), &["--routes", routes_arg.to_str().unwrap()]).await;
    let mut client = server.client().await;
    assert_eq!(
        client
            .model_infer(request("r"))
            .await
            .unwrap()
            .into_inner()
            .model_version,
        "1"
    );

    // kubelet's update: write a new timestamped dir, point ..data_tmp at it, rename over ..data.
    let second = mount.path().join("..2026_11_29_02");
    std::fs::create_dir(&second).unwrap();
    std::fs::write(second.join("routes.yaml"), routes(0, 100)).unwrap();
    std::os::unix::fs::symlink("..2026_11_29_02", mount.path().join("..data_tmp")).unwrap();
    let swapped = Instant::now();
    std::fs::rename(mount.path().join("..data_tmp"), mount.path().join("..data")).unwrap();
    std::fs::remove_dir_all(&first).unwrap();
    loop {
        if client
            .model_infer(request("r"))
            .await
            .unwrap()
            .into_inner()
            .model_version
            == "2"
        {
            break;
        }
        assert!(
            swapped.elapsed() < Duration::from_secs(5),
            "ConfigMap swap not picked up"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    eprintln!("ConfigMap swap visible after {:?}", swapped.elapsed());
}
