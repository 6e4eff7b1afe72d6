"""The sample repository's model ``trip_duration`` (README quickstart): version 1
is a linear regression, version 2 a 6-16-1 ReLU MLP, both trained on synthetic
trips from trip_training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from .artifact import Artifact
from .checks import assert_close, run
from .graph import const, finish, tensor
from .trip_training import fit_linear, fit_mlp, synth_trips

TRIP_CONFIG_YAML = """\
# Serve both versions so a route can split traffic between them.
version_policy: {all: true}
max_batch_size: 64
"""

TRIP_FEATURES = ("pickup_hour", "weekday", "distance_km", "passengers", "is_airport", "rain_mm")
TRIP_FEATURE_DOC = (
    "features[:, i] for i = 0..5: "
    "0 pickup_hour (0-23), 1 weekday (0=Monday .. 6=Sunday), 2 distance_km, "
    "3 passengers (1-6), 4 is_airport (0 or 1), 5 rain_mm (precipitation in the last hour)"
)


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
