"""Instruction counts per request with valgrind's callgrind: unlike timings,
independent of whatever else the machine runs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from .servers import Server
from .settings import BENCH_BIN, INPROC

# (label, regex on a callgrind_annotate --inclusive=yes line that names a real function)
CALLGRIND_FUNCTIONS = [
    ("tokio I/O threads (HTTP/2, gRPC, handler)", r"tokio::runtime::scheduler::multi_thread::worker::run \["),
    ("ModelInfer handler (convert, gateway, metrics)", r"::model_infer::\{\{closure\}\} \["),
    ("request metrics (RequestRecord::drop)", r"<switchyard::gateway::RequestRecord as core::ops::drop::Drop>::drop \["),
    ("session worker thread", r"switchyard::model::executor::worker_loop \["),
    ("ONNX Runtime Session::run", r"<impl ort::session::Session>::run \["),
]


def callgrind_available() -> bool:
    return shutil.which("valgrind") is not None and shutil.which("callgrind_control") is not None


def annotate(out_file: Path, option: str) -> str:
    return subprocess.run(
        ["callgrind_annotate", option, "--threshold=100", str(out_file)],
        capture_output=True, text=True,
    ).stdout  # fmt: skip


def instruction_counts(out_file: Path) -> dict:
    """Inclusive instructions: the program total and each CALLGRIND_FUNCTIONS entry."""
    inclusive = annotate(out_file, "--inclusive=yes")
    number = lambda line: int(line.split()[0].replace(",", ""))  # noqa: E731
    result: dict = {}
    for line in inclusive.splitlines():
        if "PROGRAM TOTALS" in line:
            result["total"] = number(line)
    for label, pattern in CALLGRIND_FUNCTIONS:
        for line in inclusive.splitlines():
            if re.match(r"\s*[\d,]+ \(", line) and re.search(pattern, line):
                result[label] = number(line)
                break
    return result


def malloc_calls(out_file: Path) -> tuple[int, int]:
    """Calls of malloc from Rust and from C++ (operator new, i.e. ONNX Runtime)."""
    callers = annotate(out_file, "--tree=caller")
    rust = cxx = 0
    for block in callers.split("\n\n"):
        if not re.search(r"\*\s+\S*malloc\.c:malloc \[", block):
            continue
        for line in block.splitlines():
            m = re.match(r"\s*[\d,]+ \([ \d.]+%\)\s+<\s+(.*)\(([\d,]+)x\)", line)
            if m:
                count = int(m.group(2).replace(",", ""))
                if "operator new" in m.group(1):
                    cxx += count
                else:
                    rust += count
    return rust, cxx


def callgrind_counts(out_file: Path, requests: int) -> dict:
    """Instructions and malloc calls per request from a callgrind dump."""
    result: dict = {"requests": requests}
    result.update({label: count / requests for label, count in instruction_counts(out_file).items()})
    rust, cxx = malloc_calls(out_file)
    result["malloc calls (Rust)"] = rust / requests
    result["malloc calls (C++, ONNX Runtime)"] = cxx / requests
    return result


def callgrind_server(name: str, argv: list[str], work: Path, ready: str | None, model: str) -> dict:
    """Runs a server under callgrind, counts only the measured requests (c=1)."""
    out = work / f"callgrind-{name}.out"
    server = Server(
        f"callgrind-{name}",
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *argv],
        work, ready=ready,
    ).start(timeout=300)  # fmt: skip

    def load(seconds: float, warmup: float) -> dict:
        argv = [str(BENCH_BIN), "--url", server.url, "-m", model, "--input", "x:FP32:1,64",
                "--concurrency", "1", "--duration", str(seconds), "--warmup", str(warmup), "--json"]  # fmt: skip
        done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + warmup + 120, check=True)
        return json.loads(done.stdout)

    try:
        load(2, 0)  # warm every lazy path (first request, metric registration)
        subprocess.run(["callgrind_control", "-z", str(server.pid)], capture_output=True, check=True)
        report = load(5, 0)
        subprocess.run(["callgrind_control", "-d", str(server.pid)], capture_output=True, check=True)
    finally:
        server.stop()
    dumps = sorted(work.glob(f"callgrind-{name}.out.*"))
    if not dumps:
        raise RuntimeError(f"callgrind wrote no dump for {name}")
    requests = report["ok"] + sum(report["errors"].values())
    return callgrind_counts(dumps[-1], max(requests, 1))


def callgrind_inprocess(model: Path, work: Path) -> dict:
    """ONNX Runtime's own instructions per run of the small MLP, no server."""
    out = work / "callgrind-inprocess.out"
    argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--toggle-collect=*run_thread*",
            str(INPROC), "--model", str(model), "--duration", "3", "--warmup", "0"]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=True)
    runs = json.loads(done.stdout.strip().splitlines()[-1])["runs"]
    counts = callgrind_counts(out, max(runs, 1))
    # Call counts are kept outside the toggled region too (session creation
    # allocates a lot), so allocation counts would be wrong here.
    for key in [k for k in counts if k.startswith("malloc")]:
        del counts[key]
    return counts
