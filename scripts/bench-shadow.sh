#!/usr/bin/env bash
# What a shadow costs the primary: the same model served through a route
# without a shadow and through one that mirrors every request (fraction 1.0)
# to a second copy of the model. Closed loop at concurrency 1 (latency) and 8
# (throughput), runs interleaved so machine noise hits both alike.
# Writes docs/SHADOW_BENCH.md.
#
#   scripts/bench-shadow.sh            # 5 s per run, 3 rounds
#   DURATION=10 ROUNDS=5 scripts/bench-shadow.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
duration="${DURATION:-5}"
rounds="${ROUNDS:-3}"

source scripts/lib-serve.sh
build_release

repo="$(mktemp -d)"
log="$(mktemp)"
results="$(mktemp)"
cleanup() {
  stop_server
  rm -rf "$repo" "$log" "$results"
}
trap cleanup EXIT
for version in 1 2; do
  mkdir -p "$repo/m/$version"
  cp tests/fixtures/models/mlp_small/1/model.onnx "$repo/m/$version/"
done
cat > "$repo/routes.yaml" <<'YAML'
routes:
  plain:
    targets: [{model: m, version: 1, weight: 1}]
  mirrored:
    targets: [{model: m, version: 1, weight: 1}]
    shadow: {model: m, version: 2, fraction: 1.0}
YAML

start_server "$repo" "$log"

for round in $(seq "$rounds"); do
  for concurrency in 1 8; do
    for route in plain mirrored; do
      "$bench_bin" --url "$grpc_url" -m "$route" --input x:FP32:1,64 \
        --concurrency "$concurrency" --duration "$duration" --warmup 1 --json |
        python3 -c 'import json,sys; r=json.load(sys.stdin); print(sys.argv[1], sys.argv[2], r["throughput_rps"], r["latency_us"]["p50"], r["latency_us"]["p99"], sum(r["errors"].values()))' \
          "$route" "$concurrency" >> "$results"
    done
  done
done
metrics="$(python3 - "$metrics_addr" <<'PY'
import sys, urllib.request
text = urllib.request.urlopen(f"http://{sys.argv[1]}/metrics").read().decode()
print(" ".join(l for l in text.splitlines() if l.startswith("switchyard_shadow_requests_total")))
PY
)"

python3 - "$results" "$duration" "$rounds" "$metrics" <<'PY'
import os, platform, statistics, sys
path, duration, rounds, metrics = sys.argv[1:5]
rows = [line.split() for line in open(path)]
def median(route, concurrency, column):
    values = [float(r[column]) for r in rows if r[0] == route and r[1] == concurrency]
    return statistics.median(values)
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
p50 = {route: median(route, "1", 3) for route in ("plain", "mirrored")}
rps = {route: median(route, "8", 2) for route in ("plain", "mirrored")}
errors = sum(int(r[5]) for r in rows)
import re
outcomes = ", ".join(f"{name} {count}" for name, count in re.findall(r'outcome="(\w+)"\}\s+(\d+)', metrics))
text = f"""# What a shadow costs the primary

Command: `scripts/bench-shadow.sh` (DURATION={duration}, ROUNDS={rounds}; medians of the rounds).
Machine: {os.cpu_count()} cores, {cpu}, {platform.platform()}; server and load generator share it.

Model: `mlp_small` (64→256→256→10), batch 1. Route `plain` serves version 1; route
`mirrored` serves version 1 and mirrors every request (fraction 1.0) to version 2, an
identical copy on its own session thread.

| measure | no shadow | shadow, fraction 1.0 | ratio |
| --- | --- | --- | --- |
| p50 latency at concurrency 1 (µs) | {p50['plain']:.0f} | {p50['mirrored']:.0f} | {p50['mirrored'] / p50['plain']:.2f}× (target ≤ 1.1×) |
| throughput at concurrency 8 (req/s) | {rps['plain']:.0f} | {rps['mirrored']:.0f} | {rps['mirrored'] / rps['plain']:.2f}× |

Client-visible errors in all runs: {errors}. Mirrors by outcome over the whole run: {outcomes}.

The primary never waits for its mirror: the mirror is queued after the answer is ready.
At concurrency 8 the shadow's own session competes for the same two cores, so throughput
drops by about the shadow's share of CPU; mirrors that cannot keep up are dropped (counted
`dropped`), never queued without bound.
"""
os.makedirs("docs", exist_ok=True)
open("docs/SHADOW_BENCH.md", "w").write(text)
print(text)
PY
