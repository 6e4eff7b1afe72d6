#!/usr/bin/env python3
"""What a shadow at fraction 1.0 costs the primary at one client, measured
two ways (switchyard-bench, and a Python tritonclient caller on the same
cores) and with and without a busy process competing for the cores.

    benchmarks/shadow_cost.py [--bin BIN ...] [--rounds 3] [--seconds 3] [--out docs/SHADOW_BENCH.md]

Model: the small MLP (mlp_small fixture), batch 1. Route `plain` serves
version 1; route `mirrored` serves version 1 and mirrors every request to
version 2, an identical copy. Every combination runs in turn each round
(order rotated), and the table gives the median p50 over the rounds and the
mirrored/plain ratio per round (median and range). `--bin` may be given
several times (e.g. an older build) to compare builds in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "tests" / "fixtures" / "models" / "mlp_small" / "1" / "model.onnx"
BENCH = ROOT / "target" / "release" / "switchyard-bench"
ROUTES = """routes:
  plain:
    targets: [{model: m, version: 1, weight: 1}]
  mirrored:
    targets: [{model: m, version: 1, weight: 1}]
    shadow: {model: m, version: 2, fraction: 1.0}
"""
PY_CLIENT = """
import sys, time, numpy as np, tritonclient.grpc as g
url, route, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
c = g.InferenceServerClient(url)
x = g.InferInput("x", [1, 64], "FP32"); x.set_data_from_numpy(np.full((1, 64), 0.5, np.float32))
for _ in range(200): c.infer(route, [x])
lat, end = [], time.monotonic() + seconds
while time.monotonic() < end:
    t = time.perf_counter(); c.infer(route, [x]); lat.append(time.perf_counter() - t)
lat.sort(); print(lat[len(lat) // 2] * 1e6)
"""
BUSY = "while True: pass"


def start(binary: str, repo: Path, log: Path) -> tuple[subprocess.Popen, str]:
    cmd = [binary, "serve", "--model-repo", str(repo), "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
           "--metrics-addr", "127.0.0.1:0"]  # fmt: skip
    with log.open("w") as out:
        process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=out,
                                   env=dict(os.environ, RUST_LOG="info"))  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = log.read_text()
        if "initial repository load done" in text:
            listening = next(json.loads(l) for l in text.splitlines() if '"listening"' in l)
            return process, listening["grpc_addr"]
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(log.read_text()[-2000:])


def p50(client: str, addr: str, route: str, seconds: float) -> float:
    if client == "bench":
        argv = [str(BENCH), "--url", f"http://{addr}", "-m", route, "--input", "x:FP32:1,64", "--concurrency", "1",
                "--duration", str(seconds), "--warmup", "0.5", "--json"]  # fmt: skip
        return json.loads(subprocess.run(argv, check=True, capture_output=True, text=True).stdout)["latency_us"]["p50"]
    argv = [sys.executable, "-c", PY_CLIENT, addr, route, str(seconds)]
    return float(subprocess.run(argv, check=True, capture_output=True, text=True).stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", action="append", help="server binary (repeatable; default the release build)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "SHADOW_BENCH.md")
    args = parser.parse_args()
    binaries = args.bin or [str(ROOT / "target" / "release" / "switchyard")]
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        for version in (1, 2):
            (repo / "m" / str(version)).mkdir(parents=True)
            shutil.copy(MODEL, repo / "m" / str(version) / "model.onnx")
        (repo / "routes.yaml").write_text(ROUTES)
        for binary in binaries:
            process, addr = start(binary, repo, Path(tmp) / "server.log")
            try:
                for round_index in range(args.rounds):
                    for busy in (False, True):
                        burner = subprocess.Popen([sys.executable, "-c", BUSY]) if busy else None
                        try:
                            combos = [(c, r) for c in ("bench", "python") for r in ("plain", "mirrored")]
                            shift = round_index % len(combos)
                            for client, route in combos[shift:] + combos[:shift]:
                                value = p50(client, addr, route, args.seconds)
                                results.setdefault((binary, busy, client, route), []).append(value)
                                print(f"{Path(binary).name} busy={busy} {client} {route}: {value:.0f} µs", file=sys.stderr)
                        finally:
                            if burner:
                                burner.kill()
                                burner.wait()
            finally:
                process.terminate()
                process.wait(timeout=30)
    text = render(results, binaries, args)
    args.out.write_text(text)
    print(text)
    return 0


def render(results: dict, binaries: list[str], args) -> str:
    lines = ["# What a shadow costs the primary", "",
             f"Command: `benchmarks/shadow_cost.py --rounds {args.rounds} --seconds {args.seconds:g}`. "
             f"Machine: {os.cpu_count()} cores, {os.uname().release}; server, clients and the busy process share it.",
             "", "Model `mlp_small`, batch 1, one client. `plain`: no shadow; `mirrored`: every request also "
             "mirrored (fraction 1.0) to an identical copy, whose session thread and the mirror dispatcher run at "
             "background priority (nice 19). Busy: one process spinning on a core throughout.", "",
             "| server | busy process | client | p50 plain µs | p50 mirrored µs | mirrored ÷ plain, per round |",
             "| --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for binary in binaries:
        for busy in (False, True):
            for client in ("bench", "python"):
                plain = results[(binary, busy, client, "plain")]
                mirrored = results[(binary, busy, client, "mirrored")]
                ratios = [m / p for m, p in zip(mirrored, plain)]
                name = "switchyard-bench" if client == "bench" else "Python tritonclient"
                lines.append(f"| {binary} | {'yes' if busy else 'no'} | {name} | {statistics.median(plain):.0f} | "
                             f"{statistics.median(mirrored):.0f} | {statistics.median(ratios):.2f}× "
                             f"[{min(ratios):.2f}–{max(ratios):.2f}] |")  # fmt: skip
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
