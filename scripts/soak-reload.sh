#!/usr/bin/env bash
# Hot-reload soak benchmark, from a fresh clone: installs ONNX Runtime and a
# Python venv with what generates the models, writes two ~40 MB models that
# differ only in their weights, builds the release binary and runs
# benches/reload_soak/: 100 swaps under steady load. Prints the results
# table and writes it to docs/SOAK.md.
#
#   scripts/soak-reload.sh
#   MALLOC_ARENA_MAX=2 SOAK_LABEL="glibc, MALLOC_ARENA_MAX=2" SOAK_REPORT=/tmp/soak.md scripts/soak-reload.sh
#
# Knobs (environment, passed through): SOAK_CYCLES (100), SOAK_STEADY_SECS (10),
# SOAK_REPORT (docs/SOAK.md), SOAK_LABEL, SWITCHYARD_BIN, SOAK_BIG_HIDDEN (3072, about 41 MB).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

step "ONNX Runtime library"
scripts/install-ort.sh

step "Python environment (.venv) for scripts/make_models.py"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
# protobuf is pinned to the version tests/python/requirements.txt uses, so
# this and scripts/test.sh can share the venv without fighting over it.
.venv/bin/python -m pip install --quiet --disable-pip-version-check \
  numpy==2.4.6 onnx==1.23.2 protobuf==6.33.6

step "Two big models"
models="$(mktemp -d)"
trap 'rm -rf "$models"' EXIT
hidden="${SOAK_BIG_HIDDEN:-3072}"
.venv/bin/python scripts/make_models.py --big-model "$models/a.onnx" --big-hidden "$hidden" --seed 0
.venv/bin/python scripts/make_models.py --big-model "$models/b.onnx" --big-hidden "$hidden" --seed 1

step "cargo build --release"
cargo build --release --locked

step "cargo bench --bench reload_soak"
# The bench starts the release binary cargo built (SWITCHYARD_BIN overrides it).
SOAK_MODEL_A="$models/a.onnx" SOAK_MODEL_B="$models/b.onnx" \
  cargo bench --locked --bench reload_soak
