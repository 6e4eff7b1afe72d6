"""Test fixtures for behaviour rather than element types: two classifiers that
agree on some rows only (shadow comparison), a static shape, a model that fails
at run time, a small and a deliberately slow MLP, and a file that fails to load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from .checks import CheckFn, assert_close, assert_equal, run
from .graph import const, finish, tensor
from .mlp import mlp_layers, mlp_nodes, mlp_reference


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


def fixture_fail_fp32() -> tuple[onnx.ModelProto, CheckFn]:
    model = finish(
        "fail_fp32",
        [helper.make_node("Reshape", ["x", "shape"], ["y"])],
        [tensor("x", TensorProto.FLOAT, ["batch", 4])],
        [tensor("y", TensorProto.FLOAT, ["rows", 3])],
        [const("shape", np.array([-1, 3], np.int64))],
        doc=(
            "y = Reshape(x, [-1, 3]): identity_fp32's input, but Run() fails unless the "
            "batch is a multiple of 3 (a canary that fails at run time)."
        ),
    )

    def check(sess):
        import onnxruntime as ort

        quiet = ort.RunOptions()
        quiet.log_severity_level = 4  # the failure below is expected; don't log it
        try:
            sess.run(None, {"x": np.zeros((1, 4), np.float32)}, quiet)
        except Exception as exc:  # onnxruntime raises its own exception types
            print(f"    fail_fp32: batch 1 -> {type(exc).__name__} (as intended)")
        else:
            raise AssertionError("fail_fp32 did not fail on a batch of 1")

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
