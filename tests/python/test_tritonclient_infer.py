"""End-to-end tests: an unmodified ``tritonclient.grpc`` against ``switchyard serve``
(inference per datatype, output selection, model versions, streaming).

Answers are compared with numpy or with ONNX Runtime run locally on the same
model file. The server is the session's (conftest.py); see also
test_tritonclient_metadata.py and test_tritonclient_errors.py.

Requires: tritonclient[grpc], numpy, onnxruntime, pytest.
"""

from __future__ import annotations

import queue

import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.grpc as grpcclient

from triton_helpers import (
    ADD_A,
    ADD_B,
    TRIP_FEATURES,
    add_inputs,
    assert_same,
    expect_error,
    make_input,
    onnx_reference,
    output_names,
)

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
