"""End-to-end tests: an unmodified ``tritonclient.http`` against ``switchyard serve``'s
REST port (health, server and model metadata, model configuration, readiness,
repository index and control, statistics).

The HTTP twin of test_tritonclient_metadata.py; the server is the session's
(conftest.py). Inference over HTTP: test_http_tritonclient_infer.py; errors:
test_http_errors.py; raw requests: test_http_raw.py.

Requires: tritonclient[http], numpy, pytest.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from http_helpers import expect_http_error, grpc_error, hinput
from http_helpers import grpc_client, hclient  # noqa: F401 (fixtures)
from triton_helpers import ADD_A, ADD_B, TRIP_FEATURES

# --------------------------------------------------------------------------
# Health and server metadata
# --------------------------------------------------------------------------


def test_server_live_and_ready(hclient):
    assert hclient.is_server_live() is True
    assert hclient.is_server_ready() is True


def test_server_metadata(hclient, grpc_client):
    meta = hclient.get_server_metadata()
    assert sorted(meta) == ["extensions", "name", "version"], meta
    assert meta["name"] == "switchyard"
    assert meta["version"] == grpc_client.get_server_metadata(as_json=True)["version"]
    assert meta["extensions"] == ["model_configuration", "statistics", "binary_tensor_data"]


# --------------------------------------------------------------------------
# Model readiness and metadata
# --------------------------------------------------------------------------


def test_model_ready(hclient):
    assert hclient.is_model_ready("add_fp32") is True
    assert hclient.is_model_ready("trip_duration", "1") is True
    assert hclient.is_model_ready("trip_duration", "2") is True
    assert hclient.is_model_ready("corrupt") is False
    assert hclient.is_model_ready("no_such_model") is False
    assert hclient.is_model_ready("trip_duration", "3") is False


def _tensors(specs):
    return [(t["name"], t["datatype"], list(t["shape"])) for t in specs]


def test_model_metadata_add_fp32(hclient):
    meta = hclient.get_model_metadata("add_fp32")
    assert meta["name"] == "add_fp32"
    assert meta["platform"] == "onnxruntime_onnx"
    assert meta["versions"] == ["1"]
    assert _tensors(meta["inputs"]) == [("a", "FP32", [-1, 4]), ("b", "FP32", [-1, 4])]
    assert _tensors(meta["outputs"]) == [("sum", "FP32", [-1, 4]), ("diff", "FP32", [-1, 4])]
    # Shapes are JSON numbers, not strings.
    assert all(isinstance(d, int) for t in meta["inputs"] for d in t["shape"])


@pytest.mark.parametrize("version", ["", "1", "2"])
def test_model_metadata_trip_duration(hclient, version):
    meta = hclient.get_model_metadata("trip_duration", version)
    assert meta["name"] == "trip_duration"
    assert sorted(meta["versions"]) == ["1", "2"]
    assert _tensors(meta["inputs"]) == [("features", "FP32", [-1, 6])]
    assert _tensors(meta["outputs"]) == [("duration_min", "FP32", [-1, 1])]


@pytest.mark.parametrize("model", ["int64_ops", "fp16_ops", "fp64_ops", "bool_not", "string_identity",
                                   "fixed_shape", "cast_many", "classifier"])
def test_model_metadata_same_as_grpc(hclient, grpc_client, model):
    http_meta = hclient.get_model_metadata(model)
    grpc_meta = grpc_client.get_model_metadata(model, as_json=True)
    assert http_meta["name"] == grpc_meta["name"] == model
    assert http_meta["versions"] == grpc_meta["versions"]
    assert http_meta["platform"] == grpc_meta["platform"]
    for key in ("inputs", "outputs"):
        grpc_tensors = [(t["name"], t["datatype"], [int(d) for d in t["shape"]]) for t in grpc_meta[key]]
        assert _tensors(http_meta[key]) == grpc_tensors


def test_model_metadata_errors_match_grpc(hclient, server):
    err = expect_http_error(lambda: hclient.get_model_metadata("no_such_model"), 404)
    assert "no_such_model" in err.message()
    same = grpc_error(server, lambda c: c.get_model_metadata("no_such_model"))
    assert err.message() == same.message()
    err = expect_http_error(lambda: hclient.get_model_metadata("trip_duration", "3"), 404)
    same = grpc_error(server, lambda c: c.get_model_metadata("trip_duration", "3"))
    assert err.message() == same.message()


# --------------------------------------------------------------------------
# Model configuration
# --------------------------------------------------------------------------


def test_model_config_trip_duration(hclient, grpc_client):
    config = hclient.get_model_config("trip_duration")
    assert config["name"] == "trip_duration"
    assert config["platform"] == "onnxruntime_onnx"
    assert config["backend"] == "onnxruntime"
    assert config["max_batch_size"] == 64
    # Triton's layout: with max_batch_size > 0 the batch dimension is left out.
    assert [(i["name"], i["data_type"], i["dims"]) for i in config["input"]] == [("features", "TYPE_FP32", [6])]
    assert [(o["name"], o["data_type"], o["dims"]) for o in config["output"]] == [
        ("duration_min", "TYPE_FP32", [1])
    ]
    grpc_config = grpc_client.get_model_config("trip_duration", as_json=True)["config"]
    assert grpc_config["name"] == config["name"]
    assert int(grpc_config["max_batch_size"]) == config["max_batch_size"]


def test_model_config_without_batching(hclient):
    config = hclient.get_model_config("add_fp32", "1")
    assert config["name"] == "add_fp32"
    assert config.get("max_batch_size", 0) == 0
    assert [(i["name"], i["data_type"], i["dims"]) for i in config["input"]] == [
        ("a", "TYPE_FP32", [-1, 4]), ("b", "TYPE_FP32", [-1, 4]),
    ]
    assert all(isinstance(d, int) for i in config["input"] for d in i["dims"])


def test_model_config_unknown_model(hclient, server):
    err = expect_http_error(lambda: hclient.get_model_config("no_such_model"), 404)
    assert err.message() == grpc_error(server, lambda c: c.get_model_config("no_such_model")).message()


# --------------------------------------------------------------------------
# Repository index and control
# --------------------------------------------------------------------------


def test_repository_index(hclient, grpc_client):
    index = hclient.get_model_repository_index()
    assert isinstance(index, list), index
    entries = {(m["name"], m.get("version", "")): m for m in index}
    for name, version in [("add_fp32", "1"), ("trip_duration", "1"), ("trip_duration", "2"), ("runtime_error", "1")]:
        assert entries[(name, version)]["state"] == "READY", entries.get((name, version))
        assert "reason" not in entries[(name, version)] or not entries[(name, version)]["reason"]
    corrupt = [m for m in index if m["name"] == "corrupt"]
    assert corrupt, index
    for entry in corrupt:
        assert entry["state"] == "UNAVAILABLE", entry
        assert entry.get("reason", "").strip(), entry
    for entry in index:
        assert set(entry) <= {"name", "version", "state", "reason"}, entry
    grpc_index = grpc_client.get_model_repository_index(as_json=True)["models"]
    assert sorted((m["name"], m.get("version", ""), m.get("state", "")) for m in grpc_index) == sorted(
        (m["name"], m.get("version", ""), m["state"]) for m in index
    )


@pytest.mark.parametrize("action", ["load", "unload"])
def test_repository_control_refused_like_triton(hclient, server, action):
    call = getattr(hclient, f"{action}_model")
    err = expect_http_error(lambda: call("add_fp32"), 503)
    triton = "explicit model load / unload is not allowed if polling is enabled"
    assert err.message().startswith(triton), err.message()
    assert err.message() == grpc_error(server, lambda c: getattr(c, f"{action}_model")("add_fp32")).message()
    assert hclient.is_model_ready("add_fp32") is True  # nothing was unloaded


# --------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------

PHASES = ("success", "queue", "compute_input", "compute_infer", "compute_output")


def _one(stats, name, version):
    found = [s for s in stats["model_stats"] if s["name"] == name and s["version"] == version]
    assert len(found) == 1, stats
    return found[0]


def test_statistics_move_by_the_requests_sent(hclient):
    before = _one(hclient.get_inference_statistics("add_fp32"), "add_fp32", "1")
    started_ms = time.time() * 1000
    n = 3
    for i in range(n):
        hclient.infer("add_fp32", [hinput("a", ADD_A + i, "FP32"), hinput("b", ADD_B, "FP32")])
    expect_http_error(lambda: hclient.infer("add_fp32", [hinput("a", ADD_A, "FP32")]), 400)
    after = _one(hclient.get_inference_statistics("add_fp32", "1"), "add_fp32", "1")

    b, a = before["inference_stats"], after["inference_stats"]
    for phase in PHASES:
        assert a[phase]["count"] - b[phase]["count"] == n, (phase, b[phase], a[phase])
        assert a[phase]["ns"] > b[phase]["ns"], (phase, b[phase], a[phase])
    assert a["fail"]["count"] - b["fail"]["count"] == 1, (b["fail"], a["fail"])
    assert after["inference_count"] - before["inference_count"] == n, "one per request without a batch dimension"
    assert after["execution_count"] - before["execution_count"] == n
    assert started_ms - 1000 <= after["last_inference"] <= time.time() * 1000 + 1000, after["last_inference"]
    sizes_before = {s["batch_size"]: s["compute_infer"]["count"] for s in before["batch_stats"]}
    sizes_after = {s["batch_size"]: s["compute_infer"]["count"] for s in after["batch_stats"]}
    assert sizes_after.get(1, 0) - sizes_before.get(1, 0) == n, (sizes_before, sizes_after)


def test_statistics_count_rows_with_a_batch_dimension(hclient):
    """trip_duration has max_batch_size 64: inference_count counts rows. Version 1
    named explicitly (no route, no shadow mirror touching its counters)."""
    before = _one(hclient.get_inference_statistics("trip_duration", "1"), "trip_duration", "1")
    for _ in range(2):
        hclient.infer("trip_duration", [hinput("features", TRIP_FEATURES, "FP32")], model_version="1")
    after = _one(hclient.get_inference_statistics("trip_duration", "1"), "trip_duration", "1")
    assert after["inference_count"] - before["inference_count"] == 2 * len(TRIP_FEATURES)
    assert after["execution_count"] - before["execution_count"] == 2
    assert after["inference_stats"]["success"]["count"] - before["inference_stats"]["success"]["count"] == 2


def test_statistics_scopes(hclient, server):
    every = hclient.get_inference_statistics()
    names = {(s["name"], s["version"]) for s in every["model_stats"]}
    assert {("add_fp32", "1"), ("trip_duration", "1"), ("trip_duration", "2"), ("int64_ops", "1")} <= names
    assert not any(name == "corrupt" for name, _ in names), names
    versions = hclient.get_inference_statistics("trip_duration")
    assert sorted(s["version"] for s in versions["model_stats"]) == ["1", "2"]
    for stats in every["model_stats"]:
        for field in ("inference_count", "execution_count", "last_inference"):
            assert isinstance(stats[field], int), (field, stats)
        for phase in PHASES + ("fail",):
            assert isinstance(stats["inference_stats"][phase]["count"], int), stats
            assert isinstance(stats["inference_stats"][phase]["ns"], int), stats
    err = expect_http_error(lambda: hclient.get_inference_statistics("no_such_model"), 404)
    assert err.message() == grpc_error(server, lambda c: c.get_inference_statistics("no_such_model")).message()
    expect_http_error(lambda: hclient.get_inference_statistics("add_fp32", "9"), 404)


def test_statistics_same_as_grpc(hclient, grpc_client):
    x = np.array([[1, 2, 3]], np.int64)
    hclient.infer("int64_ops", [hinput("x", x, "INT64")])
    http_stats = _one(hclient.get_inference_statistics("int64_ops"), "int64_ops", "1")
    grpc_stats = grpc_client.get_inference_statistics("int64_ops", as_json=True)["model_stats"][0]
    assert int(grpc_stats["inference_count"]) == http_stats["inference_count"] >= 1
    assert int(grpc_stats["execution_count"]) == http_stats["execution_count"]
    assert int(grpc_stats["inference_stats"]["success"]["count"]) == http_stats["inference_stats"]["success"]["count"]
