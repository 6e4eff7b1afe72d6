//! The engine on the fake backend: direct and routed requests, sticky
//! headers, the server-wide limit, deadlines, mirrors, and the queries.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Engine, InFlight, InferRequest, NoHeaders, RequestHeaders};
use crate::backend::fake::{FakeBackend, input_x, write_model};
use crate::error::Code;
use crate::repository::{Loader, snapshot_cell};
use crate::shadow::{Mirror, ShadowLog};
use crate::tensor::OutputTensor;

struct Headers(HashMap<&'static str, &'static str>);

impl RequestHeaders for Headers {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).copied()
    }
}

const ROUTES: &str = "\
routes:
  r:
    targets:
      - {model: m, version: 1, weight: 50}
      - {model: m, version: 2, weight: 50}
    sticky_header: x-user
    shadow: {model: m, version: 3, fraction: 1.0}
";

/// An engine over `m` versions 1..3 (y = x × version) and route `r`.
async fn engine(limit: usize, shadow_log: Option<ShadowLog>) -> (Engine, tempfile::TempDir) {
    let repo = tempfile::tempdir().unwrap();
    for version in 1..=3 {
        write_model(repo.path(), "m", version, &format!("scale {version}"));
    }
    std::fs::write(repo.path().join("m/config.yaml"), "version_policy: {all: true}\n").unwrap();
    std::fs::write(repo.path().join("routes.yaml"), ROUTES).unwrap();
    let outcome = loader(repo.path()).reload().await.unwrap();
    let (reader, mut writer) = snapshot_cell();
    writer.publish(outcome.snapshot);
    let engine = Engine::new(reader, Mirror::start(shadow_log), InFlight::new(limit));
    (engine, repo)
}

fn loader(root: &Path) -> Loader {
    Loader::new(Arc::new(FakeBackend::default()), root.to_path_buf(), None)
}

fn request(model: &str, version: &str) -> InferRequest {
    InferRequest {
        model_name: model.into(),
        model_version: version.into(),
        inputs: vec![input_x(&[1.0, 2.0])],
        ..Default::default()
    }
}

#[tokio::test]
async fn an_explicit_version_is_served_by_exactly_that_version() {
    let (engine, _repo) = engine(8, None).await;
    let response = engine.infer(request("m", "2"), &NoHeaders).await.unwrap();
    assert_eq!(
        (response.model_name.as_str(), response.model_version.as_str()),
        ("m", "2")
    );
    assert_eq!(
        response.outputs,
        vec![OutputTensor::fp32("y", &[1, 2], &[2.0, 4.0])]
    );
    let default = engine.infer(request("m", ""), &NoHeaders).await.unwrap();
    assert_eq!(default.model_version, "3", "the highest ready version");
}

#[tokio::test]
async fn unknown_names_and_versions_are_not_found() {
    let (engine, _repo) = engine(8, None).await;
    let error = engine.infer(request("nope", ""), &NoHeaders).await.unwrap_err();
    assert_eq!(error.code(), Code::NotFound);
    let error = engine.infer(request("m", "9"), &NoHeaders).await.unwrap_err();
    assert_eq!(error.code(), Code::NotFound);
}

#[tokio::test]
async fn a_sticky_header_keeps_a_caller_on_one_target() {
    let (engine, _repo) = engine(8, None).await;
    let mut seen = HashMap::new();
    for user in ["ana", "bo", "cy", "di", "ed", "flo", "gus", "hal"] {
        let headers = Headers(HashMap::from([("x-user", user)]));
        let first = engine
            .infer(request("r", ""), &headers)
            .await
            .unwrap()
            .model_version;
        for _ in 0..5 {
            let again = engine
                .infer(request("r", ""), &headers)
                .await
                .unwrap()
                .model_version;
            assert_eq!(again, first, "{user} moved");
        }
        *seen.entry(first).or_insert(0) += 1;
    }
    assert_eq!(
        seen.len(),
        2,
        "eight users over a 50/50 split use both targets: {seen:?}"
    );
}

#[tokio::test]
async fn requests_beyond_the_server_wide_limit_are_shed() {
    let (engine, _repo) = engine(0, None).await;
    let error = engine.infer(request("m", "1"), &NoHeaders).await.unwrap_err();
    assert_eq!(error.code(), Code::ResourceExhausted);
}

#[tokio::test]
async fn a_request_past_its_deadline_is_refused_before_it_runs() {
    let (engine, _repo) = engine(8, None).await;
    let mut late = request("m", "1");
    late.deadline = Some(Instant::now() - Duration::from_millis(1));
    let error = engine.infer(late, &NoHeaders).await.unwrap_err();
    assert_eq!(error.code(), Code::DeadlineExceeded);
}

#[tokio::test]
async fn a_routed_request_is_mirrored_to_the_shadow_and_compared() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("shadow.jsonl");
    let log = ShadowLog::open(&log_path, 1 << 20).unwrap();
    let (engine, _repo) = engine(8, Some(log)).await;
    let response = engine.infer(request("r", ""), &NoHeaders).await.unwrap();
    assert_ne!(response.model_version, "3", "the shadow never answers");
    let give_up = Instant::now() + Duration::from_secs(10);
    let line = loop {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        if let Some(line) = text.lines().next() {
            break line.to_string();
        }
        assert!(Instant::now() < give_up, "no shadow record was written");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let record: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(record["shadow_version"], "3");
    assert_eq!(record["outcome"], "ok", "{record}");
    assert_eq!(record["compared"], serde_json::json!(["y"]));
    let expected = if response.model_version == "1" { 4.0 } else { 2.0 };
    assert_eq!(
        record["max_abs_diff"], expected,
        "y = 3x against the primary's answer: {record}"
    );
}

#[tokio::test]
async fn queries_read_the_same_snapshot() {
    let (engine, _repo) = engine(8, None).await;
    assert!(engine.server_ready());
    assert!(engine.model_ready("r", ""));
    assert!(!engine.model_ready("m", "7"));
    let metadata = engine.model_metadata("r", "").unwrap();
    assert_eq!(metadata.versions, vec!["1", "2", "3"]);
    assert_eq!(metadata.inputs[0].name, "x");
    let index = engine.repository_index(false);
    assert_eq!(index.iter().map(|e| e.version).collect::<Vec<_>>(), vec![1, 2, 3]);
    engine.begin_shutdown();
    assert!(!engine.server_ready(), "readiness turns false first on shutdown");
}
