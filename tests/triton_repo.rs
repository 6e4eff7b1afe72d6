//! Triton model repositories served unchanged: `config.pbtxt` read in place
//! of `config.yaml`, what Switchyard refuses named by `check`, fields it does
//! not honour listed, `config.yaml` winning over `config.pbtxt`, and a broken
//! `config.pbtxt` edit keeping the previous settings.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::*;
use switchyard::proto::inference::model_config::SchedulingChoice;
use switchyard::proto::inference::model_instance_group::Kind;
use switchyard::proto::inference::{ModelConfig, ModelConfigRequest, ModelReadyRequest};

const STEP_TIMEOUT: Duration = Duration::from_secs(15);

/// The sample Triton repository.
fn triton_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/triton_repo")
}

/// A temporary copy of the sample Triton repository.
fn triton_repo() -> TestRepo {
    let repo = TestRepo::new();
    copy_dir(&triton_fixture(), repo.path());
    repo
}

/// Adds `add_fp32` as model `name` with the given `config.pbtxt`.
fn add_pbtxt_model(repo: &TestRepo, name: &str, pbtxt: &str) {
    repo.add_fixture("add_fp32", name);
    std::fs::write(repo.path().join(name).join("config.pbtxt"), pbtxt).unwrap();
}

fn check(repo: &Path) -> (Output, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["check", "--model-repo"])
        .arg(repo)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    (output, stdout)
}

async fn model_config(client: &mut Client, name: &str) -> ModelConfig {
    let request = ModelConfigRequest {
        name: name.into(),
        version: String::new(),
    };
    let response = client.model_config(request).await.expect("model config");
    response.into_inner().config.expect("a config")
}

fn add_inputs(model: &str, rows: i64) -> switchyard::proto::inference::ModelInferRequest {
    let a: Vec<f32> = (0..rows * 4).map(|i| i as f32).collect();
    let b = vec![0.5f32; a.len()];
    raw_request(
        model,
        vec![
            (input("a", "FP32", &[rows, 4]), f32_bytes(&a)),
            (input("b", "FP32", &[rows, 4]), f32_bytes(&b)),
        ],
    )
}

#[tokio::test]
async fn a_triton_repository_serves_unchanged() {
    let repo = triton_repo();
    // Both files: config.yaml wins.
    add_pbtxt_model(&repo, "both", "instance_group [ { count: 3 kind: KIND_CPU } ]\n");
    repo.write_config("both", "instances: 2\n");
    let server = TestServer::start_ready(repo.path(), &[]).await;
    let mut client = server.client().await;

    let response = client
        .model_infer(add_inputs("simple_add", 3))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.outputs[0].name, "sum");
    assert_eq!(response.outputs[0].shape, vec![3, 4]);
    let sums = f32_values(&response.raw_output_contents[0]);
    assert_eq!(sums[..4], [0.5, 1.5, 2.5, 3.5]);

    let config = model_config(&mut client, "simple_add").await;
    assert_eq!(config.max_batch_size, 8);
    assert_eq!(
        config.input[0].dims,
        vec![4],
        "batch dimension left out, as Triton"
    );
    assert_eq!(config.instance_group[0].count, 2);
    assert_eq!(config.instance_group[0].kind, Kind::Cpu as i32);
    let Some(SchedulingChoice::DynamicBatching(batching)) = &config.scheduling_choice else {
        panic!("dynamic batching expected: {config:?}");
    };
    assert_eq!(batching.preferred_batch_size, vec![4, 8]);
    assert_eq!(batching.max_queue_delay_microseconds, 100);
    let policy = batching.default_queue_policy.expect("queue policy");
    assert_eq!(
        (policy.max_queue_size, policy.default_timeout_microseconds),
        (64, 500_000)
    );
    assert_eq!(config.parameters["intra_op_thread_count"].string_value, "1");
    assert_eq!(config.parameters["enable_mem_arena"].string_value, "1");
    assert_eq!(
        config.optimization.and_then(|o| o.graph).map(|g| g.level),
        Some(1)
    );

    let classifier = model_config(&mut client, "classifier").await;
    assert_eq!(classifier.default_model_filename, "classifier.onnx");
    let request = raw_request(
        "classifier",
        vec![(input("x", "FP32", &[1, 4]), f32_bytes(&[1.0, 2.0, 3.0, 4.0]))],
    );
    let response = client.model_infer(request).await.unwrap().into_inner();
    assert_eq!(response.outputs[0].shape, vec![1, 3]);

    let both = model_config(&mut client, "both").await;
    assert_eq!(
        both.instance_group[0].count, 2,
        "config.yaml wins over config.pbtxt"
    );

    let warning = server
        .wait_for_log(STEP_TIMEOUT, |event| {
            event["model"] == "classifier"
                && event["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("not honoured"))
        })
        .await;
    assert!(
        warning["fields"]
            .as_str()
            .unwrap_or_default()
            .contains("response_cache"),
        "{warning}"
    );
}

#[test]
fn check_names_what_is_refused_ignored_and_shadowed() {
    let repo = triton_repo();
    add_pbtxt_model(
        &repo,
        "pipeline",
        "platform: \"ensemble\"\nensemble_scheduling { step [ { model_name: \"simple_add\" model_version: -1 } ] }\n",
    );
    add_pbtxt_model(
        &repo,
        "on_gpu",
        "instance_group [ { count: 1 kind: KIND_GPU } ]\n",
    );
    repo.add_fixture("add_fp32", "yaml_cuda");
    repo.write_config(
        "yaml_cuda",
        "execution_providers: [{name: cuda, options: {device_id: 0}}]\n",
    );
    add_pbtxt_model(&repo, "both", "instance_group [ { count: 3 } ]\n");
    repo.write_config("both", "instances: 2\n");
    let (output, stdout) = check(repo.path());
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("version 1: ready"),
        "the sample models load: {stdout}"
    );
    assert!(
        stdout.contains("error: model pipeline version 1:")
            && stdout.contains("ensemble_scheduling is not supported"),
        "{stdout}"
    );
    for model in ["on_gpu", "yaml_cuda"] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("error: model {model} version 1:")))
            .unwrap_or_else(|| panic!("no error for {model}: {stdout}"));
        assert!(
            line.contains("execution provider cuda") && line.contains("libonnxruntime"),
            "{line}"
        );
    }
    assert!(stdout.contains("config.yaml wins"), "{stdout}");
    assert!(
        stdout.contains("ignored config.pbtxt field response_cache"),
        "ignored fields listed: {stdout}"
    );
    assert!(
        stdout.contains("execution providers") && stdout.contains("CPUExecutionProvider"),
        "{stdout}"
    );
}

#[test]
fn a_declared_input_the_model_lacks_fails_the_load_naming_it() {
    let repo = TestRepo::new();
    add_pbtxt_model(
        &repo,
        "mismatched",
        "max_batch_size: 4\ninput [ { name: \"x\" data_type: TYPE_FP32 dims: [ 4 ] } ]\n",
    );
    add_pbtxt_model(
        &repo,
        "wrong_dims",
        "max_batch_size: 4\ninput [ { name: \"a\" data_type: TYPE_FP32 dims: [ 8 ] }, \
         { name: \"b\" data_type: TYPE_FP32 dims: [ 4 ] } ]\n",
    );
    let (output, stdout) = check(repo.path());
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("error: model mismatched version 1: 'x'"),
        "{stdout}"
    );
    assert!(
        stdout.contains("error: model wrong_dims version 1: 'a'"),
        "{stdout}"
    );
}

#[tokio::test]
async fn a_broken_config_pbtxt_edit_keeps_the_previous_settings() {
    let repo = triton_repo();
    let server = TestServer::start_ready(repo.path(), &[]).await;
    let mut client = server.client().await;
    let pbtxt = repo.path().join("simple_add/config.pbtxt");
    let good = std::fs::read_to_string(&pbtxt).unwrap();

    std::fs::write(&pbtxt, format!("{good}\ninstance_grup [ {{ count: 4 }} ]\n")).unwrap();
    let file = pbtxt.display().to_string();
    let rejected = [("file", file.as_str()), ("outcome", "failure")];
    wait_until(STEP_TIMEOUT, || async {
        server
            .scrape()
            .await
            .value("switchyard_config_reloads_total", &rejected)
            == Some(1.0)
            && server.logs().iter().any(|l| l.contains("invalid config.pbtxt"))
    })
    .await;
    let ready = ModelReadyRequest {
        name: "simple_add".into(),
        version: String::new(),
    };
    assert!(client.model_ready(ready).await.unwrap().into_inner().ready);
    assert_eq!(
        model_config(&mut client, "simple_add").await.instance_group[0].count,
        2
    );

    std::fs::write(&pbtxt, good.replace("count: 2", "count: 1")).unwrap();
    let accepted = [("file", file.as_str()), ("outcome", "ok")];
    wait_until(STEP_TIMEOUT, || async {
        server
            .scrape()
            .await
            .value("switchyard_config_reloads_total", &accepted)
            == Some(1.0)
    })
    .await;
    let mut client = client.clone();
    wait_until(STEP_TIMEOUT, || {
        let mut client = client.clone();
        async move { model_config(&mut client, "simple_add").await.instance_group[0].count == 1 }
    })
    .await;
    let response = client
        .model_infer(add_inputs("simple_add", 1))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.outputs[0].shape, vec![1, 4]);
}
