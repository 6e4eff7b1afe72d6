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

The models are built in ``scripts/modelgen/`` (one module per family); this
file is the command line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from modelgen.artifact import Artifact, verify, write
from modelgen.big_mlp import BIG_HIDDEN, big_model_artifact
from modelgen.fixtures import fixture_artifacts
from modelgen.trip_duration import TRIP_CONFIG_YAML, trip_duration_artifacts

REPO_ROOT = Path(__file__).resolve().parent.parent


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


def check_all(artifacts: list[Artifact]) -> int:
    """Loads every artifact with onnxruntime and runs its check; 1 if any failed."""
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

    return check_all(artifacts) if args.check else 0


if __name__ == "__main__":
    sys.exit(main())
