#!/usr/bin/env python3
"""Generate the ONNX models used by Switchyard's quickstart and test suite.

Run from anywhere (paths default to locations relative to the repository root):

    python scripts/make_models.py            # (re)write every model
    python scripts/make_models.py --check    # ...and run each one through ONNX Runtime

Two sets of models are produced.

1. The sample model repository served by the README quickstart
   (``model_repo/`` by default, override with ``--out-repo``)::

       model_repo/trip_duration/config.yaml
       model_repo/trip_duration/1/model.onnx   linear regression (least squares)
       model_repo/trip_duration/2/model.onnx   6-16-1 ReLU MLP (gradient descent, Adam)

   Both versions predict a taxi trip duration in minutes from six features and
   are trained on synthetic trips generated here.

2. Small test fixtures (``tests/fixtures/models/`` by default, override with
   ``--out-fixtures``), each laid out as ``<name>/1/model.onnx`` so a test can copy
   a whole model directory into a temporary repository. They cover every tensor
   element type the gateway converts, shape edge cases, a model that fails at
   run time, a model that fails to load, and a mid-sized MLP for batching
   benchmarks.

Everything is built directly with the ``onnx.helper`` API (no training framework),
uses opset 17 and IR version 9 so that ONNX Runtime 1.31 can load it, and is
deterministic: random numbers come from fixed seeds, so re-running the script
reproduces byte-identical files.

``--check`` imports onnxruntime, loads every generated model on the CPU provider
and asserts that it produces the expected outputs (or the expected failure).

3. On request only, one big model for the hot-reload soak benchmark
   (``scripts/soak-reload.sh``)::

       python scripts/make_models.py --big-model /tmp/a.onnx              # ~40 MB
       python scripts/make_models.py --big-model /tmp/b.onnx --seed 1     # same shape, other weights

   A 256-H-H-10 ReLU MLP (input ``x`` float32 [batch, 256], output ``y`` float32
   [batch, 10]); H is ``--big-hidden`` (default 3072, about 41 MB). Two seeds give
   two files of the same size whose outputs differ, so a client can tell which
   one is serving. With ``--big-model`` only that file is written (and checked
   with ``--check``); the sample repository and fixtures are left alone.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 9
PRODUCER = "switchyard/scripts/make_models.py"

REPO_ROOT = Path(__file__).resolve().parent.parent

TRIP_CONFIG_YAML = """\
# Serve both versions so a route can split traffic between them.
version_policy: {all: true}
max_batch_size: 64
"""

# A check receives an onnxruntime.InferenceSession (or, for models that must
# not load, the path to the file) and raises AssertionError on a mismatch.
CheckFn = Callable[[object], None]


@dataclass
class Artifact:
    """One generated model file plus how to verify it."""

    path: Path
    payload: onnx.ModelProto | bytes
    check: CheckFn
    expect_load_failure: bool = False


# --------------------------------------------------------------------------
# Graph-building helpers
# --------------------------------------------------------------------------


def tensor(name: str, elem_type: int, shape: list, doc: str = "") -> onnx.ValueInfoProto:
    """Value info; shape entries are ints (fixed) or strings (symbolic dims)."""
    return helper.make_tensor_value_info(name, elem_type, shape, doc_string=doc)


def const(name: str, value: np.ndarray) -> TensorProto:
    return numpy_helper.from_array(np.asarray(value), name=name)


def finish(
    name: str,
    nodes: list,
    inputs: list,
    outputs: list,
    initializers: list | None = None,
    doc: str = "",
    metadata: dict[str, str] | None = None,
    *,
    producer: str = PRODUCER,
    full_check: bool = True,
) -> onnx.ModelProto:
    """Wrap nodes into a checked opset-17 / IR-9 model. ``full_check=False`` skips
    shape inference, which re-serialises the whole model: slow for big weights."""
    graph = helper.make_graph(
        nodes, name, inputs, outputs, initializer=initializers or [], doc_string=doc
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
        producer_name=producer,
        producer_version="1",
        doc_string=doc,
    )
    if metadata:
        helper.set_model_props(model, metadata)
    onnx.checker.check_model(model, full_check=full_check)
    return model


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


# --------------------------------------------------------------------------
# A. Sample repository: taxi trip duration
# --------------------------------------------------------------------------

TRIP_FEATURES = ("pickup_hour", "weekday", "distance_km", "passengers", "is_airport", "rain_mm")
TRIP_FEATURE_DOC = (
    "features[:, i] for i = 0..5: "
    "0 pickup_hour (0-23), 1 weekday (0=Monday .. 6=Sunday), 2 distance_km, "
    "3 passengers (1-6), 4 is_airport (0 or 1), 5 rain_mm (precipitation in the last hour)"
)


def synth_trips(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic taxi trips.

    Columns, in order (this is the model's input layout):

        0 pickup_hour  integer hour of day, 0-23
        1 weekday      0 = Monday ... 6 = Sunday
        2 distance_km  trip distance in kilometres
        3 passengers   1-6
        4 is_airport   1.0 if the trip starts or ends at the airport, else 0.0
        5 rain_mm      rainfall in the last hour, mostly 0

    Duration (minutes) = a fixed pick-up overhead, plus distance times a
    congestion factor that peaks around 08:30 and 17:30 on weekdays and rises
    with rain, plus an airport surcharge (terminal queues) and a small
    per-passenger loading time, plus Gaussian noise.
    """
    hour = rng.integers(0, 24, n).astype(np.float64)
    weekday = rng.integers(0, 7, n).astype(np.float64)
    is_airport = (rng.random(n) < 0.12).astype(np.float64)
    distance = rng.gamma(2.0, 3.0, n) + is_airport * rng.uniform(10.0, 25.0, n)
    passengers = rng.integers(1, 7, n).astype(np.float64)
    rain = np.where(rng.random(n) < 0.25, rng.exponential(4.0, n), 0.0)

    def peak(center: float) -> np.ndarray:
        return np.exp(-((hour - center) ** 2) / (2 * 1.5**2))

    rush = (peak(8.5) + peak(17.5)) * np.where(weekday < 5, 1.0, 0.3)
    congestion = 1.0 + 0.7 * rush + 0.04 * rain
    duration = (
        3.0
        + 2.1 * distance * congestion
        + 8.0 * is_airport
        + 0.4 * (passengers - 1)
        + rng.normal(0.0, 2.0, n)
    )
    x = np.stack([hour, weekday, distance, passengers, is_airport, rain], axis=1)
    return x.astype(np.float32), np.maximum(duration, 1.0).astype(np.float32)[:, None]


def fit_linear(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ordinary least squares with an intercept. Returns W [6, 1], b [1]."""
    design = np.hstack([x.astype(np.float64), np.ones((len(x), 1))])
    coef, *_ = np.linalg.lstsq(design, y.astype(np.float64), rcond=None)
    return coef[:-1].astype(np.float32), coef[-1].astype(np.float32)


def fit_mlp(
    x: np.ndarray, y: np.ndarray, hidden: int = 16, steps: int = 3000, seed: int = 2
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """6 -> hidden -> 1 ReLU MLP trained by full-batch gradient descent (Adam updates).

    Training happens on standardised inputs/targets; the scaling is then folded
    into the first and last layer so the exported graph takes raw features.
    Returns W1 [6, h], b1 [h], W2 [h, 1], b2 [1].
    """
    rng = np.random.default_rng(seed)
    x = x.astype(np.float64)
    y = y.astype(np.float64)
    mu, sd = x.mean(0), x.std(0)
    ym, ys = y.mean(), y.std()
    xs, yt = (x - mu) / sd, (y - ym) / ys

    w1 = rng.normal(0.0, np.sqrt(2.0 / x.shape[1]), (x.shape[1], hidden))
    b1 = np.full(hidden, 0.1)
    w2 = rng.normal(0.0, np.sqrt(1.0 / hidden), (hidden, 1))
    b2 = np.zeros(1)
    params = [w1, b1, w2, b2]
    first = [np.zeros_like(p) for p in params]  # running mean of gradients
    second = [np.zeros_like(p) for p in params]  # running mean of squared gradients
    lr, beta1, beta2, eps, n = 0.02, 0.9, 0.999, 1e-8, len(xs)

    for t in range(1, steps + 1):
        z = xs @ w1 + b1
        h = np.maximum(z, 0.0)
        err = (h @ w2 + b2) - yt  # d(MSE/2)/d(pred)
        dz = (err @ w2.T) * (z > 0)
        grads = [xs.T @ dz / n, dz.mean(0), h.T @ err / n, err.mean(0)]
        for p, m, v, g in zip(params, first, second, grads):
            m *= beta1
            m += (1 - beta1) * g
            v *= beta2
            v += (1 - beta2) * g * g
            p -= lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)

    # Fold the standardisation into the weights.
    w1_raw = w1 / sd[:, None]
    b1_raw = b1 - (mu / sd) @ w1
    w2_raw = w2 * ys
    b2_raw = b2 * ys + ym
    return tuple(a.astype(np.float32) for a in (w1_raw, b1_raw, w2_raw, b2_raw))


def trip_metadata(version: int, kind: str, rmse: float) -> dict[str, str]:
    return {
        "model": "trip_duration",
        "version": str(version),
        "description": f"Taxi trip duration regressor (minutes), {kind}",
        "inputs": "features: float32 [batch, 6] = " + ", ".join(TRIP_FEATURES),
        "outputs": "duration_min: float32 [batch, 1], predicted trip duration in minutes",
        "training_data": "synthetic trips from scripts/make_models.py (seed 7)",
        "holdout_rmse_min": f"{rmse:.3f}",
    }


def trip_io() -> tuple[list, list]:
    inputs = [tensor("features", TensorProto.FLOAT, ["batch", 6], TRIP_FEATURE_DOC)]
    outputs = [
        tensor("duration_min", TensorProto.FLOAT, ["batch", 1], "predicted duration in minutes")
    ]
    return inputs, outputs


def build_trip_linear(w: np.ndarray, b: np.ndarray, rmse: float) -> onnx.ModelProto:
    doc = (
        "trip_duration v1: linear regression fitted by least squares on synthetic taxi "
        "trips. duration_min = features @ W + b. " + TRIP_FEATURE_DOC
    )
    inputs, outputs = trip_io()
    nodes = [
        helper.make_node("MatMul", ["features", "W"], ["xw"]),
        helper.make_node("Add", ["xw", "b"], ["duration_min"]),
    ]
    return finish(
        "trip_duration_v1",
        nodes,
        inputs,
        outputs,
        [const("W", w), const("b", b.reshape(1))],
        doc,
        trip_metadata(1, "linear regression (least squares)", rmse),
    )


def build_trip_mlp(w1, b1, w2, b2, rmse: float) -> onnx.ModelProto:
    doc = (
        "trip_duration v2: 6-16-1 ReLU MLP trained by full-batch gradient descent (Adam) on "
        "synthetic taxi trips (input standardisation folded into layer 1). "
        + TRIP_FEATURE_DOC
    )
    inputs, outputs = trip_io()
    nodes = [
        helper.make_node("Gemm", ["features", "W1", "b1"], ["h_pre"]),
        helper.make_node("Relu", ["h_pre"], ["h"]),
        helper.make_node("Gemm", ["h", "W2", "b2"], ["duration_min"]),
    ]
    return finish(
        "trip_duration_v2",
        nodes,
        inputs,
        outputs,
        [const("W1", w1), const("b1", b1), const("W2", w2), const("b2", b2)],
        doc,
        trip_metadata(2, "6-16-1 ReLU MLP (full-batch Adam, 3000 steps)", rmse),
    )


def trip_duration_artifacts(repo: Path) -> list[Artifact]:
    rng = np.random.default_rng(7)
    x_train, y_train = synth_trips(rng, 4000)
    x_test, y_test = synth_trips(rng, 1000)

    w, b = fit_linear(x_train, y_train)
    w1, b1, w2, b2 = fit_mlp(x_train, y_train)

    def linear_ref(x):
        return x @ w + b

    def mlp_ref(x):
        return np.maximum(x @ w1 + b1, 0.0) @ w2 + b2

    def rmse(pred):
        return float(np.sqrt(np.mean((pred - y_test) ** 2)))

    rmse_v1, rmse_v2 = rmse(linear_ref(x_test)), rmse(mlp_ref(x_test))

    # A weekday 08:00 10 km trip, dry, one passenger, not to the airport.
    probe = np.array([[8, 0, 10.0, 1, 0, 0.0], [3, 6, 10.0, 1, 0, 0.0]], np.float32)

    def make_check(ref, expected_rmse, label):
        def check(sess):
            got = run(sess, {"features": x_test})["duration_min"]
            assert_close(got, ref(x_test).astype(np.float32), rtol=1e-4, atol=1e-3)
            err = rmse(got)
            assert abs(err - expected_rmse) < 1e-3, (err, expected_rmse)
            assert err < 10.0, f"{label}: holdout RMSE {err:.2f} min is implausibly high"
            peak, night = run(sess, {"features": probe})["duration_min"][:, 0]
            print(
                f"    {label}: holdout RMSE {err:.2f} min; 10 km at Mon 08:00 -> "
                f"{peak:.1f} min, Sun 03:00 -> {night:.1f} min"
            )

        return check

    model_dir = repo / "trip_duration"
    return [
        Artifact(
            model_dir / "1" / "model.onnx",
            build_trip_linear(w, b, rmse_v1),
            make_check(linear_ref, rmse_v1, "v1 linear"),
        ),
        Artifact(
            model_dir / "2" / "model.onnx",
            build_trip_mlp(w1, b1, w2, b2, rmse_v2),
            make_check(mlp_ref, rmse_v2, "v2 mlp"),
        ),
    ]


# --------------------------------------------------------------------------
# B. Test fixtures
# --------------------------------------------------------------------------


def fixture_add_fp32() -> tuple[onnx.ModelProto, CheckFn]:
    model = finish(
        "add_fp32",
        [
            helper.make_node("Add", ["a", "b"], ["sum"]),
            helper.make_node("Sub", ["a", "b"], ["diff"]),
        ],
        [
            tensor("a", TensorProto.FLOAT, ["batch", 4]),
            tensor("b", TensorProto.FLOAT, ["batch", 4]),
        ],
        [
            tensor("sum", TensorProto.FLOAT, ["batch", 4]),
            tensor("diff", TensorProto.FLOAT, ["batch", 4]),
        ],
        doc="Two outputs: sum = a + b, diff = a - b.",
    )

    def check(sess):
        a = np.arange(8, dtype=np.float32).reshape(2, 4)
        b = np.full((2, 4), 0.5, np.float32)
        out = run(sess, {"a": a, "b": b})
        assert_close(out["sum"], a + b)
        assert_close(out["diff"], a - b)

    return model, check


def fixture_scale_fp32() -> tuple[onnx.ModelProto, CheckFn]:
    model = finish(
        "scale_fp32",
        [helper.make_node("Mul", ["x", "two"], ["y"])],
        [tensor("x", TensorProto.FLOAT, ["batch", 4])],
        [tensor("y", TensorProto.FLOAT, ["batch", 4])],
        [const("two", np.array(2.0, np.float32))],
        doc="y = 2 * x (differs from identity_fp32; for shadow comparison tests).",
    )

    def check(sess):
        x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
        assert_close(run(sess, {"x": x})["y"], 2 * x)

    return model, check


def fixture_identity_fp32() -> tuple[onnx.ModelProto, CheckFn]:
    model = finish(
        "identity_fp32",
        [helper.make_node("Identity", ["x"], ["y"])],
        [tensor("x", TensorProto.FLOAT, ["batch", 4])],
        [tensor("y", TensorProto.FLOAT, ["batch", 4])],
        doc="y = x (same signature as scale_fp32; for shadow comparison tests).",
    )

    def check(sess):
        x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
        assert_equal(run(sess, {"x": x})["y"], x)

    return model, check


def fixture_int64_ops() -> tuple[onnx.ModelProto, CheckFn]:
    model = finish(
        "int64_ops",
        [helper.make_node("Mul", ["x", "three"], ["y"])],
        [tensor("x", TensorProto.INT64, ["batch", 3])],
        [tensor("y", TensorProto.INT64, ["batch", 3])],
        [const("three", np.array(3, np.int64))],
        doc="y = 3 * x on int64.",
    )

    def check(sess):
        x = np.array([[1, -2, 3], [2**40, 0, -(2**40)]], np.int64)
        assert_equal(run(sess, {"x": x})["y"], x * 3)

    return model, check


def fixture_fp16_ops() -> tuple[onnx.ModelProto, CheckFn]:
    model = finish(
        "fp16_ops",
        [helper.make_node("Add", ["x", "one"], ["y"])],
        [tensor("x", TensorProto.FLOAT16, ["batch", 3])],
        [tensor("y", TensorProto.FLOAT16, ["batch", 3])],
        [const("one", np.array(1.0, np.float16))],
        doc="y = x + 1 on float16.",
    )

    def check(sess):
        x = np.array([[0.5, -1.0, 2.25], [100.0, 0.0, -0.125]], np.float16)
        assert_equal(run(sess, {"x": x})["y"], x + np.float16(1))

    return model, check


def fixture_fp64_ops() -> tuple[onnx.ModelProto, CheckFn]:
    model = finish(
        "fp64_ops",
        [helper.make_node("Mul", ["x", "half"], ["y"])],
        [tensor("x", TensorProto.DOUBLE, ["batch", 2])],
        [tensor("y", TensorProto.DOUBLE, ["batch", 2])],
        [const("half", np.array(0.5, np.float64))],
        doc="y = 0.5 * x on float64.",
    )

    def check(sess):
        x = np.array([[1.0, -3.0], [1e300, 2.0**-1000]], np.float64)
        assert_equal(run(sess, {"x": x})["y"], x * 0.5)

    return model, check


def fixture_string_identity() -> tuple[onnx.ModelProto, CheckFn]:
    model = finish(
        "string_identity",
        [helper.make_node("Identity", ["text"], ["out"])],
        [tensor("text", TensorProto.STRING, ["batch"])],
        [tensor("out", TensorProto.STRING, ["batch"])],
        doc="out = text (string tensors / BYTES datatype).",
    )

    def check(sess):
        text = np.array(["hello", "", "ünïcödé ✓", "tab\tand\nnewline"], dtype=object)
        out = run(sess, {"text": text})["out"]
        assert out.shape == (4,) and list(out) == list(text), out

    return model, check


def fixture_bool_not() -> tuple[onnx.ModelProto, CheckFn]:
    model = finish(
        "bool_not",
        [helper.make_node("Not", ["x"], ["y"])],
        [tensor("x", TensorProto.BOOL, ["batch", 2])],
        [tensor("y", TensorProto.BOOL, ["batch", 2])],
        doc="y = not x.",
    )

    def check(sess):
        x = np.array([[True, False], [False, False], [True, True]])
        assert_equal(run(sess, {"x": x})["y"], ~x)

    return model, check


# (output name, ONNX type, numpy dtype) for the Cast outputs of cast_many, and
# (input name, ONNX type, numpy dtype) for its pass-through inputs.
CAST_TARGETS = [
    ("as_int8", TensorProto.INT8, np.int8),
    ("as_uint16", TensorProto.UINT16, np.uint16),
    ("as_int16", TensorProto.INT16, np.int16),
    ("as_uint32", TensorProto.UINT32, np.uint32),
    ("as_int32", TensorProto.INT32, np.int32),
    ("as_uint64", TensorProto.UINT64, np.uint64),
]
PASSTHROUGH_INPUTS = [
    ("u16", TensorProto.UINT16, np.uint16),
    ("i8", TensorProto.INT8, np.int8),
    ("u32", TensorProto.UINT32, np.uint32),
    ("u64", TensorProto.UINT64, np.uint64),
    ("i16", TensorProto.INT16, np.int16),
    ("i32", TensorProto.INT32, np.int32),
]


def fixture_cast_many() -> tuple[onnx.ModelProto, CheckFn]:
    nodes = [helper.make_node("Cast", ["x"], [name], to=t) for name, t, _ in CAST_TARGETS]
    nodes += [helper.make_node("Identity", [name], [f"{name}_out"]) for name, _, _ in PASSTHROUGH_INPUTS]
    inputs = [tensor("x", TensorProto.UINT8, ["batch", 2])]
    inputs += [tensor(name, t, [f"n_{name}"]) for name, t, _ in PASSTHROUGH_INPUTS]
    outputs = [tensor(name, t, ["batch", 2]) for name, t, _ in CAST_TARGETS]
    outputs += [tensor(f"{name}_out", t, [f"n_{name}"]) for name, t, _ in PASSTHROUGH_INPUTS]
    model = finish(
        "cast_many",
        nodes,
        inputs,
        outputs,
        doc=(
            "Every integer element type as an input and as an output: x (uint8) is "
            "Cast to int8/uint16/int16/uint32/int32/uint64; u16, i8, u32, u64, i16, "
            "i32 pass through Identity to <name>_out. The 1-D inputs have "
            "independent lengths."
        ),
    )

    def check(sess):
        x = np.array([[0, 1], [127, 255]], np.uint8)
        feeds = {"x": x}
        for name, _, dtype in PASSTHROUGH_INPUTS:
            info = np.iinfo(dtype)
            feeds[name] = np.array([info.min, 0, 1, info.max], dtype)
        # Vary the lengths so the inputs really are independent.
        feeds["i8"] = feeds["i8"][:3]
        feeds["u64"] = np.append(feeds["u64"], np.uint64(42))
        out = run(sess, feeds)
        for name, _, dtype in CAST_TARGETS:
            # ONNX Cast between integer types wraps like C (255 -> int8 -1).
            assert_equal(out[name], x.astype(dtype))
        for name, _, _ in PASSTHROUGH_INPUTS:
            assert_equal(out[f"{name}_out"], feeds[name])

    return model, check


# classifier_b's weights are classifier's with columns 1 and 2 swapped, so
# logits_b == logits_a[:, [0, 2, 1]]: the two agree exactly on rows whose argmax
# is class 0 and disagree on rows whose argmax is class 1 or 2.
CLASSIFIER_W = np.array(
    [
        [2.0, 0.0, 0.0],
        [0.0, 2.0, 0.0],
        [0.0, 0.0, 2.0],
        [0.5, -0.5, 0.25],
    ],
    np.float32,
)
CLASSIFIER_B = np.array([0.1, 0.0, -0.1], np.float32)
CLASSIFIER_B_PERM = [0, 2, 1]
# Rows with a clear margin and their argmax under classifier / classifier_b.
CLASSIFIER_PROBES = np.array(
    [
        [3.0, 0.0, 0.0, 0.0],  # a: 0, b: 0 (agree)
        [0.0, 3.0, 0.0, 0.0],  # a: 1, b: 2
        [0.0, 0.0, 3.0, 0.0],  # a: 2, b: 1
        [1.0, 0.0, 0.0, 4.0],  # a: 0, b: 0 (agree)
    ],
    np.float32,
)
CLASSIFIER_ARGMAX_A = np.array([0, 1, 2, 0])
CLASSIFIER_ARGMAX_B = np.array([0, 2, 1, 0])


def _classifier(name: str, w: np.ndarray, b: np.ndarray, doc: str, expected_argmax):
    model = finish(
        name,
        [helper.make_node("Gemm", ["x", "W", "b"], ["logits"])],
        [tensor("x", TensorProto.FLOAT, ["batch", 4])],
        [tensor("logits", TensorProto.FLOAT, ["batch", 3])],
        [const("W", w), const("b", b)],
        doc=doc,
    )

    def check(sess):
        logits = run(sess, {"x": CLASSIFIER_PROBES})["logits"]
        assert_close(logits, CLASSIFIER_PROBES @ w + b)
        assert_equal(logits.argmax(1), expected_argmax)

    return model, check


def fixture_classifier():
    return _classifier(
        "classifier",
        CLASSIFIER_W,
        CLASSIFIER_B,
        "3-class linear classifier: logits = x @ W + b with fixed W, b.",
        CLASSIFIER_ARGMAX_A,
    )


def fixture_classifier_b():
    return _classifier(
        "classifier_b",
        CLASSIFIER_W[:, CLASSIFIER_B_PERM],
        CLASSIFIER_B[CLASSIFIER_B_PERM],
        "Like classifier but with classes 1 and 2 swapped: argmax agrees with "
        "classifier on class-0 rows and disagrees otherwise.",
        CLASSIFIER_ARGMAX_B,
    )


def fixture_fixed_shape() -> tuple[onnx.ModelProto, CheckFn]:
    model = finish(
        "fixed_shape",
        [helper.make_node("Add", ["x", "one"], ["y"])],
        [tensor("x", TensorProto.FLOAT, [2, 3])],
        [tensor("y", TensorProto.FLOAT, [2, 3])],
        [const("one", np.array(1.0, np.float32))],
        doc="y = x + 1 with a fully static [2, 3] shape (no batch dimension).",
    )

    def check(sess):
        x = np.arange(6, dtype=np.float32).reshape(2, 3)
        assert_close(run(sess, {"x": x})["y"], x + 1)
        try:
            sess.run(None, {"x": np.zeros((3, 3), np.float32)})
        except Exception:
            pass
        else:
            raise AssertionError("fixed_shape accepted a [3, 3] input")

    return model, check


def fixture_runtime_error() -> tuple[onnx.ModelProto, CheckFn]:
    model = finish(
        "runtime_error",
        [helper.make_node("Reshape", ["x", "shape"], ["y"])],
        [tensor("x", TensorProto.FLOAT, ["n"])],
        [tensor("y", TensorProto.FLOAT, [2, 3])],
        [const("shape", np.array([2, 3], np.int64))],
        doc=(
            "y = Reshape(x, [2, 3]). Loads fine and accepts any 1-D float input, but "
            "Run() fails unless x has exactly 6 elements."
        ),
    )

    def check(sess):
        import onnxruntime as ort

        x = np.arange(6, dtype=np.float32)
        assert_equal(run(sess, {"x": x})["y"], x.reshape(2, 3))
        quiet = ort.RunOptions()
        quiet.log_severity_level = 4  # the failure below is expected; don't log it
        try:
            sess.run(None, {"x": np.zeros(5, np.float32)}, quiet)
        except Exception as exc:  # onnxruntime raises its own exception types
            print(f"    runtime_error: 5 elements -> {type(exc).__name__} (as intended)")
        else:
            raise AssertionError("runtime_error did not fail on a 5-element input")

    return model, check


def fixture_mlp_small() -> tuple[onnx.ModelProto, CheckFn]:
    sizes = [64, 256, 256, 10]
    weights = mlp_layers(sizes, seed=0)

    nodes, inits = mlp_nodes(weights)

    model = finish(
        "mlp_small",
        nodes,
        [tensor("x", TensorProto.FLOAT, ["batch", 64])],
        [tensor("y", TensorProto.FLOAT, ["batch", 10])],
        inits,
        doc="64-256-256-10 ReLU MLP with random weights (seed 0), for batching benchmarks.",
    )

    def check(sess):
        x = np.random.default_rng(1).normal(size=(5, 64)).astype(np.float32)
        assert_close(run(sess, {"x": x})["y"], mlp_reference(weights, x), rtol=1e-4, atol=1e-4)

    return model, check


def fixture_slow_mlp() -> tuple[onnx.ModelProto, CheckFn]:
    """Same signature as mlp_small but about 40x the compute: 48 applications of
    one shared 256x256 layer. A deliberately slow shadow for mirroring tests."""
    rng = np.random.default_rng(2)
    w_in = rng.normal(0.0, np.sqrt(2.0 / 64), (64, 256)).astype(np.float32)
    # An orthogonal shared layer keeps activations from growing or vanishing.
    w_hidden = np.linalg.qr(rng.normal(size=(256, 256)))[0].astype(np.float32)
    w_out = rng.normal(0.0, np.sqrt(1.0 / 256), (256, 10)).astype(np.float32)
    repeats = 48
    nodes = [helper.make_node("MatMul", ["x", "W_in"], ["h0"])]
    for i in range(repeats):
        nodes.append(helper.make_node("MatMul", [f"h{i}", "W_hidden"], [f"m{i}"]))
        nodes.append(helper.make_node("Tanh", [f"m{i}"], [f"h{i + 1}"]))
    nodes.append(helper.make_node("MatMul", [f"h{repeats}", "W_out"], ["y"]))
    model = finish(
        "slow_mlp",
        nodes,
        [tensor("x", TensorProto.FLOAT, ["batch", 64])],
        [tensor("y", TensorProto.FLOAT, ["batch", 10])],
        [const("W_in", w_in), const("W_hidden", w_hidden), const("W_out", w_out)],
        doc="64 -> 256 -> 48 x shared 256x256 tanh -> 10: mlp_small's signature, ~40x its compute.",
    )

    def check(sess):
        x = np.random.default_rng(3).normal(size=(4, 64)).astype(np.float32)
        h = x @ w_in
        for _ in range(repeats):
            h = np.tanh(h @ w_hidden)
        assert_close(run(sess, {"x": x})["y"], h @ w_out, rtol=1e-3, atol=1e-4)

    return model, check


def corrupt_bytes() -> bytes:
    """200 bytes of a real serialized model, cut off mid-message: a truncated protobuf."""
    return fixture_mlp_small()[0].SerializeToString()[:200]


def check_load_fails(path: Path) -> None:
    import onnxruntime as ort

    try:
        ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:
        print(f"    corrupt: load fails -> {type(exc).__name__} (as intended)")
    else:
        raise AssertionError(f"{path} loaded but should be corrupt")


FIXTURES = {
    "add_fp32": fixture_add_fp32,
    "scale_fp32": fixture_scale_fp32,
    "identity_fp32": fixture_identity_fp32,
    "int64_ops": fixture_int64_ops,
    "fp16_ops": fixture_fp16_ops,
    "fp64_ops": fixture_fp64_ops,
    "string_identity": fixture_string_identity,
    "bool_not": fixture_bool_not,
    "cast_many": fixture_cast_many,
    "classifier": fixture_classifier,
    "classifier_b": fixture_classifier_b,
    "fixed_shape": fixture_fixed_shape,
    "runtime_error": fixture_runtime_error,
    "mlp_small": fixture_mlp_small,
    "slow_mlp": fixture_slow_mlp,
}


def fixture_artifacts(root: Path) -> list[Artifact]:
    artifacts = []
    for name, build in FIXTURES.items():
        model, check = build()
        artifacts.append(Artifact(root / name / "1" / "model.onnx", model, check))
    corrupt = root / "corrupt" / "1" / "model.onnx"
    artifacts.append(Artifact(corrupt, corrupt_bytes(), check_load_fails, expect_load_failure=True))
    return artifacts


# --------------------------------------------------------------------------
# C. Big model for the reload soak benchmark
# --------------------------------------------------------------------------

BIG_INPUT = 256
BIG_OUTPUT = 10
BIG_HIDDEN = 3072  # 256*3072 + 3072*3072 + 3072*10 weights = about 41 MB of float32


def mlp_layers(sizes: list[int], seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """He-initialised weights and small biases for a ReLU MLP of the given widths."""
    rng = np.random.default_rng(seed)
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        w = rng.normal(0.0, np.sqrt(2.0 / fan_in), (fan_in, fan_out)).astype(np.float32)
        b = rng.normal(0.0, 0.01, fan_out).astype(np.float32)
        layers.append((w, b))
    return layers


def mlp_nodes(layers: list[tuple[np.ndarray, np.ndarray]]) -> tuple[list, list]:
    """The graph of a ReLU MLP from input ``x`` to output ``y``: a Gemm per layer
    with a Relu between layers, and the weights as initializers."""
    nodes, inits, prev = [], [], "x"
    for i, (w, b) in enumerate(layers, start=1):
        out = "y" if i == len(layers) else f"z{i}"
        nodes.append(helper.make_node("Gemm", [prev, f"W{i}", f"b{i}"], [out]))
        inits += [const(f"W{i}", w), const(f"b{i}", b)]
        if i < len(layers):
            nodes.append(helper.make_node("Relu", [out], [f"h{i}"]))
            prev = f"h{i}"
    return nodes, inits


def mlp_reference(layers: list[tuple[np.ndarray, np.ndarray]], x: np.ndarray) -> np.ndarray:
    h = x
    for i, (w, b) in enumerate(layers):
        h = h @ w + b
        if i < len(layers) - 1:
            h = np.maximum(h, 0.0)
    return h


def big_mlp(hidden: int, seed: int) -> tuple[onnx.ModelProto, CheckFn]:
    """256-hidden-hidden-10 ReLU MLP with random weights: big on disk, quick to run."""
    layers = mlp_layers([BIG_INPUT, hidden, hidden, BIG_OUTPUT], seed)
    nodes, inits = mlp_nodes(layers)

    model = finish(
        "big_mlp",
        nodes,
        [tensor("x", TensorProto.FLOAT, ["batch", BIG_INPUT])],
        [tensor("y", TensorProto.FLOAT, ["batch", BIG_OUTPUT])],
        inits,
        doc=(
            f"{BIG_INPUT}-{hidden}-{hidden}-{BIG_OUTPUT} ReLU MLP with random weights "
            f"(seed {seed}), for the hot-reload soak benchmark."
        ),
        full_check=False,
    )

    def check(sess):
        x = np.random.default_rng(1).normal(size=(3, BIG_INPUT)).astype(np.float32)
        expected = mlp_reference(layers, x)
        assert_close(run(sess, {"x": x})["y"], expected, rtol=1e-3, atol=1e-3)

    return model, check


def big_model_artifact(path: Path, hidden: int, seed: int) -> Artifact:
    model, check = big_mlp(hidden, seed)
    return Artifact(path, model, check)


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------


def write(artifact: Artifact) -> None:
    artifact.path.parent.mkdir(parents=True, exist_ok=True)
    data = artifact.payload
    if isinstance(data, onnx.ModelProto):
        data = data.SerializeToString()
    artifact.path.write_bytes(data)


def verify(artifact: Artifact) -> None:
    import onnxruntime as ort

    if artifact.expect_load_failure:
        artifact.check(artifact.path)
        return
    sess = ort.InferenceSession(str(artifact.path), providers=["CPUExecutionProvider"])
    artifact.check(sess)


def display(path: Path) -> str:
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out-repo",
        type=Path,
        default=REPO_ROOT / "model_repo",
        help="sample model repository to (re)create (default: %(default)s)",
    )
    parser.add_argument(
        "--out-fixtures",
        type=Path,
        default=REPO_ROOT / "tests" / "fixtures" / "models",
        help="directory for test fixture models (default: %(default)s)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="load every model with onnxruntime and verify its outputs",
    )
    parser.add_argument(
        "--big-model",
        type=Path,
        metavar="PATH",
        help="write only the big soak-benchmark MLP to PATH (no repository, no fixtures)",
    )
    parser.add_argument(
        "--big-hidden",
        type=int,
        default=BIG_HIDDEN,
        metavar="N",
        help="hidden width of the big MLP (default: %(default)s, about 41 MB)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="weight seed of the big MLP; another seed gives another model (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.big_hidden < 1:
        parser.error("--big-hidden must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.big_model is not None:
        artifacts = [big_model_artifact(args.big_model.resolve(), args.big_hidden, args.seed)]
    else:
        repo, fixtures = args.out_repo.resolve(), args.out_fixtures.resolve()
        artifacts = trip_duration_artifacts(repo) + fixture_artifacts(fixtures)

    for artifact in artifacts:
        write(artifact)
        print(f"wrote {display(artifact.path)} ({artifact.path.stat().st_size} bytes)")

    if args.big_model is None:
        config = repo / "trip_duration" / "config.yaml"
        config.write_text(TRIP_CONFIG_YAML)
        print(f"wrote {display(config)}")

    if args.check:
        print("checking with onnxruntime:")
        failures = 0
        for artifact in artifacts:
            try:
                verify(artifact)
            except Exception as exc:
                failures += 1
                print(f"  FAIL {display(artifact.path)}: {type(exc).__name__}: {exc}")
            else:
                print(f"  ok   {display(artifact.path)}")
        if failures:
            print(f"{failures} model(s) failed their check", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
