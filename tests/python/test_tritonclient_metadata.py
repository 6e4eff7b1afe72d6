"""End-to-end tests: an unmodified ``tritonclient.grpc`` against ``switchyard serve``
(health, metadata, configuration, repository index, and readiness).

One server (the session fixture ``switchyard_server`` in conftest.py) serves a
temporary repository holding the fixture models and the sample
``trip_duration`` model. Every test talks to it exactly the way a Triton user
would. The other interop tests: test_tritonclient_infer.py (inference and
streaming) and test_tritonclient_errors.py (error statuses and metrics).

Requires: tritonclient[grpc], numpy, onnxruntime, pytest.
"""

from __future__ import annotations

import time

import pytest
import tritonclient.grpc as grpcclient

from conftest import FIXTURE_MODELS, start_server, stop_server
from triton_helpers import ADD_A, ADD_B, add_inputs, assert_same, expect_error

# --------------------------------------------------------------------------
# Health, metadata, configuration, repository
# --------------------------------------------------------------------------


def test_server_live_and_ready(client):
    assert client.is_server_live() is True
    assert client.is_server_ready() is True


def test_model_ready(client):
    assert client.is_model_ready("add_fp32") is True
    assert client.is_model_ready("trip_duration", "1") is True
    assert client.is_model_ready("trip_duration", "2") is True
    assert client.is_model_ready("corrupt") is False
    assert client.is_model_ready("no_such_model") is False
    assert client.is_model_ready("trip_duration", "3") is False


def test_server_metadata(client):
    meta = client.get_server_metadata(as_json=True)
    assert meta["name"] == "switchyard"
    assert meta.get("version"), meta


def test_model_metadata_add_fp32(client):
    meta = client.get_model_metadata("add_fp32", as_json=True)
    assert meta["name"] == "add_fp32"
    assert meta["platform"] == "onnxruntime_onnx"
    assert meta["versions"] == ["1"]
    assert [(t["name"], t["datatype"], [int(d) for d in t["shape"]]) for t in meta["inputs"]] == [
        ("a", "FP32", [-1, 4]),
        ("b", "FP32", [-1, 4]),
    ]
    assert [(t["name"], t["datatype"], [int(d) for d in t["shape"]]) for t in meta["outputs"]] == [
        ("sum", "FP32", [-1, 4]),
        ("diff", "FP32", [-1, 4]),
    ]


def test_model_metadata_trip_duration(client):
    meta = client.get_model_metadata("trip_duration")  # protobuf form this time
    assert meta.name == "trip_duration"
    assert meta.platform == "onnxruntime_onnx"
    assert sorted(meta.versions) == ["1", "2"]
    assert [(t.name, t.datatype, list(t.shape)) for t in meta.inputs] == [("features", "FP32", [-1, 6])]
    assert [(t.name, t.datatype, list(t.shape)) for t in meta.outputs] == [
        ("duration_min", "FP32", [-1, 1])
    ]


@pytest.mark.parametrize(
    "model, inputs, outputs",
    [
        ("int64_ops", [("x", "INT64", [-1, 3])], [("y", "INT64", [-1, 3])]),
        ("fp16_ops", [("x", "FP16", [-1, 3])], [("y", "FP16", [-1, 3])]),
        ("fp64_ops", [("x", "FP64", [-1, 2])], [("y", "FP64", [-1, 2])]),
        ("bool_not", [("x", "BOOL", [-1, 2])], [("y", "BOOL", [-1, 2])]),
        ("string_identity", [("text", "BYTES", [-1])], [("out", "BYTES", [-1])]),
        ("fixed_shape", [("x", "FP32", [2, 3])], [("y", "FP32", [2, 3])]),
    ],
)
def test_model_metadata_datatypes(client, model, inputs, outputs):
    meta = client.get_model_metadata(model)
    assert [(t.name, t.datatype, list(t.shape)) for t in meta.inputs] == inputs
    assert [(t.name, t.datatype, list(t.shape)) for t in meta.outputs] == outputs


def test_model_metadata_cast_many_integer_types(client):
    meta = client.get_model_metadata("cast_many")
    inputs = {t.name: t.datatype for t in meta.inputs}
    outputs = {t.name: t.datatype for t in meta.outputs}
    assert inputs == {
        "x": "UINT8", "u16": "UINT16", "i8": "INT8", "u32": "UINT32",
        "u64": "UINT64", "i16": "INT16", "i32": "INT32",
    }
    assert outputs == {
        "as_int8": "INT8", "as_uint16": "UINT16", "as_int16": "INT16",
        "as_uint32": "UINT32", "as_int32": "INT32", "as_uint64": "UINT64",
        "u16_out": "UINT16", "i8_out": "INT8", "u32_out": "UINT32",
        "u64_out": "UINT64", "i16_out": "INT16", "i32_out": "INT32",
    }


def test_model_metadata_errors(client):
    expect_error(lambda: client.get_model_metadata("no_such_model"), "StatusCode.NOT_FOUND")


def test_model_config_trip_duration(client):
    config = client.get_model_config("trip_duration", as_json=True)["config"]
    assert config["name"] == "trip_duration"
    assert config["max_batch_size"] == 64
    assert config["platform"] == "onnxruntime_onnx"
    assert [i["name"] for i in config["input"]] == ["features"]
    assert [o["name"] for o in config["output"]] == ["duration_min"]


def test_repository_index(client):
    index = client.get_model_repository_index(as_json=True)
    entries = {(m["name"], m.get("version", "")): m for m in index["models"]}
    for name, version in [
        ("add_fp32", "1"), ("trip_duration", "1"), ("trip_duration", "2"), ("runtime_error", "1"),
    ]:
        assert entries[(name, version)]["state"] == "READY", entries.get((name, version))
    corrupt = [m for m in index["models"] if m["name"] == "corrupt"]
    assert corrupt, index
    for entry in corrupt:
        assert entry["state"] == "UNAVAILABLE", entry
        assert entry.get("reason", "").strip(), entry


# --------------------------------------------------------------------------
# Readiness with a freshly written repository (own short-lived server)
# --------------------------------------------------------------------------


def test_server_ready_means_fresh_models_loaded(tmp_path):
    """A repository written just before start (e.g. by an init container).

    README ("Protocol"): ServerReady turns true once the first scan has loaded what it
    can. Model files younger than the server's settle time (500 ms) are at first
    treated as "still being written"; ServerReady must nevertheless not turn
    true before they are loaded. (An earlier build answered ServerReady = true
    with ModelReady = false and UNAVAILABLE for ~0.5 s.)
    """
    repo = tmp_path / "fresh"
    (repo / "add_fp32" / "1").mkdir(parents=True)
    # Written now (a fresh mtime), not copied with the fixture's old mtime.
    data = (FIXTURE_MODELS / "add_fp32" / "1" / "model.onnx").read_bytes()
    (repo / "add_fp32" / "1" / "model.onnx").write_bytes(data)
    written = time.monotonic()

    fresh = start_server(repo)  # returns as soon as ServerReady is true
    try:
        c = grpcclient.InferenceServerClient(fresh.grpc_url)
        try:
            model_ready = c.is_model_ready("add_fp32")
            elapsed = time.monotonic() - written
            assert model_ready, (
                f"ServerReady was true {elapsed:.3f} s after the model was written, "
                "but ModelReady('add_fp32') is false"
            )
            result = c.infer("add_fp32", add_inputs())
            assert_same(result.as_numpy("sum"), ADD_A + ADD_B)
        finally:
            c.close()
    finally:
        code = stop_server(fresh)
    assert code == 0, fresh.logs()[-3000:]
