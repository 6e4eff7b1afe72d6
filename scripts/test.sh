#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs (ONNX
# Runtime library, a Python venv for the interop tests), then runs format and
# lint checks, the Rust unit and integration tests, and the Python tests that
# drive the real binary with tritonclient.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

step "ONNX Runtime library"
scripts/install-ort.sh

step "Python test environment (.venv)"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt

step "house rules: module graph (no cycles, no upward imports), file and function sizes"
python3 scripts/module-graph.py --check
python3 scripts/check-sizes.py

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --locked -- -D warnings

step "cargo test"
cargo test --locked

step "python interop tests (tritonclient) and deployment metric names"
cargo build --locked
SWITCHYARD_BIN="$PWD/target/debug/switchyard" .venv/bin/python -m pytest -q tests/python

step "deployment: Dockerfile lint, Kubernetes manifests, dashboard and alerts"
scripts/check-deploy.sh
