"""ReLU MLPs: He-initialised weights, the ONNX graph, and a numpy reference."""

from __future__ import annotations

import numpy as np
from onnx import helper

from .graph import const


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
