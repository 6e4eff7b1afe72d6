"""Every test fixture by name, as artifacts laid out ``<name>/1/model.onnx``
(tests copy a whole model directory into a temporary repository)."""

from __future__ import annotations

from pathlib import Path

from .artifact import Artifact
from .fixtures_behaviour import (
    check_load_fails,
    corrupt_bytes,
    fixture_classifier,
    fixture_classifier_b,
    fixture_fail_fp32,
    fixture_fixed_shape,
    fixture_mlp_small,
    fixture_runtime_error,
    fixture_slow_mlp,
)
from .fixtures_dtypes import (
    fixture_add_fp32,
    fixture_bool_not,
    fixture_cast_many,
    fixture_fp16_ops,
    fixture_fp64_ops,
    fixture_identity_fp32,
    fixture_int64_ops,
    fixture_scale_fp32,
    fixture_string_identity,
)

# Written in this order (the order `make_models.py` prints them).
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
    "fail_fp32": fixture_fail_fp32,
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
