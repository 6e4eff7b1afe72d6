"""Test fixtures, one per tensor element type the gateway converts: FP32 (two
outputs; a scaled and an identity variant for shadow tests), INT64, FP16, FP64,
BYTES (string tensors), BOOL, and every integer type through ``cast_many``."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

from .checks import CheckFn, assert_close, assert_equal, run
from .graph import const, finish, tensor


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
