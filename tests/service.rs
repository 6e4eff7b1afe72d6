//! The v2 service, health and reflection against the real binary.

mod common;

use common::*;
use switchyard::proto::inference::*;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

#[tokio::test]
async fn infers_raw_and_typed_contents_and_selects_outputs() {
    let repo = TestRepo::with_models(&["add_fp32"]);
    let server = TestServer::start_ready(repo.path(), &[]).await;
    let mut client = server.client().await;

    let mut request = add_request(&[1.0, 2.0, 3.0, 4.0, -1.0, -2.0, -3.0, -4.0]);
    request.id = "req-42".into();
    let response = client.model_infer(request).await.unwrap().into_inner();
    assert_eq!(response.id, "req-42");
    assert_eq!(response.model_name, "add_fp32");
    assert_eq!(response.model_version, "1");
    let names: Vec<_> = response.outputs.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["sum", "diff"]);
    assert_eq!(response.outputs[0].shape, vec![2, 4]);
    assert_eq!(response.outputs[0].datatype, "FP32");
    assert_eq!(
        f32_values(&response.raw_output_contents[0]),
        vec![2.0, 3.0, 4.0, 5.0, 0.0, -1.0, -2.0, -3.0]
    );
    assert_eq!(
        f32_values(&response.raw_output_contents[1]),
        vec![0.0, 1.0, 2.0, 3.0, -2.0, -3.0, -4.0, -5.0]
    );

    // Typed contents, and only one requested output.
    let typed = |name: &str, values: Vec<f32>| model_infer_request::InferInputTensor {
        contents: Some(InferTensorContents {
            fp32_contents: values,
            ..Default::default()
        }),
        ..input(name, "FP32", &[1, 4])
    };
    let request = ModelInferRequest {
        model_name: "add_fp32".into(),
        inputs: vec![
            typed("a", vec![10.0, 20.0, 30.0, 40.0]),
            typed("b", vec![1.0, 2.0, 3.0, 4.0]),
        ],
        outputs: vec![model_infer_request::InferRequestedOutputTensor {
            name: "diff".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let response = client.model_infer(request).await.unwrap().into_inner();
    assert_eq!(response.outputs.len(), 1);
    assert_eq!(response.outputs[0].name, "diff");
    assert_eq!(
        f32_values(&response.raw_output_contents[0]),
        vec![9.0, 18.0, 27.0, 36.0]
    );

    // Unknown requested output is the client's error.
    let mut request = add_request(&[0.0; 4]);
    request
        .outputs
        .push(model_infer_request::InferRequestedOutputTensor {
            name: "product".into(),
            ..Default::default()
        });
    let status = client.model_infer(request).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("'product'"), "{}", status.message());
}

#[tokio::test]
async fn bytes_and_fp16_round_trip() {
    let repo = TestRepo::with_models(&["string_identity", "fp16_ops"]);
    let server = TestServer::start_ready(repo.path(), &[]).await;
    let mut client = server.client().await;

    let texts: [&[u8]; 3] = [b"hello", b"", "gr\u{fc}\u{df}e".as_bytes()];
    let mut raw = Vec::new();
    for text in texts {
        raw.extend((text.len() as u32).to_le_bytes());
        raw.extend(text);
    }
    let request = raw_request(
        "string_identity",
        vec![(input("text", "BYTES", &[3]), raw.clone())],
    );
    let response = client.model_infer(request).await.unwrap().into_inner();
    assert_eq!(response.outputs[0].datatype, "BYTES");
    assert_eq!(response.raw_output_contents[0].as_ref(), raw.as_slice());

    // A truncated length prefix is refused, not crashed on.
    let request = raw_request(
        "string_identity",
        vec![(input("text", "BYTES", &[1]), vec![9, 0, 0, 0, b'x'])],
    );
    assert_eq!(
        client.model_infer(request).await.unwrap_err().code(),
        Code::InvalidArgument
    );

    let values = [
        half::f16::from_f32(0.5),
        half::f16::from_f32(-2.0),
        half::f16::from_f32(100.0),
    ];
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let request = raw_request("fp16_ops", vec![(input("x", "FP16", &[1, 3]), bytes)]);
    let response = client.model_infer(request).await.unwrap().into_inner();
    let got: Vec<f32> = response.raw_output_contents[0]
        .chunks_exact(2)
        .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
        .collect();
    assert_eq!(got, vec![1.5, -1.0, 101.0]);
}

#[tokio::test]
async fn metadata_index_and_unimplemented() {
    let repo = TestRepo::with_models(&["add_fp32", "corrupt"]);
    let server = TestServer::start_ready(repo.path(), &[]).await;
    let mut client = server.client().await;

    assert!(
        client
            .server_live(ServerLiveRequest {})
            .await
            .unwrap()
            .into_inner()
            .live
    );
    let ready = |name: &str, version: &str| ModelReadyRequest {
        name: name.into(),
        version: version.into(),
    };
    assert!(
        client
            .model_ready(ready("add_fp32", ""))
            .await
            .unwrap()
            .into_inner()
            .ready
    );
    assert!(
        client
            .model_ready(ready("add_fp32", "1"))
            .await
            .unwrap()
            .into_inner()
            .ready
    );
    assert!(
        !client
            .model_ready(ready("add_fp32", "2"))
            .await
            .unwrap()
            .into_inner()
            .ready
    );
    assert!(
        !client
            .model_ready(ready("corrupt", ""))
            .await
            .unwrap()
            .into_inner()
            .ready
    );

    let metadata = client
        .model_metadata(ModelMetadataRequest {
            name: "add_fp32".into(),
            version: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(metadata.platform, "onnxruntime_onnx");
    assert_eq!(metadata.versions, vec!["1"]);
    let inputs: Vec<_> = metadata
        .inputs
        .iter()
        .map(|t| (t.name.as_str(), t.datatype.as_str(), t.shape.clone()))
        .collect();
    assert_eq!(
        inputs,
        vec![("a", "FP32", vec![-1, 4]), ("b", "FP32", vec![-1, 4])]
    );
    let missing = client
        .model_metadata(ModelMetadataRequest {
            name: "nope".into(),
            version: String::new(),
        })
        .await;
    assert_eq!(missing.unwrap_err().code(), Code::NotFound);

    let index = client
        .repository_index(RepositoryIndexRequest::default())
        .await
        .unwrap()
        .into_inner();
    let rows: Vec<_> = index
        .models
        .iter()
        .map(|m| (m.name.as_str(), m.version.as_str(), m.state.as_str()))
        .collect();
    assert_eq!(
        rows,
        vec![("add_fp32", "1", "READY"), ("corrupt", "1", "UNAVAILABLE")]
    );
    assert!(!index.models[1].reason.is_empty());
    let ready_only = client
        .repository_index(RepositoryIndexRequest {
            ready: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ready_only.models.len(), 1);

    // As Triton answers when it polls its repository.
    let status = client
        .repository_model_load(RepositoryModelLoadRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert!(
        status
            .message()
            .starts_with("explicit model load / unload is not allowed if polling is enabled"),
        "{}",
        status.message()
    );
    let status = client
        .repository_model_unload(RepositoryModelUnloadRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
}

#[tokio::test]
async fn health_service_reports_server_and_models() {
    let repo = TestRepo::with_models(&["add_fp32", "corrupt"]);
    let server = TestServer::start_ready(repo.path(), &[]).await;
    let channel = tonic::transport::Channel::from_shared(server.grpc_url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel);
    let check = |service: &str| HealthCheckRequest {
        service: service.into(),
    };
    let status = |r: tonic::Response<tonic_health::pb::HealthCheckResponse>| r.into_inner().status;
    assert_eq!(
        status(health.check(check("")).await.unwrap()),
        ServingStatus::Serving as i32
    );
    assert_eq!(
        status(health.check(check("add_fp32")).await.unwrap()),
        ServingStatus::Serving as i32
    );
    // One bad model does not make the server unready, but is itself not serving.
    assert_eq!(
        status(health.check(check("corrupt")).await.unwrap()),
        ServingStatus::NotServing as i32
    );
    assert_eq!(
        health.check(check("nope")).await.unwrap_err().code(),
        Code::NotFound
    );
    // Liveness is its own name, SERVING whenever the process answers.
    let liveness = health.check(check("switchyard/liveness")).await.unwrap();
    assert_eq!(status(liveness), ServingStatus::Serving as i32);
}

#[tokio::test]
async fn reflection_lists_services() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let repo = TestRepo::with_models(&["add_fp32"]);
    let server = TestServer::start_ready(repo.path(), &[]).await;
    let channel = tonic::transport::Channel::from_shared(server.grpc_url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut reflection = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = reflection
        .server_reflection_info(futures::stream::iter(vec![request]))
        .await
        .unwrap()
        .into_inner();
    let response = stream.message().await.unwrap().expect("one response");
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection answer");
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"inference.GRPCInferenceService"), "{names:?}");
    assert!(names.contains(&"grpc.health.v1.Health"), "{names:?}");
}

#[tokio::test]
async fn metrics_are_prometheus_histograms_with_contract_labels() {
    let repo = TestRepo::with_models(&["add_fp32"]);
    let server = TestServer::start_ready(repo.path(), &[]).await;
    let mut client = server.client().await;
    client.model_infer(add_request(&[1.0; 4])).await.unwrap();
    let mut bad = add_request(&[1.0; 4]);
    bad.inputs[0].datatype = "INT8".into();
    client.model_infer(bad).await.unwrap_err();
    let metrics = server.scrape().await;
    let version = [("model", "add_fp32"), ("version", "1")];
    let answers = |code| {
        [
            ("route", ""),
            ("model", "add_fp32"),
            ("version", "1"),
            ("code", code),
        ]
    };
    let every_bucket = [("model", "add_fp32"), ("version", "1"), ("le", "+Inf")];
    let loaded = [("model", "add_fp32"), ("version", "1"), ("outcome", "ok")];
    for histogram in [
        "switchyard_request_duration_seconds",
        "switchyard_inference_duration_seconds",
        "switchyard_queue_duration_seconds",
    ] {
        assert!(
            metrics
                .value(&format!("{histogram}_bucket"), &every_bucket)
                .is_some(),
            "no histogram {histogram} {version:?} in\n{metrics}"
        );
    }
    for (name, labels, value) in [
        ("switchyard_requests_total", &answers("OK")[..], 1.0),
        ("switchyard_requests_total", &answers("INVALID_ARGUMENT"), 1.0),
        ("switchyard_model_ready", &version, 1.0),
        ("switchyard_model_loads_total", &loaded, 1.0),
        ("switchyard_inflight_requests", &[], 0.0),
    ] {
        assert_eq!(
            metrics.value(name, labels),
            Some(value),
            "{name} {labels:?} in\n{metrics}"
        );
    }
    assert!(
        metrics.to_string().contains("# HELP switchyard_requests_total"),
        "{metrics}"
    );
    assert!(
        !metrics.to_string().contains("quantile="),
        "durations must be histograms, not summaries"
    );
}
