#!/usr/bin/env python3
"""Write the two benchmark models (plain ONNX files) into a directory.

    python benchmarks/make_bench_models.py OUT_DIR [--check]

    OUT_DIR/mlp_small.onnx     64-256-256-10 ReLU MLP, input x float32 [batch, 64]
    OUT_DIR/mlp_compute.onnx   512-2048-2048-10 ReLU MLP, input x float32 [batch, 512]

Both have output ``y`` float32 [batch, 10], a dynamic batch dimension, opset 17,
IR version 9, He-initialised weights from a fixed seed: re-running writes
byte-identical files. Built with the graph helpers of scripts/modelgen/.
``--check`` runs each through onnxruntime against a numpy reference.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto

# The weights and the numpy reference are the fixtures' own (scripts/modelgen/).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from modelgen.graph import finish, tensor  # noqa: E402
from modelgen.mlp import mlp_layers, mlp_nodes, mlp_reference  # noqa: E402

PRODUCER = "switchyard/benchmarks/make_bench_models.py"

MODELS = {
    # name: (layer widths, seed)
    "mlp_small": ([64, 256, 256, 10], 0),
    "mlp_compute": ([512, 2048, 2048, 10], 1),
}


def mlp(name: str, sizes: list[int], seed: int) -> tuple[onnx.ModelProto, list]:
    weights = mlp_layers(sizes, seed)
    nodes, inits = mlp_nodes(weights)
    widths = "-".join(map(str, sizes))
    model = finish(
        name,
        nodes,
        [tensor("x", TensorProto.FLOAT, ["batch", sizes[0]])],
        [tensor("y", TensorProto.FLOAT, ["batch", sizes[-1]])],
        inits,
        doc=f"{widths} ReLU MLP with random weights (seed {seed}), for benchmarks.",
        producer=PRODUCER,
        full_check=False,
    )
    return model, weights


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="directory to write the .onnx files into")
    parser.add_argument("--check", action="store_true", help="verify each model with onnxruntime")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, (sizes, seed) in MODELS.items():
        model, weights = mlp(name, sizes, seed)
        path = args.out / f"{name}.onnx"
        path.write_bytes(model.SerializeToString())
        print(f"wrote {path} ({path.stat().st_size} bytes)")
        if args.check:
            import onnxruntime as ort

            session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            x = np.random.default_rng(7).normal(size=(3, sizes[0])).astype(np.float32)
            got = session.run(["y"], {"x": x})[0]
            np.testing.assert_allclose(got, mlp_reference(weights, x), rtol=1e-3, atol=1e-3)
            print(f"  ok   {name}: onnxruntime matches the numpy reference")
    return 0


if __name__ == "__main__":
    sys.exit(main())
