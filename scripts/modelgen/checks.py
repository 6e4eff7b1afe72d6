"""What the models' ONNX Runtime checks are written with."""

from __future__ import annotations

from typing import Callable

import numpy as np

# A check receives an onnxruntime.InferenceSession (or, for models that must
# not load, the path to the file) and raises AssertionError on a mismatch.
CheckFn = Callable[[object], None]


def assert_close(actual: np.ndarray, expected: np.ndarray, *, rtol=1e-5, atol=1e-5) -> None:
    assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape}"
    assert actual.dtype == expected.dtype, f"dtype {actual.dtype} != {expected.dtype}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


def assert_equal(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape}"
    assert actual.dtype == expected.dtype, f"dtype {actual.dtype} != {expected.dtype}"
    np.testing.assert_array_equal(actual, expected)


def run(sess, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, feeds)))
