"""End-to-end tests: the KServe v2 REST endpoints with raw HTTP (``requests``),
checked to the letter: status codes, JSON shapes, tensors as flat and nested
JSON ``data``, Triton's binary tensor data extension framed by hand in both
directions, and the errors of malformed requests.

Transport matters (compression, h2c, body limit, one port) are in
test_http_transport.py. The server is the session's (conftest.py).

Requires: requests, numpy, pytest.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from http_helpers import HEADER_LENGTH, binary_body, deserialize_bytes, error_message, get, post, post_json
from http_helpers import serialize_bytes, split_binary
from http_helpers import base_url  # noqa: F401 (fixture)
from triton_helpers import ADD_A, ADD_B

ADD = "/v2/models/add_fp32/infer"


def add_json(a=ADD_A, b=ADD_B, nested=False, **extra):
    def data(x):
        return x.tolist() if nested else x.reshape(-1).tolist()

    return {
        "inputs": [
            {"name": "a", "datatype": "FP32", "shape": list(a.shape), "data": data(a)},
            {"name": "b", "datatype": "FP32", "shape": list(b.shape), "data": data(b)},
        ],
        **extra,
    }


def outputs_by_name(body):
    return {o["name"]: o for o in body["outputs"]}


# --------------------------------------------------------------------------
# Health, metadata, configuration, statistics, repository
# --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v2/health/live", "/v2/health/ready", "/v2/models/add_fp32/ready",
                                  "/v2/models/trip_duration/versions/1/ready", "/v2/models/trip_duration/versions/2/ready"])
def test_ready_and_live_are_200(base_url, path):
    assert get(base_url, path).status_code == 200


@pytest.mark.parametrize("path", ["/v2/models/corrupt/ready", "/v2/models/no_such_model/ready",
                                  "/v2/models/trip_duration/versions/3/ready"])
def test_not_ready_is_503(base_url, path):
    assert get(base_url, path).status_code == 503


def test_server_metadata(base_url):
    response = get(base_url, "/v2")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert sorted(body) == ["extensions", "name", "version"]
    assert body["name"] == "switchyard" and isinstance(body["version"], str) and body["version"]
    assert body["extensions"] == ["model_configuration", "statistics", "binary_tensor_data"]


@pytest.mark.parametrize("path", ["/v2/models/trip_duration", "/v2/models/trip_duration/versions/1",
                                  "/v2/models/trip_duration/versions/2"])
def test_model_metadata(base_url, path):
    response = get(base_url, path)
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "name": "trip_duration",
        "versions": ["1", "2"],
        "platform": "onnxruntime_onnx",
        "inputs": [{"name": "features", "datatype": "FP32", "shape": [-1, 6]}],
        "outputs": [{"name": "duration_min", "datatype": "FP32", "shape": [-1, 1]}],
    }


@pytest.mark.parametrize("path", ["/v2/models/no_such_model", "/v2/models/trip_duration/versions/3",
                                  "/v2/models/no_such_model/config", "/v2/models/no_such_model/stats",
                                  "/v2/models/trip_duration/versions/3/stats"])
def test_unknown_model_or_version_is_404(base_url, path):
    assert error_message(get(base_url, path), 404)


def test_model_config(base_url):
    response = get(base_url, "/v2/models/trip_duration/config")
    assert response.status_code == 200
    config = response.json()
    assert config["name"] == "trip_duration" and config["max_batch_size"] == 64
    assert config["input"][0]["name"] == "features" and config["input"][0]["dims"] == [6]
    assert get(base_url, "/v2/models/trip_duration/versions/1/config").json()["name"] == "trip_duration"


def test_statistics_shapes(base_url):
    every = get(base_url, "/v2/models/stats")
    assert every.status_code == 200
    assert list(every.json()) == ["model_stats"]
    one = get(base_url, "/v2/models/trip_duration/versions/1/stats").json()
    assert [(s["name"], s["version"]) for s in one["model_stats"]] == [("trip_duration", "1")]
    both = get(base_url, "/v2/models/trip_duration/stats").json()
    assert sorted(s["version"] for s in both["model_stats"]) == ["1", "2"]
    stats = one["model_stats"][0]
    for field in ("inference_count", "execution_count", "last_inference", "batch_stats", "inference_stats"):
        assert field in stats, stats
    for phase in ("success", "fail", "queue", "compute_input", "compute_infer", "compute_output"):
        assert set(stats["inference_stats"][phase]) >= {"count", "ns"}, stats["inference_stats"]


def test_statistics_move_after_raw_requests(base_url):
    def counts():
        s = get(base_url, "/v2/models/fp64_ops/stats").json()["model_stats"][0]
        return s["inference_stats"]["success"]["count"], s["execution_count"], s["inference_count"]

    before = counts()
    body = {"inputs": [{"name": "x", "datatype": "FP64", "shape": [1, 2], "data": [1.0, 2.0]}]}
    for _ in range(4):
        assert post_json(base_url, "/v2/models/fp64_ops/infer", body).status_code == 200
    after = counts()
    assert tuple(a - b for a, b in zip(after, before)) == (4, 4, 4)


def test_repository_index(base_url):
    response = post(base_url, "/v2/repository/index")
    assert response.status_code == 200
    index = response.json()
    assert isinstance(index, list) and index
    for entry in index:
        assert set(entry) <= {"name", "version", "state", "reason"} and {"name", "version", "state"} <= set(entry)
    states = {(e["name"], e["version"]): e for e in index}
    assert states[("trip_duration", "2")]["state"] == "READY"
    assert states[("corrupt", "1")]["state"] == "UNAVAILABLE" and states[("corrupt", "1")]["reason"]
    ready_only = post_json(base_url, "/v2/repository/index", {"ready": True}).json()
    assert ("corrupt", "1") not in {(e["name"], e["version"]) for e in ready_only}
    assert {(e["name"], e["version"]) for e in ready_only} == {k for k, e in states.items() if e["state"] == "READY"}


@pytest.mark.parametrize("action", ["load", "unload"])
def test_repository_control_is_503(base_url, action):
    message = error_message(post(base_url, f"/v2/repository/models/trip_duration/{action}"), 503)
    assert message.startswith("explicit model load / unload is not allowed if polling is enabled"), message


def test_unknown_endpoint_is_404(base_url):
    error_message(get(base_url, "/v2/no/such/endpoint"), 404)


# --------------------------------------------------------------------------
# Inference with JSON tensors
# --------------------------------------------------------------------------


@pytest.mark.parametrize("nested", [False, True], ids=["flat", "nested"])
def test_infer_json(base_url, nested):
    response = post_json(base_url, ADD, add_json(nested=nested, id="raw-1"))
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert HEADER_LENGTH.lower() not in {k.lower() for k in response.headers}
    body = response.json()
    assert (body["model_name"], body["model_version"], body["id"]) == ("add_fp32", "1", "raw-1")
    out = outputs_by_name(body)
    assert sorted(out) == ["diff", "sum"]
    assert out["sum"]["datatype"] == "FP32" and out["sum"]["shape"] == [2, 4]
    assert out["sum"]["data"] == (ADD_A + ADD_B).reshape(-1).tolist()  # answers are flat
    assert out["diff"]["data"] == (ADD_A - ADD_B).reshape(-1).tolist()


def test_infer_json_output_subset(base_url):
    body = post_json(base_url, ADD, add_json(outputs=[{"name": "diff"}])).json()
    assert [o["name"] for o in body["outputs"]] == ["diff"]


def test_infer_versions_in_the_path(base_url):
    features = {"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 6], "data": [8, 0, 10, 1, 0, 0]}]}
    answers = {}
    for version in ("1", "2"):
        body = post_json(base_url, f"/v2/models/trip_duration/versions/{version}/infer", features).json()
        assert body["model_version"] == version, body
        answers[version] = outputs_by_name(body)["duration_min"]["data"]
    assert answers["1"] != answers["2"]
    error_message(post_json(base_url, "/v2/models/trip_duration/versions/3/infer", features), 404)


def test_infer_bool_and_bytes_as_json(base_url):
    body = {"inputs": [{"name": "x", "datatype": "BOOL", "shape": [2, 2], "data": [[True, False], [False, True]]}]}
    out = outputs_by_name(post_json(base_url, "/v2/models/bool_not/infer", body).json())
    assert out["y"]["data"] == [False, True, True, False] and out["y"]["datatype"] == "BOOL"
    texts = ["ünï ✓", "", "a\"b"]
    body = {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [3], "data": texts}]}
    out = outputs_by_name(post_json(base_url, "/v2/models/string_identity/infer", body).json())
    assert out["out"]["data"] == texts and out["out"]["datatype"] == "BYTES"


# --------------------------------------------------------------------------
# Binary tensor data extension
# --------------------------------------------------------------------------


def add_binary_header(**extra):
    return {
        "inputs": [
            {"name": "a", "datatype": "FP32", "shape": [2, 4], "parameters": {"binary_data_size": 32}},
            {"name": "b", "datatype": "FP32", "shape": [2, 4], "parameters": {"binary_data_size": 32}},
        ],
        **extra,
    }


def test_binary_inputs_json_outputs(base_url):
    data, headers = binary_body(add_binary_header(), [ADD_A.tobytes(), ADD_B.tobytes()])
    response = post(base_url, ADD, data=data, headers=headers)
    assert response.status_code == 200, response.text
    out = outputs_by_name(response.json())
    assert out["sum"]["data"] == (ADD_A + ADD_B).reshape(-1).tolist()


def test_binary_data_output_for_every_output(base_url):
    data, headers = binary_body(add_binary_header(parameters={"binary_data_output": True}),
                                [ADD_A.tobytes(), ADD_B.tobytes()])
    response = post(base_url, ADD, data=data, headers=headers)
    header, blobs = split_binary(response)
    assert sorted(blobs) == ["diff", "sum"]
    for output in header["outputs"]:
        assert "data" not in output and output["parameters"]["binary_data_size"] == 32, output
    np.testing.assert_array_equal(np.frombuffer(blobs["sum"], np.float32).reshape(2, 4), ADD_A + ADD_B)
    np.testing.assert_array_equal(np.frombuffer(blobs["diff"], np.float32).reshape(2, 4), ADD_A - ADD_B)


def test_binary_data_per_output(base_url):
    request = add_json(outputs=[{"name": "sum", "parameters": {"binary_data": True}},
                                {"name": "diff", "parameters": {"binary_data": False}}])
    header, blobs = split_binary(post_json(base_url, ADD, request))
    assert list(blobs) == ["sum"]
    np.testing.assert_array_equal(np.frombuffer(blobs["sum"], np.float32).reshape(2, 4), ADD_A + ADD_B)
    assert outputs_by_name(header)["diff"]["data"] == (ADD_A - ADD_B).reshape(-1).tolist()


def test_per_output_false_overrides_binary_data_output(base_url):
    request = add_json(parameters={"binary_data_output": True},
                       outputs=[{"name": "sum", "parameters": {"binary_data": False}}, {"name": "diff"}])
    header, blobs = split_binary(post_json(base_url, ADD, request))
    assert list(blobs) == ["diff"]
    assert outputs_by_name(header)["sum"]["data"] == (ADD_A + ADD_B).reshape(-1).tolist()


def test_binary_mixed_with_json_input(base_url):
    header = {"inputs": [
        {"name": "a", "datatype": "FP32", "shape": [2, 4], "data": ADD_A.reshape(-1).tolist()},
        {"name": "b", "datatype": "FP32", "shape": [2, 4], "parameters": {"binary_data_size": 32}},
    ]}
    data, headers = binary_body(header, [ADD_B.tobytes()])
    out = outputs_by_name(post(base_url, ADD, data=data, headers=headers).json())
    assert out["sum"]["data"] == (ADD_A + ADD_B).reshape(-1).tolist()


def test_binary_fp16_both_ways(base_url):
    x = np.array([[0.5, -1.0, 2.25], [100.0, 0.0, -0.125]], np.float16)
    header = {"inputs": [{"name": "x", "datatype": "FP16", "shape": [2, 3], "parameters": {"binary_data_size": 12}}],
              "outputs": [{"name": "y", "parameters": {"binary_data": True}}]}
    data, headers = binary_body(header, [x.tobytes()])
    head, blobs = split_binary(post(base_url, "/v2/models/fp16_ops/infer", data=data, headers=headers))
    assert outputs_by_name(head)["y"]["datatype"] == "FP16" and outputs_by_name(head)["y"]["shape"] == [2, 3]
    np.testing.assert_array_equal(np.frombuffer(blobs["y"], np.float16).reshape(2, 3), x + np.float16(1))


def test_binary_bytes_both_ways(base_url):
    values = ["hello".encode(), b"", "日本".encode()]
    raw = serialize_bytes(values)
    header = {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [3], "parameters": {"binary_data_size": len(raw)}}],
              "parameters": {"binary_data_output": True}}
    data, headers = binary_body(header, [raw])
    head, blobs = split_binary(post(base_url, "/v2/models/string_identity/infer", data=data, headers=headers))
    assert deserialize_bytes(blobs["out"]) == values


# --------------------------------------------------------------------------
# Malformed requests: 400 with {"error": ...}
# --------------------------------------------------------------------------


def test_malformed_json_is_400(base_url):
    error_message(post(base_url, ADD, data=b'{"inputs": [', headers={"Content-Type": "application/json"}), 400)
    error_message(post(base_url, ADD, data=b"", headers={"Content-Type": "application/json"}), 400)


@pytest.mark.parametrize("bad", [
    {"name": "a", "datatype": "FP32", "shape": [2, 4], "data": [1.0, 2.0]},  # too few values
    {"name": "a", "datatype": "FP32", "shape": [2, 4], "data": ["x"] * 8},  # strings for FP32
    {"name": "a", "datatype": "FP32", "shape": [2, 4]},  # no data at all
    {"name": "a", "datatype": "NOPE", "shape": [2, 4], "data": [1.0] * 8},  # unknown datatype
], ids=["count", "type", "missing", "datatype"])
def test_bad_json_tensor_is_400_naming_the_input(base_url, bad):
    body = add_json()
    body["inputs"][0] = bad
    assert "'a'" in error_message(post_json(base_url, ADD, body), 400)


def test_bad_binary_framing_is_400(base_url):
    data, headers = binary_body(add_binary_header(), [ADD_A.tobytes(), ADD_B.tobytes()])
    # The header length points past the body.
    error_message(post(base_url, ADD, data=data, headers={**headers, HEADER_LENGTH: str(len(data) + 10)}), 400)
    # Not a number.
    error_message(post(base_url, ADD, data=data, headers={**headers, HEADER_LENGTH: "abc"}), 400)
    # binary_data_size promises more than the body holds.
    error_message(post(base_url, ADD, data=data[:-8], headers=headers), 400)
    # Bytes left over after the last section.
    error_message(post(base_url, ADD, data=data + b"\0" * 8, headers=headers), 400)


def test_request_json_with_unknown_input_field_types(base_url):
    body = add_json()
    body["inputs"][0]["shape"] = "2x4"
    error_message(post_json(base_url, ADD, body), 400)
    body = json.dumps({"inputs": "not a list"}).encode()
    error_message(post(base_url, ADD, data=body, headers={"Content-Type": "application/json"}), 400)
