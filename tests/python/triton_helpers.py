"""Helpers shared by the tritonclient interop tests (test_tritonclient_*.py):
building inputs, asserting answers and error statuses, the inputs several tests
reuse, and ONNX Runtime run locally as the reference. The ``server`` and
``client`` fixtures are in conftest.py."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException


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
