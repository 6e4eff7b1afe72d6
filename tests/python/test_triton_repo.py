"""A Triton model repository served unchanged, driven with tritonclient.

The sample repository ``tests/fixtures/triton_repo`` holds Triton-style
``config.pbtxt`` files for the ONNX Runtime backend (platform, batching,
instance groups, ONNX Runtime parameters, graph optimisation, warm-up, a
model file other than ``model.onnx``) and no ``config.yaml``. The server is
started on a copy of it; tritonclient (gRPC and HTTP) reads the model
configurations back and runs inference, as it would against Triton.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from conftest import REPO_ROOT, start_server, stop_server

TRITON_REPO = REPO_ROOT / "tests" / "fixtures" / "triton_repo"


@pytest.fixture(scope="module")
def triton_server(tmp_path_factory):
    repo = tmp_path_factory.mktemp("triton") / "models"
    shutil.copytree(TRITON_REPO, repo)
    server = start_server(repo)
    try:
        yield server
    finally:
        code = stop_server(server)
    assert code == 0, f"switchyard did not exit 0 (got {code}); log tail:\n" + "\n".join(server.log_lines[-30:])


@pytest.fixture()
def grpc_client(triton_server):
    import tritonclient.grpc as grpcclient

    client = grpcclient.InferenceServerClient(triton_server.grpc_url)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture()
def http_client(triton_server):
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(triton_server.http_url)
    try:
        yield client
    finally:
        client.close()


def test_models_from_config_pbtxt_are_ready(grpc_client):
    for model in ("simple_add", "classifier"):
        assert grpc_client.is_model_ready(model), model
    index = {entry.name for entry in grpc_client.get_model_repository_index().models}
    assert {"simple_add", "classifier"} <= index


def test_model_config_reflects_config_pbtxt(grpc_client):
    config = grpc_client.get_model_config("simple_add", as_json=True)["config"]
    assert config["platform"] == "onnxruntime_onnx"
    assert int(config["max_batch_size"]) == 8
    assert [i["name"] for i in config["input"]] == ["a", "b"]
    assert [int(d) for d in config["input"][0]["dims"]] == [4]
    group = config["instance_group"][0]
    assert group["kind"] == "KIND_CPU" and int(group["count"]) == 2
    batching = config["dynamic_batching"]
    assert [int(s) for s in batching["preferred_batch_size"]] == [4, 8]
    assert int(batching["max_queue_delay_microseconds"]) == 100
    assert int(batching["default_queue_policy"]["max_queue_size"]) == 64
    assert int(batching["default_queue_policy"]["default_timeout_microseconds"]) == 500000
    assert config["parameters"]["intra_op_thread_count"]["string_value"] == "1"
    assert config["parameters"]["execution_mode"]["string_value"] == "0"
    assert int(config["optimization"]["graph"]["level"]) == 1


def test_http_model_config_names_the_model_file(http_client):
    config = http_client.get_model_config("classifier")
    assert config["default_model_filename"] == "classifier.onnx"
    assert config["max_batch_size"] == 0
    assert config["input"][0]["dims"] == [-1, 4]


def test_infer_batched_over_grpc(grpc_client):
    import tritonclient.grpc as grpcclient

    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    b = np.full((3, 4), 0.5, dtype=np.float32)
    inputs = [grpcclient.InferInput("a", [3, 4], "FP32"), grpcclient.InferInput("b", [3, 4], "FP32")]
    inputs[0].set_data_from_numpy(a)
    inputs[1].set_data_from_numpy(b)
    result = grpc_client.infer("simple_add", inputs)
    np.testing.assert_allclose(result.as_numpy("sum"), a + b)
    np.testing.assert_allclose(result.as_numpy("diff"), a - b)


def test_infer_unbatched_over_http(http_client):
    import tritonclient.http as httpclient

    x = np.array([[1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 0.0]], dtype=np.float32)
    inputs = [httpclient.InferInput("x", [2, 4], "FP32")]
    inputs[0].set_data_from_numpy(x)
    result = http_client.infer("classifier", inputs)
    assert result.as_numpy("logits").shape == (2, 3)


def test_ignored_fields_are_logged_once(triton_server):
    warnings = [line for line in triton_server.log_lines if "not honoured" in line and '"classifier"' in line]
    assert len(warnings) == 1, warnings
    assert "response_cache" in warnings[0]
