"""Profiling with perf, only for what missed its target: CPU time and context
switches per request (perf stat), and self time by component (perf record with
call graphs, then perf report grouped into BUCKETS)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

from .servers import Server
from .settings import BENCH_BIN, CONNECTIONS, ROOT, log

# Self-time buckets, first match wins: (label, dso regex, symbol regex).
BUCKETS = [
    ("ONNX Runtime (the model)", r"libonnxruntime", r""),
    ("kernel: network (TCP/loopback/epoll)", r"kernel", r"tcp|inet|sock|skb|ip_|__dev|loopback|net_rx|netif|epoll|napi|__sys_sendmsg|__sys_recv"),
    ("kernel: scheduler/futex/wakeups", r"kernel", r"futex|schedul|__schedule|try_to_wake|wake_up|switch_to|finish_task|enqueue|dequeue|update_curr|pick_next|idle|hrtimer|tick"),
    ("kernel: other (syscall entry, memory, ...)", r"kernel", r""),
    ("allocator (malloc/free)", r"", r"malloc|free|realloc|calloc|_int_|cfree|sdallocx|je_|tcache"),
    ("HTTP/2 + gRPC framing (h2, hyper, tonic)", r"", r"\bh2::|hyper|tonic|http::|http_body"),
    ("protobuf (prost)", r"", r"prost"),
    ("tokio runtime", r"", r"tokio"),
    ("crossbeam channel / thread parking", r"", r"crossbeam|std::thread::park|parking"),
    ("metrics/Prometheus recording", r"", r"metrics|prometheus|quanta|sketches"),
    ("Switchyard request path", r"", r"switchyard"),
    ("libc memcpy/memset/other", r"libc", r""),
]


def perf_available() -> bool:
    if shutil.which("perf") is None:
        return False
    probe = subprocess.run(["perf", "record", "-e", "cpu-clock", "-o", "/dev/null", "--", "true"], capture_output=True)
    return probe.returncode == 0



def perf_counters(pid: int, seconds: float) -> dict[str, float]:
    """task-clock (ms), context-switches and cpu-migrations of `pid` over `seconds`."""
    stat = subprocess.run(
        ["perf", "stat", "-x", ",", "-e", "task-clock,context-switches,cpu-migrations", "-p", str(pid),
         "--", "sleep", str(seconds)],
        capture_output=True, text=True,
    )  # fmt: skip
    counters: dict[str, float] = {}
    for line in stat.stderr.splitlines():
        fields = line.split(",")
        if len(fields) > 2:
            try:
                counters[fields[2]] = float(fields[0])
            except ValueError:
                pass
    return counters


def perf_record(pid: int, seconds: float, data: Path) -> None:
    subprocess.run(
        ["perf", "record", "-e", "cpu-clock", "-F", "1999", "-g", "-p", str(pid), "-o", str(data),
         "--", "sleep", str(seconds)],
        capture_output=True, check=True,
    )  # fmt: skip


def perf_rows(data: Path) -> tuple[list[tuple[float, str, str]], str]:
    """(self %, library, symbol) per symbol from `perf report`, and its stderr."""
    report = subprocess.run(
        ["perf", "report", "-i", str(data), "--no-children", "--sort", "dso,sym", "--stdio",
         "--percent-limit", "0", "-g", "none"],
        capture_output=True, text=True,
    )  # fmt: skip
    rows = []
    for line in report.stdout.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[[.k]\]\s+(.*)$", line)
        if m:
            rows.append((float(m.group(1)), m.group(2), m.group(3).strip()))
    return rows, report.stderr


def bucket_shares(rows: list[tuple[float, str, str]]) -> dict[str, float]:
    """Self time per BUCKETS label (first match wins), the rest as "other"."""
    buckets: dict[str, float] = {label: 0.0 for label, _, _ in BUCKETS}
    buckets["other"] = 0.0
    for share, dso, sym in rows:
        for label, dso_re, sym_re in BUCKETS:
            if re.search(dso_re, dso) and re.search(sym_re, sym, re.I):
                buckets[label] += share
                break
        else:
            buckets["other"] += share
    return buckets


def profile(server: Server, model: str, batch: int, width: int, concurrency: int, workdir: Path) -> dict:
    """perf stat (CPU time and context switches per request), then perf record
    (cpu-clock, call graphs) of `server` under the given load."""
    data = workdir / f"perf-{server.name}-{model}-c{concurrency}.data"
    seconds = 3.0
    stat_seconds = 2.0
    argv = [
        str(BENCH_BIN), "--url", server.url, "-m", model,
        "--input", f"x:FP32:{batch},{width}", "--concurrency", str(concurrency),
        "--duration", str(stat_seconds + seconds + 1), "--warmup", "1", "--connections", str(CONNECTIONS), "--json",
    ]  # fmt: skip
    load = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    counters: dict[str, float] = {}
    try:
        time.sleep(1.5)
        counters = perf_counters(server.pid, stat_seconds)
        perf_record(server.pid, seconds, data)
    finally:
        out, _ = load.communicate(timeout=stat_seconds + seconds + 60)
    bench = json.loads(out) if out.strip() else {}

    def per_request(total: float) -> float | None:
        rps = bench.get("throughput_rps") or 0
        return total / (rps * stat_seconds) if rps and total else None

    rows, stderr = perf_rows(data)
    if not rows:
        log(f"perf report found no samples for {server.name} {model} c={concurrency}: "
            f"{stderr.strip()[-300:] or 'no error given'}")  # fmt: skip
    buckets = bucket_shares(rows)
    return {
        "server": server.name,
        "model": model,
        "concurrency": concurrency,
        "throughput_rps": bench.get("throughput_rps"),
        "client_cpu_percent": bench.get("client_cpu_percent"),
        "cpu_us_per_request": per_request(counters.get("task-clock", 0) * 1000),  # task-clock is in ms
        "context_switches_per_request": per_request(counters.get("context-switches", 0)),
        "buckets": {k: round(v, 1) for k, v in buckets.items() if v >= 0.05},
        "top": [(round(s, 2), d, sym[:110]) for s, d, sym in rows[:15]],
        "data": str(data),
    }
