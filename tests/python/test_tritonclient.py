"""End-to-end tests: an unmodified ``tritonclient.grpc`` against ``switchyard serve``.

One server (the session fixture ``switchyard_server`` in conftest.py) serves a
temporary repository holding the fixture models and the sample
``trip_duration`` model. Every test talks to it exactly the way a Triton user
would, and compares answers with numpy or with ONNX Runtime run locally on the
same model file. Status codes and messages follow the table in DESIGN.md
("Protocol").

Requires: tritonclient[grpc], numpy, onnxruntime, pytest.
"""

from __future__ import annotations

import queue
import re
import time
import urllib.request

import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from conftest import FIXTURE_MODELS, start_server, stop_server

# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(switchyard_server):
    return switchyard_server


@pytest.fixture()
def client(server):
    c = grpcclient.InferenceServerClient(server.grpc_url)
    try:
        yield c
    finally:
        c.close()


def make_input(name: str, array: np.ndarray, datatype: str) -> grpcclient.InferInput:
    tensor = grpcclient.InferInput(name, list(array.shape), datatype)
    tensor.set_data_from_numpy(array)
    return tensor


def expect_error(call, status: str) -> InferenceServerException:
    """Runs ``call``; asserts it raises InferenceServerException with ``status``."""
    with pytest.raises(InferenceServerException) as info:
        call()
    assert info.value.status() == status, (info.value.status(), info.value.message())
    return info.value


def assert_same(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual is not None, "output missing from the response"
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    np.testing.assert_array_equal(actual, expected)


def output_names(result) -> list[str]:
    return [o.name for o in result.get_response().outputs]


# Inputs reused by several tests.
ADD_A = np.arange(8, dtype=np.float32).reshape(2, 4)
ADD_B = np.full((2, 4), 0.5, np.float32)
TRIP_FEATURES = np.array(
    [
        [8, 0, 10.0, 1, 0, 0.0],  # weekday rush hour
        [3, 6, 10.0, 1, 0, 0.0],  # Sunday night
        [17, 2, 25.5, 3, 1, 4.2],  # airport in the rain
        [12, 4, 1.2, 6, 0, 0.0],
        [0, 0, 0.0, 1, 0, 0.0],
    ],
    np.float32,
)


def add_inputs(a=ADD_A, b=ADD_B):
    return [make_input("a", a, "FP32"), make_input("b", b, "FP32")]


def onnx_reference(server, version: int, features: np.ndarray) -> np.ndarray:
    path = server.repo / "trip_duration" / str(version) / "model.onnx"
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["duration_min"], {"features": features})[0]


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
# Inference, per datatype
# --------------------------------------------------------------------------


def test_infer_fp32_all_outputs(client):
    result = client.infer("add_fp32", add_inputs(), request_id="req-42")
    assert sorted(output_names(result)) == ["diff", "sum"]
    assert_same(result.as_numpy("sum"), ADD_A + ADD_B)
    assert_same(result.as_numpy("diff"), ADD_A - ADD_B)
    response = result.get_response()
    assert response.id == "req-42"
    assert response.model_name == "add_fp32"
    assert response.model_version == "1"


def test_infer_selected_output_only(client):
    result = client.infer(
        "add_fp32", add_inputs(), outputs=[grpcclient.InferRequestedOutput("diff")]
    )
    assert output_names(result) == ["diff"]
    assert result.as_numpy("sum") is None
    assert_same(result.as_numpy("diff"), ADD_A - ADD_B)


def test_infer_unknown_requested_output(client):
    err = expect_error(
        lambda: client.infer(
            "add_fp32", add_inputs(), outputs=[grpcclient.InferRequestedOutput("product")]
        ),
        "StatusCode.INVALID_ARGUMENT",
    )
    assert "product" in err.message()


@pytest.mark.parametrize("version", [1, 2])
def test_trip_duration_explicit_version_matches_onnxruntime(client, server, version):
    result = client.infer(
        "trip_duration",
        [make_input("features", TRIP_FEATURES, "FP32")],
        model_version=str(version),
    )
    response = result.get_response()
    assert response.model_name == "trip_duration"
    assert response.model_version == str(version)
    got = result.as_numpy("duration_min")
    expected = onnx_reference(server, version, TRIP_FEATURES)
    assert got.dtype == np.float32 and got.shape == (len(TRIP_FEATURES), 1)
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_trip_duration_versions_differ_and_default_is_latest(client, server):
    v1 = onnx_reference(server, 1, TRIP_FEATURES)
    v2 = onnx_reference(server, 2, TRIP_FEATURES)
    # Otherwise the test could not tell which version answered.
    assert not np.allclose(v1, v2, rtol=1e-3)
    result = client.infer("trip_duration", [make_input("features", TRIP_FEATURES, "FP32")])
    assert result.get_response().model_version == "2"
    np.testing.assert_allclose(result.as_numpy("duration_min"), v2, rtol=1e-5)


def test_trip_duration_full_batch(client, server):
    features = np.random.default_rng(3).uniform(0, 20, (64, 6)).astype(np.float32)
    result = client.infer("trip_duration", [make_input("features", features, "FP32")])
    np.testing.assert_allclose(
        result.as_numpy("duration_min"), onnx_reference(server, 2, features), rtol=1e-5
    )


def test_infer_int64(client):
    x = np.array([[1, -2, 3], [2**40, 0, -(2**40)]], np.int64)
    result = client.infer("int64_ops", [make_input("x", x, "INT64")])
    assert_same(result.as_numpy("y"), x * 3)


def test_infer_fp16(client):
    x = np.array([[0.5, -1.0, 2.25], [100.0, 0.0, -0.125]], np.float16)
    result = client.infer("fp16_ops", [make_input("x", x, "FP16")])
    assert_same(result.as_numpy("y"), x + np.float16(1))


def test_infer_fp64(client):
    x = np.array([[1.0, -3.0], [1e300, 2.0**-1000], [np.pi, -0.0]], np.float64)
    result = client.infer("fp64_ops", [make_input("x", x, "FP64")])
    assert_same(result.as_numpy("y"), x * 0.5)


def test_infer_bool(client):
    x = np.array([[True, False], [False, False], [True, True]])
    result = client.infer("bool_not", [make_input("x", x, "BOOL")])
    assert_same(result.as_numpy("y"), ~x)


def test_infer_bytes(client):
    texts = ["hello", "", "ünïcödé ✓", "tab\tand\nnewline", "日本語テキスト", "x" * 1000]
    text = np.array([t.encode("utf-8") for t in texts], dtype=np.object_)
    result = client.infer("string_identity", [make_input("text", text, "BYTES")])
    out = result.as_numpy("out")
    assert out.shape == (len(texts),)
    assert [bytes(v).decode("utf-8") for v in out] == texts
    assert result.get_output("out").datatype == "BYTES"


def test_infer_bytes_all_empty(client):
    text = np.array([b"", b""], dtype=np.object_)
    out = client.infer("string_identity", [make_input("text", text, "BYTES")]).as_numpy("out")
    assert out.shape == (2,) and list(out) == [b"", b""]


CAST_TARGETS = [
    ("as_int8", np.int8), ("as_uint16", np.uint16), ("as_int16", np.int16),
    ("as_uint32", np.uint32), ("as_int32", np.int32), ("as_uint64", np.uint64),
]
PASSTHROUGH = [
    ("u16", np.uint16, "UINT16"), ("i8", np.int8, "INT8"), ("u32", np.uint32, "UINT32"),
    ("u64", np.uint64, "UINT64"), ("i16", np.int16, "INT16"), ("i32", np.int32, "INT32"),
]


def test_infer_cast_many_every_integer_type(client):
    x = np.array([[0, 1], [127, 255]], np.uint8)
    feeds = {"x": (x, "UINT8")}
    for name, dtype, datatype in PASSTHROUGH:
        info = np.iinfo(dtype)
        feeds[name] = (np.array([info.min, 0, 1, info.max], dtype), datatype)
    # The 1-D inputs have independent lengths.
    feeds["i8"] = (feeds["i8"][0][:3], "INT8")
    feeds["u64"] = (np.append(feeds["u64"][0], np.uint64(42)), "UINT64")
    result = client.infer("cast_many", [make_input(n, a, dt) for n, (a, dt) in feeds.items()])

    for name, dtype in CAST_TARGETS:
        assert_same(result.as_numpy(name), x.astype(dtype))
    # Cast wraps like C: 255 as int8 is -1.
    assert result.as_numpy("as_int8")[1, 1] == -1
    for name, _, datatype in PASSTHROUGH:
        assert result.get_output(f"{name}_out").datatype == datatype
        assert_same(result.as_numpy(f"{name}_out"), feeds[name][0])
    assert result.as_numpy("u64_out")[3] == np.iinfo(np.uint64).max


def test_infer_fixed_shape(client):
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert_same(client.infer("fixed_shape", [make_input("x", x, "FP32")]).as_numpy("y"), x + 1)


def test_infer_mlp_small_matches_onnxruntime(client, server):
    x = np.random.default_rng(1).normal(size=(5, 64)).astype(np.float32)
    result = client.infer("mlp_small", [make_input("x", x, "FP32")])
    path = server.repo / "mlp_small" / "1" / "model.onnx"
    expected = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(["y"], {"x": x})[0]
    y = result.as_numpy("y")
    assert y.shape == (5, 10) and y.dtype == np.float32
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------
# Streaming
# --------------------------------------------------------------------------


def test_stream_infer(client):
    answers: queue.Queue = queue.Queue()
    client.start_stream(callback=lambda result, error: answers.put((result, error)))
    try:
        sent = {}
        for i in range(4):
            a = ADD_A + i
            sent[f"stream-{i}"] = a
            client.async_stream_infer("add_fp32", add_inputs(a=a), request_id=f"stream-{i}")
        got = {}
        for _ in range(len(sent)):
            result, error = answers.get(timeout=10)
            assert error is None, error
            response = result.get_response()
            got[response.id] = result
        assert sorted(got) == sorted(sent)
        for request_id, a in sent.items():
            assert_same(got[request_id].as_numpy("sum"), a + ADD_B)
            assert_same(got[request_id].as_numpy("diff"), a - ADD_B)
            assert got[request_id].get_response().model_name == "add_fp32"
    finally:
        client.stop_stream()


def test_stream_error_keeps_stream_open(client):
    answers: queue.Queue = queue.Queue()
    client.start_stream(callback=lambda result, error: answers.put((result, error)))
    try:
        client.async_stream_infer("no_such_model", add_inputs(), request_id="bad")
        result, error = answers.get(timeout=10)
        assert result is None and error is not None
        assert "no_such_model" in str(error)
        # The stream survives the error.
        client.async_stream_infer("add_fp32", add_inputs(), request_id="good")
        result, error = answers.get(timeout=10)
        assert error is None, error
        assert result.get_response().id == "good"
        assert_same(result.as_numpy("sum"), ADD_A + ADD_B)
    finally:
        client.stop_stream()


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


def test_error_unknown_model(client):
    err = expect_error(lambda: client.infer("no_such_model", add_inputs()), "StatusCode.NOT_FOUND")
    assert "no_such_model" in err.message()


def test_error_unknown_version(client):
    expect_error(
        lambda: client.infer(
            "trip_duration", [make_input("features", TRIP_FEATURES, "FP32")], model_version="3"
        ),
        "StatusCode.NOT_FOUND",
    )


def test_error_corrupt_model_unavailable(client):
    x = np.zeros((1, 64), np.float32)
    err = expect_error(lambda: client.infer("corrupt", [make_input("x", x, "FP32")]), "StatusCode.UNAVAILABLE")
    assert "corrupt" in err.message()


def test_error_wrong_datatype(client):
    a = ADD_A.astype(np.float64)
    err = expect_error(
        lambda: client.infer("add_fp32", [make_input("a", a, "FP64"), make_input("b", ADD_B, "FP32")]),
        "StatusCode.INVALID_ARGUMENT",
    )
    assert "'a'" in err.message() or " a " in err.message(), err.message()
    assert "FP32" in err.message() and "FP64" in err.message(), err.message()


def test_error_wrong_shape(client):
    b = np.zeros((2, 5), np.float32)
    err = expect_error(
        lambda: client.infer("add_fp32", [make_input("a", ADD_A, "FP32"), make_input("b", b, "FP32")]),
        "StatusCode.INVALID_ARGUMENT",
    )
    assert "'b'" in err.message(), err.message()


def test_error_wrong_rank(client):
    err = expect_error(
        lambda: client.infer("fixed_shape", [make_input("x", np.zeros((3, 3), np.float32), "FP32")]),
        "StatusCode.INVALID_ARGUMENT",
    )
    assert "'x'" in err.message(), err.message()


def test_error_missing_input(client):
    err = expect_error(
        lambda: client.infer("add_fp32", [make_input("a", ADD_A, "FP32")]),
        "StatusCode.INVALID_ARGUMENT",
    )
    assert "'b'" in err.message(), err.message()


def test_error_unknown_input(client):
    err = expect_error(
        lambda: client.infer("add_fp32", add_inputs() + [make_input("c", ADD_B, "FP32")]),
        "StatusCode.INVALID_ARGUMENT",
    )
    assert "'c'" in err.message(), err.message()


def test_error_byte_count_mismatch(client):
    # Declared shape [1, 4] (16 bytes) but 32 bytes of data.
    a = make_input("a", ADD_A, "FP32")
    a.set_shape([1, 4])
    b = make_input("b", ADD_B[:1], "FP32")
    err = expect_error(lambda: client.infer("add_fp32", [a, b]), "StatusCode.INVALID_ARGUMENT")
    assert "'a'" in err.message(), err.message()


def test_error_runtime_failure_is_internal(client):
    x = np.zeros(5, np.float32)
    expect_error(lambda: client.infer("runtime_error", [make_input("x", x, "FP32")]), "StatusCode.INTERNAL")
    # And the same model still works for a valid input afterwards.
    good = np.arange(6, dtype=np.float32)
    result = client.infer("runtime_error", [make_input("x", good, "FP32")])
    assert_same(result.as_numpy("y"), good.reshape(2, 3))


def test_error_batch_above_max_batch_size(client):
    features = np.ones((65, 6), np.float32)
    err = expect_error(
        lambda: client.infer("trip_duration", [make_input("features", features, "FP32")]),
        "StatusCode.INVALID_ARGUMENT",
    )
    assert "features" in err.message() and "65" in err.message(), err.message()


def test_server_still_healthy_after_errors(client):
    assert client.is_server_live() and client.is_server_ready()
    result = client.infer("add_fp32", add_inputs())
    assert_same(result.as_numpy("sum"), ADD_A + ADD_B)


# --------------------------------------------------------------------------
# Metrics (last: it also sees the traffic of the tests above)
# --------------------------------------------------------------------------


def test_metrics(client, server):
    # Make sure at least one OK and one INVALID_ARGUMENT request were counted,
    # even when this test runs alone.
    client.infer("add_fp32", add_inputs())
    with pytest.raises(InferenceServerException):
        client.infer("add_fp32", [make_input("a", ADD_A, "FP32")])

    with urllib.request.urlopen(server.metrics_url, timeout=10) as response:
        assert response.status == 200
        text = response.read().decode("utf-8")

    requests = [l for l in text.splitlines() if l.startswith("switchyard_requests_total{")]
    assert requests, text[:2000]
    assert any('code="OK"' in l and 'model="add_fp32"' in l for l in requests), requests
    assert any('code="INVALID_ARGUMENT"' in l and 'model="add_fp32"' in l for l in requests), requests
    ok = [l for l in requests if 'code="OK"' in l and 'model="add_fp32"' in l]
    assert float(ok[0].rsplit(" ", 1)[1]) >= 1

    assert re.search(r'^switchyard_request_duration_seconds_bucket\{[^}]*le="[^"]+"[^}]*\} \d', text, re.M), (
        "no request_duration_seconds histogram buckets:\n" + text[:2000]
    )
    assert re.search(r'^switchyard_request_duration_seconds_bucket\{[^}]*le="\+Inf"', text, re.M)


# --------------------------------------------------------------------------
# Readiness with a freshly written repository (own short-lived server)
# --------------------------------------------------------------------------

def test_server_ready_means_fresh_models_loaded(tmp_path):
    """A repository written just before start (e.g. by an init container).

    DESIGN.md: ServerReady turns true once the first scan has loaded what it
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
