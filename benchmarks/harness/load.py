"""Load runs: ``switchyard-bench`` against a server (with the server's CPU
time read around it), ONNX Runtime in-process with no server, and the CPU that
the rest of the machine used meanwhile."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from .servers import Server
from .settings import BENCH_BIN, CLK_TCK, CONNECTIONS, DURATION, INPROC, ROOT, WARMUP


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (everything but idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / CLK_TCK


def background(report: dict, busy_before: float, wall: float) -> None:
    """CPU that neither the server nor the client used during the point, in % of one core."""
    busy = 100.0 * (machine_busy_seconds() - busy_before) / wall
    ours = (report.get("server_cpu_percent") or 0) + (report.get("client_cpu_percent") or 0)
    report["other_cpu_percent"] = max(0.0, busy - ours)


def run_load(server: Server, model: str, batch: int, width: int, concurrency: int) -> dict:
    argv = [
        str(BENCH_BIN),
        "--url", server.url,
        "-m", model,
        "--input", f"x:FP32:{batch},{width}",
        "--concurrency", str(concurrency),
        "--duration", str(DURATION),
        "--warmup", str(WARMUP),
        "--connections", str(CONNECTIONS),
        "--json",
    ]  # fmt: skip
    busy_before = machine_busy_seconds()
    cpu_before, wall_before = server.cpu_seconds(), time.monotonic()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=DURATION + WARMUP + 60)
    cpu_after, wall_after = server.cpu_seconds(), time.monotonic()
    if done.returncode != 0:
        raise RuntimeError(f"bench against {server.name} failed: {done.stderr.strip()}")
    report = json.loads(done.stdout)
    # Over warm-up + window (+ connect/drain, a few ms): the same load throughout.
    report["server_cpu_percent"] = 100.0 * (cpu_after - cpu_before) / (wall_after - wall_before)
    report["loadavg"] = os.getloadavg()[0]
    background(report, busy_before, wall_after - wall_before)
    return report


def run_inprocess(model_path: Path, batch: int, threads: int, intra: int) -> dict:
    argv = [
        str(INPROC),
        "--model", str(model_path),
        "--batch", str(batch),
        "--threads", str(threads),
        "--intra-op-threads", str(intra),
        "--duration", str(DURATION),
        "--warmup", str(WARMUP),
    ]  # fmt: skip
    busy_before, wall_before = machine_busy_seconds(), time.monotonic()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=DURATION + WARMUP + 120)
    if done.returncode != 0:
        raise RuntimeError(f"ort_inprocess failed: {done.stderr.strip()}")
    result = json.loads(done.stdout)
    report = {
        "throughput_rps": result["runs_per_s"],
        "latency_us": result["latency_us"],
        "server_cpu_percent": result["cpu_percent"],
        "client_cpu_percent": None,
        "errors": {},
        "loadavg": os.getloadavg()[0],
        "raw": result,
    }
    background(report, busy_before, time.monotonic() - wall_before)
    return report
