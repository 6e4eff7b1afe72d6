"""End-to-end tests: an unmodified ``tritonclient.grpc`` against ``switchyard serve``
(error statuses and messages, and the Prometheus metrics they leave).

Status codes and messages follow the table in the README ("Protocol"). The
server is the session's (conftest.py); see also test_tritonclient_metadata.py
and test_tritonclient_infer.py.

Requires: tritonclient[grpc], numpy, onnxruntime, pytest.
"""

from __future__ import annotations

import re
import urllib.request

import numpy as np
import pytest
from tritonclient.utils import InferenceServerException

from triton_helpers import ADD_A, ADD_B, TRIP_FEATURES, add_inputs, assert_same, expect_error, make_input

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
# Metrics (last in this module: it also sees the traffic of the tests above)
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
