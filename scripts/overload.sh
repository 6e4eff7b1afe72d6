#!/usr/bin/env bash
# Overload run: measures the gateway's capacity on an MLP (closed loop), then
# offers twice that rate open-loop for DURATION seconds (default 60) and
# reports how the overload was handled: requests shed with RESOURCE_EXHAUSTED,
# p99 of the accepted ones, goodput, and the server's peak RSS.
# Writes OUT (default docs/OVERLOAD.md).
#
#   scripts/overload.sh                          # small MLP, 512 rows per request
#   MODEL=compute scripts/overload.sh            # compute MLP (512 wide), 32 rows per request
#   DURATION=20 SERVER_BIN=/path/to/switchyard OUT=/tmp/o.md scripts/overload.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
duration="${DURATION:-60}"
model="${MODEL:-small}"
out="${OUT:-docs/OVERLOAD.md}"

source scripts/lib-serve.sh
build_release
bin="${SERVER_BIN:-$bin}"

repo="$(mktemp -d)"
log="$(mktemp)"
cleanup() {
  stop_server
  rm -rf "$repo" "$log"
}
trap cleanup EXIT
mkdir -p "$repo/mlp/1"
if [ "$model" = compute ]; then
  rows="${ROWS:-32}" width=512 label="mlp_compute (512→2048→2048→10)"
  .venv/bin/python benchmarks/make_bench_models.py "$repo/gen" >/dev/null
  mv "$repo/gen/mlp_compute.onnx" "$repo/mlp/1/model.onnx"
  rm -rf "$repo/gen"
else
  rows="${ROWS:-512}" width=64 label="mlp_small (64→256→256→10)"
  cp tests/fixtures/models/mlp_small/1/model.onnx "$repo/mlp/1/"
fi
# Default queue (max_queue_size 128, the default time budget) and one
# session: the bounded path under test.
printf 'max_batch_size: %s\n' "$rows" > "$repo/mlp/config.yaml"

start_server "$repo" "$log"

bench() { "$bench_bin" --url "$grpc_url" -m mlp --input "x:FP32:$rows,$width" --json "$@"; }
capacity_json="$(bench --concurrency 8 --duration 5 --warmup 1)"
capacity="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["throughput_rps"])' "$capacity_json")"
rate="$(python3 -c "print(int(2 * $capacity))")"
rss_before="$(awk '/VmRSS/ {print $2}' /proc/$server/status)"
echo "capacity ${capacity} req/s; offering ${rate} req/s for ${duration} s" >&2
overload_json="$(bench --rate "$rate" --duration "$duration" --warmup 0 --max-outstanding 4096)"
peak_kb="$(awk '/VmHWM/ {print $2}' /proc/$server/status)"
rss_after="$(awk '/VmRSS/ {print $2}' /proc/$server/status)"
after_json="$(bench --concurrency 8 --duration 5 --warmup 0)"

python3 - "$capacity_json" "$overload_json" "$after_json" "$rate" "$duration" "$rss_before" "$peak_kb" "$rss_after" "$rows" "$label" "$out" "$model" <<'PY'
import json, os, platform, subprocess, sys
capacity, overload, after = (json.loads(a) for a in sys.argv[1:4])
rate, duration, rss_before, peak_kb, rss_after, rows, label, out, model = sys.argv[4:13]
errors = overload.get("errors", {})
shed = errors.get("RESOURCE_EXHAUSTED", 0)
other = {k: v for k, v in errors.items() if k != "RESOURCE_EXHAUSTED"}
lat = overload.get("latency_us") or {}
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem = next((l.split(":", 1)[1].strip() for l in open("/proc/meminfo") if l.startswith("MemTotal")), "?")
text = f"""# Overload

Command: `MODEL={model} scripts/overload.sh` (DURATION={duration}). Machine: {os.cpu_count()} cores, {cpu}, {mem}, {platform.platform()}.
Server and load generator share the machine.

Model: `{label}`, {rows} rows per request, one ONNX Runtime session,
default queue of 128 requests per version and the default queue time budget
(four runs, at least 100 ms), server-wide limit 1024 requests.
Goodput (OK req/s during the overload ÷ capacity): {overload['throughput_rps'] / capacity['throughput_rps']:.2f}×;
accepted p99 ÷ steady p99: {(lat.get('p99') or 0) / capacity['latency_us']['p99']:.1f}×.

| phase | offered | answered OK | req/s OK | RESOURCE_EXHAUSTED | other errors | p50 µs | p99 µs |
| --- | --- | --- | --- | --- | --- | --- | --- |
| capacity (closed loop, 8 in flight, 5 s) | — | {capacity['ok']} | {capacity['throughput_rps']:.0f} | {capacity['errors'].get('RESOURCE_EXHAUSTED', 0)} | {sum(v for k, v in capacity['errors'].items() if k != 'RESOURCE_EXHAUSTED')} | {capacity['latency_us']['p50']} | {capacity['latency_us']['p99']} |
| overload (open loop, {rate} req/s = 2× capacity, {duration} s) | {overload['requests_sent']} | {overload['ok']} | {overload['throughput_rps']:.0f} | {shed} | {sum(other.values())} {other if other else ''} | {lat.get('p50', '—')} | {lat.get('p99', '—')} |
| after (closed loop, 5 s) | — | {after['ok']} | {after['throughput_rps']:.0f} | {after['errors'].get('RESOURCE_EXHAUSTED', 0)} | {sum(v for k, v in after['errors'].items() if k != 'RESOURCE_EXHAUSTED')} | {after['latency_us']['p50']} | {after['latency_us']['p99']} |

Server memory: RSS {int(rss_before)/1024:.1f} MiB before the overload, peak (VmHWM) {int(peak_kb)/1024:.1f} MiB, {int(rss_after)/1024:.1f} MiB after.

Open-loop latency counts from the intended send time, so queueing shows in full.
Requests beyond the version's queue are refused at once with RESOURCE_EXHAUSTED instead
of waiting: accepted requests wait at most for the queue ahead of them, and memory stays
bounded by the queue.
"""
os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
open(out, "w").write(text)
print(text)
PY
