#!/usr/bin/env python3
"""Scale benchmark: a repository of N models, one small version each.

    benchmarks/scale.py [--models 100,1000,5000] [--out docs/SCALE.md] [--bin PATH]

For each N it writes N copies of the add_fp32 fixture (one version each,
default config), starts the release binary on them and reports:
- ready time: process start to the "initial repository load done" log line;
- RSS and threads of the process once ready (/proc/PID/status);
- the size of one `GET /metrics` while idle;
- idle CPU: the server's CPU over 5 s with no requests (session threads park);
- per-change CPU: the server's CPU between publishing one new version of one
  model (a directory renamed in, as the README says to publish) and that
  version being loaded, minus the idle CPU of the same span; the mean of 12
  (CPU is accounted in 10 ms ticks, so single readings are 0, 10 or 20 ms).
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
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / "target" / "release" / "switchyard"
MODEL = ROOT / "tests" / "fixtures" / "models" / "add_fp32" / "1" / "model.onnx"
TICKS = os.sysconf("SC_CLK_TCK")
# Published versions per repository size. The kernel accounts CPU in ticks
# (10 ms): one change reads 0 or 10 ms, so the figure is the mean of many.
CHANGES = 12


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def status(pid: int, key: str) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return line.split(":", 1)[1].strip()
    return ""


def make_repo(root: Path, count: int) -> None:
    for i in range(count):
        version = root / f"m{i:05d}" / "1"
        version.mkdir(parents=True)
        shutil.copy(MODEL, version / "model.onnx")


def wait_for_line(log: Path, predicate, process: subprocess.Popen, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline:
        lines = log.read_text(errors="replace").splitlines()
        for line in lines[seen:]:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if predicate(record):
                return record
        seen = len(lines)
        if process.poll() is not None:
            raise RuntimeError(f"server exited:\n{log.read_text()[-2000:]}")
        time.sleep(0.01)
    raise RuntimeError(f"timed out waiting in {log}")


def publish_cpu(pid: int, repo: Path, log: Path, process, idle_per_s: float, version: int) -> float:
    """CPU seconds spent publishing one new version of one model."""
    staged = repo / "m00000" / f".{version}.tmp"
    staged.mkdir()
    shutil.copy(MODEL, staged / "model.onnx")
    before, started = cpu_seconds(pid), time.monotonic()
    staged.rename(repo / "m00000" / str(version))
    wait_for_line(log, lambda r: r.get("message") == "model version loaded" and r.get("model") == "m00000"
                  and r.get("version") == version, process, 60)  # fmt: skip
    spent = cpu_seconds(pid) - before
    return max(0.0, spent - idle_per_s * (time.monotonic() - started))


def measure(binary: Path, count: int, work: Path) -> dict:
    repo = work / f"repo{count}"
    make_repo(repo, count)
    log = work / f"scale{count}.log"
    cmd = [str(binary), "serve", "--model-repo", str(repo), "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
           "--metrics-addr", "127.0.0.1:0"]  # fmt: skip
    started = time.monotonic()
    with log.open("w") as out:
        process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=out,
                                   env=dict(os.environ, RUST_LOG="info"))  # fmt: skip
    try:
        wait_for_line(log, lambda r: r.get("message") == "initial repository load done", process, 600)
        ready = time.monotonic() - started
        listening = wait_for_line(log, lambda r: r.get("message") == "listening", process, 5)
        pid = process.pid
        time.sleep(1)  # let start-up work (warm-up, watcher set-up) finish before measuring idle
        scrape = len(urllib.request.urlopen(f"http://{listening['metrics_addr']}/metrics").read())
        idle_before = cpu_seconds(pid)
        time.sleep(5)
        idle_per_s = (cpu_seconds(pid) - idle_before) / 5
        changes = [publish_cpu(pid, repo, log, process, idle_per_s, v) for v in range(2, 2 + CHANGES)]
        return {
            "models": count, "ready_s": ready, "rss": status(pid, "VmRSS"), "threads": status(pid, "Threads"),
            "scrape_bytes": scrape, "idle_cpu_pct": idle_per_s * 100, "change_cpu_ms": statistics.mean(changes) * 1e3,
            "change_cpu_ms_range": (min(changes) * 1e3, max(changes) * 1e3),
        }  # fmt: skip
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def render(rows: list[dict]) -> str:
    lines = [
        "# Scale: repositories of many models", "",
        "Command: `benchmarks/scale.py` (release build). Each model is a copy of the `add_fp32` fixture, "
        "one version, default config (one session, one intra-op thread). "
        f"Machine: {os.cpu_count()} cores, {os.uname().release}.", "",
        "| models | ready | RSS | threads | idle `GET /metrics` | idle CPU | CPU per published version, mean of 12 [min–max] |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]  # fmt: skip
    for r in rows:
        low, high = r["change_cpu_ms_range"]
        lines.append(f"| {r['models']:,} | {r['ready_s']:.2f} s | {r['rss']} | {r['threads']} | "
                     f"{r['scrape_bytes'] / 1024:,.0f} KiB | {r['idle_cpu_pct']:.2f} % of a core | "
                     f"{r['change_cpu_ms']:.1f} ms [{low:.1f}–{high:.1f}] |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="100,1000,5000")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "SCALE.md")
    parser.add_argument("--bin", type=Path, default=BIN, help="the server binary (default: the release build)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for count in (int(n) for n in args.models.split(",")):
            rows.append(measure(args.bin, count, Path(tmp)))
            print(rows[-1], file=sys.stderr)
    args.out.write_text(render(rows))
    print(render(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
