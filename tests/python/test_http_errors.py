"""End-to-end tests: error answers over HTTP/REST with ``tritonclient.http``.

The contract: the body is ``{"error": "<message>"}``, the status follows the
gRPC code (NOT_FOUND 404, INVALID_ARGUMENT 400, UNAVAILABLE 503,
RESOURCE_EXHAUSTED 429, DEADLINE_EXCEEDED 504, INTERNAL 500), and the message
equals the gRPC message for the same bad request (sent here with
``tritonclient.grpc`` and compared). Deadlines, shedding and the body limit
need servers of their own (slow model, tiny queue, small limit); the rest
uses the session server. Raw-request errors (bad JSON, bad framing, 413 with
chunked bodies) are in test_http_raw.py.

Requires: tritonclient[http,grpc], numpy, requests, pytest.
"""

from __future__ import annotations

import queue
import re
import threading
import time

import numpy as np
import pytest
import requests
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from http_helpers import HTTP_STATUS, OwnServer, error_message, expect_http_error, ginput, hinput, hout, post
from http_helpers import base_url, hclient  # noqa: F401 (fixtures)
from triton_helpers import ADD_A, ADD_B, TRIP_FEATURES, assert_same

# --------------------------------------------------------------------------
# The same bad request over HTTP and gRPC: status mapped, message equal
# --------------------------------------------------------------------------


def _add(dt_a="FP32", a=ADD_A, b=ADD_B, extra=()):
    return [("a", a, dt_a), ("b", b, "FP32"), *extra]


# (id, model, inputs as (name, array, datatype), requested outputs, version, status)
CASES = [
    ("unknown_model", "no_such_model", _add(), None, "", 404),
    ("unknown_version", "trip_duration", [("features", TRIP_FEATURES, "FP32")], None, "3", 404),
    ("corrupt_model", "corrupt", [("x", np.zeros((1, 64), np.float32), "FP32")], None, "", 503),
    ("wrong_datatype", "add_fp32", _add("FP64", a=ADD_A.astype(np.float64)), None, "", 400),
    ("wrong_shape", "add_fp32", _add(b=np.zeros((2, 5), np.float32)), None, "", 400),
    ("wrong_rank", "fixed_shape", [("x", np.zeros((3, 3), np.float32), "FP32")], None, "", 400),
    ("missing_input", "add_fp32", _add()[:1], None, "", 400),
    ("unknown_input", "add_fp32", _add(extra=[("c", ADD_B, "FP32")]), None, "", 400),
    ("duplicate_input", "add_fp32", _add(extra=[("b", ADD_B, "FP32")]), None, "", 400),
    ("unknown_output", "add_fp32", _add(), ["product"], "", 400),
    ("batch_too_big", "trip_duration", [("features", np.ones((65, 6), np.float32), "FP32")], None, "", 400),
    ("runtime_failure", "runtime_error", [("x", np.zeros(5, np.float32), "FP32")], None, "", 500),
    # shape [1, 4] declared (16 bytes), 2x4 floats (32 bytes) sent
    ("byte_count", "add_fp32", [("a", ADD_A, "FP32", [1, 4]), ("b", ADD_B[:1], "FP32")], None, "", 400),
]


def _http_inputs(inputs, binary):
    out = []
    for name, array, datatype, *shape in inputs:
        tensor = hinput(name, array, datatype, binary)
        if shape:
            tensor.set_shape(shape[0])
        out.append(tensor)
    return out


def _grpc_inputs(inputs):
    out = []
    for name, array, datatype, *shape in inputs:
        tensor = ginput(name, array, datatype)
        if shape:
            tensor.set_shape(shape[0])
        out.append(tensor)
    return out


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_error_status_and_message_match_grpc(hclient, server, case):
    _, model, inputs, outputs, version, status = case
    http_outputs = [hout(n) for n in outputs] if outputs else None
    err = expect_http_error(
        lambda: hclient.infer(model, _http_inputs(inputs, True), model_version=version, outputs=http_outputs),
        status,
    )
    g = grpcclient.InferenceServerClient(server.grpc_url)
    try:
        grpc_outputs = [grpcclient.InferRequestedOutput(n) for n in outputs] if outputs else None
        with pytest.raises(InferenceServerException) as info:
            g.infer(model, _grpc_inputs(inputs), model_version=version, outputs=grpc_outputs)
    finally:
        g.close()
    grpc_err = info.value
    assert HTTP_STATUS[grpc_err.status()] == status, (grpc_err.status(), status)
    assert err.message() == grpc_err.message(), (err.message(), grpc_err.message())


@pytest.mark.parametrize("case", [c for c in CASES if c[0] != "byte_count"], ids=lambda c: c[0])
def test_error_with_json_tensors_same_message(hclient, case):
    """The same bad requests with the tensors in JSON: same status, same message."""
    _, model, inputs, outputs, version, status = case
    http_outputs = [hout(n, False) for n in outputs] if outputs else None
    binary = expect_http_error(
        lambda: hclient.infer(model, _http_inputs(inputs, True), model_version=version, outputs=http_outputs),
        status,
    )
    as_json = expect_http_error(
        lambda: hclient.infer(model, _http_inputs(inputs, False), model_version=version, outputs=http_outputs),
        status,
    )
    assert as_json.message() == binary.message()


def test_error_names_what_is_wrong(hclient):
    err = expect_http_error(lambda: hclient.infer("no_such_model", _http_inputs(_add(), True)), 404)
    assert "no_such_model" in err.message()
    err = expect_http_error(lambda: hclient.infer("add_fp32", _http_inputs(_add("FP64", a=ADD_A.astype(np.float64)), True)), 400)
    assert "'a'" in err.message() and "FP32" in err.message() and "FP64" in err.message(), err.message()
    err = expect_http_error(lambda: hclient.infer("add_fp32", _http_inputs(_add()[:1], True)), 400)
    assert "'b'" in err.message(), err.message()
    err = expect_http_error(lambda: hclient.infer("corrupt", [hinput("x", np.zeros((1, 64), np.float32), "FP32")]), 503)
    assert "corrupt" in err.message()


def test_fp16_as_json_is_refused(hclient):
    x = np.array([[0.5, 1.0, 2.0]], np.float16)
    err = expect_http_error(lambda: hclient.infer("fp16_ops", [hinput("x", x, "FP16", binary=False)]), 400)
    assert "'x'" in err.message() and "FP16" in err.message(), err.message()


def test_bf16_as_json_is_refused(base_url):
    body = {"inputs": [{"name": "x", "datatype": "BF16", "shape": [1, 3], "data": [0.5, 1.0, 2.0]}]}
    response = post(base_url, "/v2/models/fp16_ops/infer", json=body)
    assert "BF16" in error_message(response, 400)


def test_runtime_failure_then_success(hclient):
    expect_http_error(lambda: hclient.infer("runtime_error", [hinput("x", np.zeros(5, np.float32), "FP32")]), 500)
    good = np.arange(6, dtype=np.float32)
    result = hclient.infer("runtime_error", [hinput("x", good, "FP32")])
    assert_same(result.as_numpy("y"), good.reshape(2, 3))


def test_server_still_healthy_after_errors(hclient):
    assert hclient.is_server_live() and hclient.is_server_ready()
    result = hclient.infer("add_fp32", _http_inputs(_add(), True))
    assert_same(result.as_numpy("sum"), ADD_A + ADD_B)


# --------------------------------------------------------------------------
# Deadline (parameters.timeout, microseconds) on a slow model: 504
# --------------------------------------------------------------------------

SLOW_ROWS = 4096  # slow_mlp: ~0.3 s of compute for this many rows on one core


def test_deadline_is_504(tmp_path):
    x = np.ones((SLOW_ROWS, 64), np.float32)
    with OwnServer(tmp_path, ["slow_mlp"]) as own:
        c = httpclient.InferenceServerClient(own.http_url, network_timeout=60)
        try:
            started = time.monotonic()
            err = expect_http_error(lambda: c.infer("slow_mlp", [hinput("x", x, "FP32")], timeout=1000), 504)
            elapsed = time.monotonic() - started
            assert err.message().strip(), err.message()
            # Without a timeout the same request succeeds: the 504 came from the deadline.
            result = c.infer("slow_mlp", [hinput("x", x, "FP32")], timeout=60_000_000)
            assert result.as_numpy("y").shape == (SLOW_ROWS, 10)
            # Raw: the body is {"error": ...}.
            body = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [SLOW_ROWS, 64],
                                "data": [1.0] * (SLOW_ROWS * 64)}], "parameters": {"timeout": 1000}}
            raw = post(f"http://{own.http_url}", "/v2/models/slow_mlp/infer", json=body)
            error_message(raw, 504)
            metrics = requests.get(own.metrics_url, timeout=10).text
        finally:
            c.close()
    assert elapsed < 30, elapsed
    lines = [l for l in metrics.splitlines() if l.startswith("switchyard_requests_total{") and 'model="slow_mlp"' in l]
    assert any('code="DEADLINE_EXCEEDED"' in l for l in lines), lines


# --------------------------------------------------------------------------
# Shedding: 429
# --------------------------------------------------------------------------


def _flood_http(url, count, rows):
    """``count`` concurrent raw binary requests to mlp_small; returns the responses."""
    data = np.full((rows, 64), 0.5, np.float32).tobytes()
    header = ('{"inputs":[{"name":"x","datatype":"FP32","shape":[%d,64],"parameters":{"binary_data_size":%d}}]}'
              % (rows, len(data))).encode()
    results: queue.Queue = queue.Queue()
    start = threading.Barrier(count)

    def one():
        start.wait(timeout=30)
        results.put(requests.post(f"http://{url}/v2/models/mlp_small/infer", data=header + data, timeout=60,
                                  headers={"Inference-Header-Content-Length": str(len(header))}))

    threads = [threading.Thread(target=one) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return [results.get_nowait() for _ in range(results.qsize())]


def _flood_grpc(url, count, rows):
    x = np.full((rows, 64), 0.5, np.float32)
    answers: queue.Queue = queue.Queue()
    c = grpcclient.InferenceServerClient(url)
    try:
        for _ in range(count):
            c.async_infer("mlp_small", [ginput("x", x, "FP32")], callback=lambda result, error: answers.put(error))
        return [answers.get(timeout=120) for _ in range(count)]
    finally:
        c.close()


@pytest.mark.parametrize(
    "args, config, marker",
    [((), "max_queue_size: 1\n", "queue is full"),
     (("--max-concurrent-requests", "2"), "max_queue_size: 64\n", "concurrency limit")],
    ids=["queue_full", "concurrency_limit"],
)
def test_shed_is_429_with_the_grpc_message(tmp_path, args, config, marker):
    with OwnServer(tmp_path, ["mlp_small"], *args, configs={"mlp_small": config}) as own:
        responses = _flood_http(own.http_url, 24, 4096)
        grpc_errors = [e for e in _flood_grpc(own.grpc_url, 24, 4096) if e is not None]
    assert len(responses) == 24
    ok = [r for r in responses if r.status_code == 200]
    shed = [r for r in responses if r.status_code != 200]
    assert ok, "some requests must be served"
    assert shed, "24 concurrent requests must shed some"
    http_messages = {error_message(r, 429) for r in shed}
    assert all(marker in m for m in http_messages), http_messages
    assert grpc_errors and {e.status() for e in grpc_errors} == {"StatusCode.RESOURCE_EXHAUSTED"}
    assert http_messages == {e.message() for e in grpc_errors}


# --------------------------------------------------------------------------
# Body over --max-message-bytes: 413 (tritonclient.http; raw forms in test_http_raw.py)
# --------------------------------------------------------------------------


def test_body_over_limit_is_413(tmp_path):
    with OwnServer(tmp_path, ["add_fp32"], "--max-message-bytes", "2048") as own:
        c = httpclient.InferenceServerClient(own.http_url)
        try:
            small = c.infer("add_fp32", [hinput("a", ADD_A, "FP32"), hinput("b", ADD_B, "FP32")])
            assert_same(small.as_numpy("sum"), ADD_A + ADD_B)
            big = np.ones((128, 4), np.float32)  # 2 KiB per input, 4 KiB in all
            err = expect_http_error(lambda: c.infer("add_fp32", [hinput("a", big, "FP32"), hinput("b", big, "FP32")]), 413)
            assert "2048" in err.message(), err.message()
            assert c.is_server_ready()
        finally:
            c.close()


# --------------------------------------------------------------------------
# Metrics count HTTP requests like gRPC ones
# --------------------------------------------------------------------------


def _count(text, model, code):
    total = 0.0
    for line in text.splitlines():
        if line.startswith("switchyard_requests_total{") and f'model="{model}"' in line and f'code="{code}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_count_http_requests(tmp_path):
    with OwnServer(tmp_path, ["add_fp32"]) as own:
        c = httpclient.InferenceServerClient(own.http_url)
        try:
            for _ in range(3):
                c.infer("add_fp32", _http_inputs(_add(), True))
            for _ in range(2):
                expect_http_error(lambda: c.infer("add_fp32", _http_inputs(_add()[:1], True)), 400)
        finally:
            c.close()
        text = requests.get(own.metrics_url, timeout=10).text
    assert _count(text, "add_fp32", "OK") == 3, text[:3000]
    assert _count(text, "add_fp32", "INVALID_ARGUMENT") == 2, text[:3000]
    assert re.search(r'^switchyard_request_duration_seconds_bucket\{[^}]*model="add_fp32"', text, re.M)
