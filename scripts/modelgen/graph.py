"""Graph-building helpers: value infos, initializers, and checked opset-17 / IR-9 models."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 9
# Stored in every file as producer_name: changing it changes every fixture's bytes.
PRODUCER = "switchyard/scripts/make_models.py"


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
