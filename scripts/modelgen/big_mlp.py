"""The big model of the hot-reload soak benchmark (scripts/soak-reload.sh):
a 256-H-H-10 ReLU MLP, big on disk and quick to run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto

from .artifact import Artifact
from .checks import CheckFn, assert_close, run
from .graph import finish, tensor
from .mlp import mlp_layers, mlp_nodes, mlp_reference

BIG_INPUT = 256
BIG_OUTPUT = 10
BIG_HIDDEN = 3072  # 256*3072 + 3072*3072 + 3072*10 weights = about 41 MB of float32


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
