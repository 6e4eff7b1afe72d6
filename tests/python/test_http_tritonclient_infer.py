"""End-to-end tests: inference with an unmodified ``tritonclient.http`` against
``switchyard serve``'s REST port: every datatype, with tensors as binary data
and as JSON both ways, output selection, explicit versions, the canary route
with its sticky header read from HTTP headers, request and response
compression, and a generous ``timeout`` that does not fire.

The HTTP twin of test_tritonclient_infer.py (answers checked with numpy or
ONNX Runtime, and against the gRPC answer); the server is the session's.

Requires: tritonclient[http], tritonclient[grpc], numpy, onnxruntime, pytest.
"""

from __future__ import annotations

import shutil

import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from conftest import SAMPLE_REPO, build_repo, start_server, stop_server
from http_helpers import ginput, hinput, hout, result_outputs
from http_helpers import grpc_client, hclient  # noqa: F401 (fixtures)
from triton_helpers import ADD_A, ADD_B, TRIP_FEATURES, assert_same, onnx_reference

BOTH = pytest.mark.parametrize("binary_in, binary_out", [(True, True), (False, False), (True, False), (False, True)])


def add_http_inputs(binary=True, a=ADD_A, b=ADD_B):
    return [hinput("a", a, "FP32", binary), hinput("b", b, "FP32", binary)]


def assert_encoding(result, name, binary):
    """The output travelled the way it was asked: binary data or JSON ``data``."""
    output = result_outputs(result)[name]
    if binary:
        assert "data" not in output and output["parameters"]["binary_data_size"] > 0, output
    else:
        assert "data" in output and "binary_data_size" not in (output.get("parameters") or {}), output


# --------------------------------------------------------------------------
# Inference, per datatype
# --------------------------------------------------------------------------


def test_infer_fp32_all_outputs_binary_by_default(hclient):
    result = hclient.infer("add_fp32", add_http_inputs(), request_id="req-42")
    response = result.get_response()
    assert sorted(result_outputs(result)) == ["diff", "sum"]
    assert response["id"] == "req-42"
    assert response["model_name"] == "add_fp32"
    assert response["model_version"] == "1"
    assert_same(result.as_numpy("sum"), ADD_A + ADD_B)
    assert result_outputs(result)["sum"]["shape"] == [2, 4]
    assert_encoding(result, "sum", True)
    assert_encoding(result, "diff", True)


@BOTH
def test_infer_fp32_json_and_binary(hclient, binary_in, binary_out):
    result = hclient.infer("add_fp32", add_http_inputs(binary_in), outputs=[hout("sum", binary_out), hout("diff", binary_out)])
    assert_same(result.as_numpy("sum"), ADD_A + ADD_B)
    assert_same(result.as_numpy("diff"), ADD_A - ADD_B)
    assert_encoding(result, "sum", binary_out)


def test_infer_selected_output_only(hclient):
    result = hclient.infer("add_fp32", add_http_inputs(), outputs=[hout("diff")])
    assert list(result_outputs(result)) == ["diff"]
    assert result.as_numpy("sum") is None
    assert_same(result.as_numpy("diff"), ADD_A - ADD_B)


def test_infer_outputs_mixed_binary_and_json(hclient):
    result = hclient.infer("add_fp32", add_http_inputs(), outputs=[hout("sum", True), hout("diff", False)])
    assert_encoding(result, "sum", True)
    assert_encoding(result, "diff", False)
    assert_same(result.as_numpy("sum"), ADD_A + ADD_B)
    assert_same(result.as_numpy("diff"), ADD_A - ADD_B)


@BOTH
def test_infer_int64(hclient, binary_in, binary_out):
    x = np.array([[1, -2, 3], [2**40, 0, -(2**40)]], np.int64)
    result = hclient.infer("int64_ops", [hinput("x", x, "INT64", binary_in)], outputs=[hout("y", binary_out)])
    assert_same(result.as_numpy("y"), x * 3)


def test_infer_int64_extremes_survive_json(hclient):
    # Past 2^53: a JSON number parsed through a double would lose the low bits.
    x = np.array([[2**62 + 1, -(2**62) - 3, 2**53 + 1]], np.int64)
    result = hclient.infer("int64_ops", [hinput("x", x // 3, "INT64", False)], outputs=[hout("y", False)])
    assert_same(result.as_numpy("y"), (x // 3) * 3)


def test_infer_fp16_binary(hclient):
    x = np.array([[0.5, -1.0, 2.25], [100.0, 0.0, -0.125]], np.float16)
    result = hclient.infer("fp16_ops", [hinput("x", x, "FP16")], outputs=[hout("y")])
    assert result_outputs(result)["y"]["datatype"] == "FP16"
    assert_same(result.as_numpy("y"), x + np.float16(1))


def test_infer_fp16_json_output_is_refused_or_binary(hclient):
    """FP16 travels only in binary: asking for it as JSON must not give a JSON
    list of rounded floats; either the answer is binary or the request is refused."""
    x = np.array([[0.5, -1.0, 2.25]], np.float16)
    try:
        result = hclient.infer("fp16_ops", [hinput("x", x, "FP16")], outputs=[hout("y", False)])
    except InferenceServerException as exc:
        assert exc.status() == "400", (exc.status(), exc.message())
        assert "'y'" in exc.message() or "FP16" in exc.message(), exc.message()
        return
    assert_encoding(result, "y", True)
    assert_same(result.as_numpy("y"), x + np.float16(1))


@BOTH
def test_infer_fp64(hclient, binary_in, binary_out):
    x = np.array([[1.0, -3.0], [1e300, 2.0**-1000], [np.pi, -0.0]], np.float64)
    result = hclient.infer("fp64_ops", [hinput("x", x, "FP64", binary_in)], outputs=[hout("y", binary_out)])
    assert_same(result.as_numpy("y"), x * 0.5)


@BOTH
def test_infer_bool(hclient, binary_in, binary_out):
    x = np.array([[True, False], [False, False], [True, True]])
    result = hclient.infer("bool_not", [hinput("x", x, "BOOL", binary_in)], outputs=[hout("y", binary_out)])
    assert_same(result.as_numpy("y"), ~x)
    if not binary_out:
        assert result_outputs(result)["y"]["data"] == [False, True, True, True, False, False]


TEXTS = ["hello", "", "ünïcödé ✓", "tab\tand\nnewline", 'quote " and \\ backslash', "日本語テキスト", "x" * 1000]


@BOTH
def test_infer_bytes(hclient, binary_in, binary_out):
    text = np.array([t.encode("utf-8") for t in TEXTS], dtype=np.object_)
    result = hclient.infer("string_identity", [hinput("text", text, "BYTES", binary_in)], outputs=[hout("out", binary_out)])
    out = result.as_numpy("out")
    assert result_outputs(result)["out"]["datatype"] == "BYTES"
    assert result_outputs(result)["out"]["shape"] == [len(TEXTS)]
    decoded = [v.decode("utf-8") if isinstance(v, bytes) else v for v in out]
    assert decoded == TEXTS
    if not binary_out:
        assert result_outputs(result)["out"]["data"] == TEXTS


CAST_TARGETS = [
    ("as_int8", np.int8), ("as_uint16", np.uint16), ("as_int16", np.int16),
    ("as_uint32", np.uint32), ("as_int32", np.int32), ("as_uint64", np.uint64),
]
PASSTHROUGH = [
    ("u16", np.uint16, "UINT16"), ("i8", np.int8, "INT8"), ("u32", np.uint32, "UINT32"),
    ("u64", np.uint64, "UINT64"), ("i16", np.int16, "INT16"), ("i32", np.int32, "INT32"),
]


@BOTH
def test_infer_cast_many_every_integer_type(hclient, binary_in, binary_out):
    x = np.array([[0, 1], [127, 255]], np.uint8)
    feeds = {"x": (x, "UINT8")}
    for name, dtype, datatype in PASSTHROUGH:
        info = np.iinfo(dtype)
        feeds[name] = (np.array([info.min, 0, 1, info.max], dtype), datatype)
    feeds["i8"] = (feeds["i8"][0][:3], "INT8")
    feeds["u64"] = (np.append(feeds["u64"][0], np.uint64(42)), "UINT64")
    names = [n for n, _ in CAST_TARGETS] + [f"{n}_out" for n, _, _ in PASSTHROUGH]
    result = hclient.infer(
        "cast_many",
        [hinput(n, a, dt, binary_in) for n, (a, dt) in feeds.items()],
        outputs=[hout(n, binary_out) for n in names],
    )
    for name, dtype in CAST_TARGETS:
        assert_same(result.as_numpy(name), x.astype(dtype))
    assert result.as_numpy("as_int8")[1, 1] == -1
    for name, _, datatype in PASSTHROUGH:
        assert result_outputs(result)[f"{name}_out"]["datatype"] == datatype
        assert_same(result.as_numpy(f"{name}_out"), feeds[name][0])
    assert result.as_numpy("u64_out")[3] == np.iinfo(np.uint64).max


def test_infer_fixed_shape(hclient):
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    result = hclient.infer("fixed_shape", [hinput("x", x, "FP32", False)], outputs=[hout("y", False)])
    assert result_outputs(result)["y"]["shape"] == [2, 3]
    assert_same(result.as_numpy("y"), x + 1)


def test_infer_mlp_small_matches_onnxruntime_and_grpc(hclient, grpc_client, server):
    x = np.random.default_rng(1).normal(size=(5, 64)).astype(np.float32)
    y = hclient.infer("mlp_small", [hinput("x", x, "FP32")]).as_numpy("y")
    path = server.repo / "mlp_small" / "1" / "model.onnx"
    expected = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(["y"], {"x": x})[0]
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
    over_grpc = grpc_client.infer("mlp_small", [ginput("x", x, "FP32")]).as_numpy("y")
    assert_same(y, over_grpc)


# --------------------------------------------------------------------------
# Versions and the canary route
# --------------------------------------------------------------------------


@pytest.mark.parametrize("version", [1, 2])
def test_trip_duration_explicit_version_matches_onnxruntime(hclient, server, version):
    result = hclient.infer("trip_duration", [hinput("features", TRIP_FEATURES, "FP32")], model_version=str(version))
    response = result.get_response()
    assert (response["model_name"], response["model_version"]) == ("trip_duration", str(version))
    got = result.as_numpy("duration_min")
    np.testing.assert_allclose(got, onnx_reference(server, version, TRIP_FEATURES), rtol=1e-5)


def test_route_answers_name_the_version_that_answered(hclient, server):
    expected = {v: onnx_reference(server, v, TRIP_FEATURES) for v in (1, 2)}
    assert not np.allclose(expected[1], expected[2], rtol=1e-3)
    for _ in range(10):
        result = hclient.infer("trip_duration", [hinput("features", TRIP_FEATURES, "FP32")])
        version = result.get_response()["model_version"]
        assert version in ("1", "2"), result.get_response()
        got = result.as_numpy("duration_min")
        np.testing.assert_allclose(got, expected[int(version)], rtol=1e-5)


@pytest.fixture(scope="module")
def route_server(tmp_path_factory):
    """A server with the sample's canary route (routes.yaml: 90/10 between
    trip_duration versions 1 and 2, sticky header x-user-id). The session
    server has the trip_duration model but not its routes file."""
    repo = build_repo(tmp_path_factory.mktemp("routes") / "models", fixture_names=())
    shutil.copy(SAMPLE_REPO / "routes.yaml", repo / "routes.yaml")
    server = start_server(repo)
    try:
        yield server
    finally:
        code = stop_server(server)
    assert code == 0, server.logs()[-3000:]


def test_sticky_header_from_http_headers(route_server):
    """The route's sticky header (x-user-id) is read from the HTTP request
    headers: the same value always lands on the same version, over HTTP and
    over gRPC alike (the placement is a stable hash of the value)."""
    h = httpclient.InferenceServerClient(route_server.http_url)
    g = grpcclient.InferenceServerClient(route_server.grpc_url)
    try:
        features = [hinput("features", TRIP_FEATURES[:1], "FP32")]
        placed = {}
        for i in range(60):
            user = f"user-{i}"
            versions = {
                h.infer("trip_duration", features, headers={"x-user-id": user}).get_response()["model_version"]
                for _ in range(3)
            }
            assert len(versions) == 1, (user, versions)
            placed[user] = versions.pop()
            over_grpc = g.infer(
                "trip_duration", [ginput("features", TRIP_FEATURES[:1], "FP32")], headers={"x-user-id": user}
            )
            assert over_grpc.get_response().model_version == placed[user], user
        # 90/10 weights: 60 users see both sides (fixed by the hash, not by chance per run).
        assert set(placed.values()) == {"1", "2"}, placed
        assert list(placed.values()).count("1") > list(placed.values()).count("2"), placed
        # An explicit version bypasses the route.
        for version in ("1", "2"):
            result = h.infer("trip_duration", features, model_version=version, headers={"x-user-id": "user-0"})
            assert result.get_response()["model_version"] == version
    finally:
        h.close()
        g.close()


# --------------------------------------------------------------------------
# Compression and deadlines through tritonclient.http's options
# --------------------------------------------------------------------------


@pytest.mark.parametrize("request_algorithm", [None, "gzip", "deflate"])
@pytest.mark.parametrize("response_algorithm", [None, "gzip", "deflate"])
def test_compression_options(hclient, request_algorithm, response_algorithm):
    a = np.arange(4096, dtype=np.float32).reshape(1024, 4)
    b = np.ones((1024, 4), np.float32)
    result = hclient.infer(
        "add_fp32",
        add_http_inputs(a=a, b=b),
        request_compression_algorithm=request_algorithm,
        response_compression_algorithm=response_algorithm,
    )
    assert_same(result.as_numpy("sum"), a + b)
    assert_same(result.as_numpy("diff"), a - b)


def test_generous_timeout_does_not_fire(hclient):
    result = hclient.infer("add_fp32", add_http_inputs(), timeout=30_000_000)  # 30 s in microseconds
    assert_same(result.as_numpy("sum"), ADD_A + ADD_B)
