#!/usr/bin/env bash
# GPU smoke test, for a machine with an NVIDIA GPU and driver (CUDA 13:
# driver 580 or newer). Installs the CUDA build of ONNX Runtime
# (scripts/install-ort.sh --gpu), serves one model twice — once on the CPU
# provider, once with `execution_providers: [{name: cuda}]` — checks that
# `switchyard check` reports each version's providers, that both answer the
# same input within tolerance, and that the server holds GPU memory.
#
#   scripts/gpu-smoke.sh
#   ORT_GPU_LIB=/opt/ort-gpu/libonnxruntime.so scripts/gpu-smoke.sh   # an installed library
#   SMOKE_PROVIDER=cpu scripts/gpu-smoke.sh   # the harness itself, on the CPU library (no GPU)
#
# Exit 0 when every check passes; the first failure is printed and exits 1.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
provider="${SMOKE_PROVIDER:-cuda}"
model="${SMOKE_MODEL:-tests/fixtures/models/mlp_small}"
fail() { echo "gpu-smoke: FAIL: $*" >&2; exit 1; }

if [ "$provider" = cuda ]; then
  command -v nvidia-smi >/dev/null || fail "nvidia-smi not found: no NVIDIA driver on this machine"
  driver="$(nvidia-smi --query-gpu=driver_version,name --format=csv,noheader | head -1)"
  echo "gpu-smoke: GPU and driver: $driver"
  if [ -z "${ORT_GPU_LIB:-}" ]; then
    scripts/install-ort.sh --gpu
    ORT_GPU_LIB="$root/.ort/gpu/lib/libonnxruntime.so"
  fi
  lib="$ORT_GPU_LIB"
else
  scripts/install-ort.sh >/dev/null
  lib="${ORT_GPU_LIB:-$root/.ort/lib/libonnxruntime.so}"
fi
cargo build --quiet --bin switchyard
bin="$root/target/debug/switchyard"

work="$(mktemp -d)"
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
repo="$work/models"
mkdir -p "$repo"
# `reference` runs on the CPU provider, `candidate` on the one under test.
cp -r "$model" "$repo/reference"
cp -r "$model" "$repo/candidate"
echo "execution_providers: [{name: cpu}]" > "$repo/reference/config.yaml"
if [ "$provider" = cuda ]; then
  echo 'execution_providers: [{name: cuda, options: {device_id: "0"}}]' > "$repo/candidate/config.yaml"
else
  echo "execution_providers: [{name: $provider}]" > "$repo/candidate/config.yaml"
fi
# Settled files load at once (the loader waits 500 ms for files still changing).
touch -d '1 minute ago' "$repo"/*/1/*.onnx

echo "gpu-smoke: switchyard check (the providers each version's sessions use):"
check_out="$("$bin" check --ort-lib "$lib" --model-repo "$repo" 2>/dev/null)" || { echo "$check_out"; fail "check failed"; }
echo "$check_out" | sed 's/^/  /'
grep -q "execution providers .*$( [ "$provider" = cuda ] && echo CUDAExecutionProvider || echo CPUExecutionProvider)" <<<"$check_out" \
  || fail "the library does not offer the $provider provider"
grep -A2 "^model candidate" <<<"$check_out" | grep -q "ready; providers: $provider;" \
  || fail "the candidate model is not ready on $provider"

log="$work/serve.log"
"$bin" serve --ort-lib "$lib" --model-repo "$repo" --grpc-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 \
  --metrics-addr 127.0.0.1:0 --log-format json 2>"$log" &
server=$!
for _ in $(seq 600); do
  grep -q '"initial repository load done"' "$log" && break
  kill -0 "$server" 2>/dev/null || { tail -20 "$log" >&2; fail "server exited"; }
  sleep 0.1
done
grep -q '"initial repository load done"' "$log" || { tail -20 "$log" >&2; fail "server did not load within 60 s"; }
http_addr="$(grep -m1 '"listening"' "$log" | sed 's/.*"http_addr":"\([^"]*\)".*/\1/')"

# The same random input to both models; outputs within tolerance.
python3 - "$http_addr" reference candidate <<'PY'
import json, random, sys, urllib.request

addr, reference, candidate = sys.argv[1:]

def post(path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://{addr}{path}", data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)

meta = post(f"/v2/models/{reference}")
spec = meta["inputs"][0]
rows = 8
shape = [rows if d == -1 else d for d in spec["shape"]]
count = 1
for d in shape:
    count *= d
random.seed(7)
values = [random.uniform(-1.0, 1.0) for _ in range(count)]
body = {"inputs": [{"name": spec["name"], "shape": shape, "datatype": spec["datatype"], "data": values}]}
want = post(f"/v2/models/{reference}/infer", body)["outputs"]
got = post(f"/v2/models/{candidate}/infer", body)["outputs"]
worst = 0.0
for w, g in zip(want, got):
    assert w["shape"] == g["shape"], (w["shape"], g["shape"])
    for a, b in zip(w["data"], g["data"]):
        error = abs(a - b)
        if error > 1e-3 + 1e-3 * abs(a):
            sys.exit(f"gpu-smoke: FAIL: output {g['name']} differs: {b} vs {a} on the CPU")
        worst = max(worst, error)
print(f"gpu-smoke: answers match the CPU's on {count} inputs (largest difference {worst:.2e})")
PY

if [ "$provider" = cuda ]; then
  used="$(nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader | grep "^$server," || true)"
  [ -n "$used" ] || fail "the server (pid $server) holds no GPU memory: its CUDA session is not on the GPU"
  echo "gpu-smoke: server process on the GPU: $used"
fi
echo "gpu-smoke: OK ($provider)"
