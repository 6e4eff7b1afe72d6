"""One generated model file plus how to verify it; writing and verifying it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import onnx

from .checks import CheckFn


@dataclass
class Artifact:
    """One generated model file plus how to verify it."""

    path: Path
    payload: onnx.ModelProto | bytes
    check: CheckFn
    expect_load_failure: bool = False


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
