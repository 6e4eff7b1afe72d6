#!/usr/bin/env bash
# The benchmark, in one go on this machine: ONNX Runtime in-process, a bare
# tonic echo server, Switchyard, and a minimal Python grpcio + onnxruntime
# server, on a small MLP (64-256-256-10) and a compute-bound MLP
# (512-2048-2048-10). Writes docs/BENCHMARKS.md and
# docs/benchmarks-throughput.png (raw figures: target/benchmarks/results.json).
#
#   benchmarks/run.sh
#   DURATION=8 REPEATS=5 benchmarks/run.sh
#
# Settings (environment):
#   DURATION=5            seconds measured per point
#   WARMUP=1              seconds of load before each measurement
#   REPEATS=3             passes over the whole matrix (figures are medians)
#   CONNECTIONS=1         HTTP/2 connections of the load generator
#   RETRIES=0 NOISY=25    re-measure a point (up to RETRIES times) while other processes
#                         used more than NOISY % of a core; the quietest attempt is kept
#   SMALL_INSTANCES=1     Switchyard `instances` for the small MLP
#   COMPUTE_INSTANCES=2   Switchyard `instances` for the compute MLP
#   COMPUTE_INTRA=1       Switchyard `intra_op_threads` for the compute MLP
#   PROFILE=auto          perf-profile Switchyard when a target is missed (1 = always, 0 = never)
#   OUT=docs/BENCHMARKS.md
#   CALLGRIND=auto        count instructions per request with valgrind when installed (1/0)
#   NICE=-10              niceness of the measurement, process and session (autogroup),
#                         as root, so other work on a shared machine disturbs it less;
#                         NICE=0 to run as is
#   KEEP_WORK=1           keep the temporary models, logs and perf data
#
#   PROTOCOL_ROUNDS=3     rounds of the protocol comparison (perf_analyzer: Switchyard gRPC,
#                         HTTP binary, HTTP JSON, and Triton 2.51); 0 = skip it
#
# About 20 points x REPEATS x (DURATION + WARMUP + ~0.3) s (~7 min with the
# defaults on an idle machine), plus the build, perf (~40 s) and callgrind (~1 min),
# plus the protocol comparison (~4 min; docs/PROTOCOLS.md).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

# Pinned to resolve with tests/python/requirements.txt (tritonclient 2.73 needs protobuf < 7).
PY_PACKAGES=(
  "numpy==2.4.6"
  "onnx==1.23.2"
  "onnxruntime==1.32.0"
  "grpcio==1.85.3"
  "protobuf==6.33.6"
  "tritonclient[grpc]==2.73.0"
  "matplotlib==3.11.2"
)

step "ONNX Runtime library"
scripts/install-ort.sh

step "Python environment (.venv)"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check "${PY_PACKAGES[@]}"

step "cargo build --release (switchyard, switchyard-bench, examples)"
cargo build --release --bin switchyard --bin switchyard-bench --example echo_server --example ort_inprocess

step "benchmark matrix"
# bench.py starts every server itself and stops each by PID when it ends,
# fails or is interrupted; this trap only forwards the interrupt to it.
.venv/bin/python benchmarks/bench.py &
bench_pid=$!
trap 'kill -TERM "$bench_pid" 2>/dev/null; wait "$bench_pid"; exit 130' INT TERM
wait "$bench_pid"

if [ "${PROTOCOL_ROUNDS:-3}" != 0 ]; then
  step "protocols: gRPC, HTTP binary, HTTP JSON and Triton, with perf_analyzer (docs/PROTOCOLS.md)"
  ../shared/tools/perf_analyzer/setup.sh >&2
  ../shared/tools/triton/setup.sh >&2
  .venv/bin/python benchmarks/protocols.py --rounds "${PROTOCOL_ROUNDS:-3}"
fi
