#!/usr/bin/env python3
"""Protocols side by side, measured with Triton's own load generator:
Switchyard over gRPC, HTTP with binary tensors and HTTP with JSON tensors,
and a real Triton 2.51 (gRPC and HTTP) on the same small MLP.

    benchmarks/protocols.py [--rounds 3] [--requests 2000] [--out docs/PROTOCOLS.md]

perf_analyzer (../shared/tools/perf_analyzer) runs each target at
concurrency 1 and 8 in count windows; the targets take turns within each
round (the order rotates), so a noisy machine shifts them alike. The Triton
kit (../shared/tools/triton) runs ONNX Runtime in Triton's Python backend, not
its ONNX Runtime backend: its rows measure Triton's front end and scheduler
plus a Python-hosted model. Writes a Markdown report with the medians and
ranges over the rounds, the targets' ratios, and one perf_analyzer output with
its "Server:" section (from Switchyard's statistics) per protocol.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT.parent / "shared" / "tools"
PA = TOOLS / "perf_analyzer" / "perf_analyzer.sh"
TRITON = TOOLS / "triton" / "start.sh"
BIN = ROOT / "target" / "release" / "switchyard"
MODEL = "mlp"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_repo(work: Path) -> Path:
    models = work / "models"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "make_bench_models.py"), str(models)],
                   check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    repo = work / "repo"
    (repo / MODEL / "1").mkdir(parents=True)
    (models / "mlp_small.onnx").rename(repo / MODEL / "1" / "model.onnx")
    (repo / MODEL / "config.yaml").write_text("intra_op_threads: 1\n")
    return repo


def wait_for(path: Path, text: str, process: subprocess.Popen, what: str, timeout: float = 180) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = path.read_text(errors="replace")
        if text in content:
            return content
        if process.poll() is not None:
            break
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not start:\n{path.read_text(errors='replace')[-3000:]}")


def start_switchyard(repo: Path, work: Path) -> tuple[subprocess.Popen, dict]:
    log = work / "switchyard.log"
    cmd = [str(BIN), "serve", "--model-repo", str(repo), "--grpc-addr", "127.0.0.1:0",
           "--http-addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0"]  # fmt: skip
    with log.open("w") as out:
        process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=out,
                                   env=dict(os.environ, RUST_LOG="info"))  # fmt: skip
    content = wait_for(log, "initial repository load done", process, "switchyard")
    listening = next(json.loads(line) for line in content.splitlines() if '"listening"' in line)
    return process, {"grpc": listening["grpc_addr"], "http": listening["http_addr"]}


def start_triton(repo: Path, work: Path) -> tuple[subprocess.Popen, dict]:
    grpc, http = free_port(), free_port()
    log = work / "triton.log"
    with log.open("w") as out:
        process = subprocess.Popen([str(TRITON), "--repo", str(repo), "--grpc-port", str(grpc), "--http-port",
                                    str(http)], stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    wait_for(log, "TRITON READY", process, "triton")
    return process, {"grpc": f"127.0.0.1:{grpc}", "http": f"127.0.0.1:{http}"}


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_pa(url: str, protocol: str, tensor_format: str | None, concurrency: int, requests: int, csv_path: Path):
    argv = [str(PA), "-m", MODEL, "-i", protocol, "-u", url, "--shape", "x:1,64", "--concurrency-range",
            str(concurrency), "--measurement-mode", "count_windows", "--measurement-request-count", str(requests),
            "-s", "100", "-r", "6", "-f", str(csv_path)]  # fmt: skip
    if tensor_format:
        argv += ["--input-tensor-format", tensor_format, "--output-tensor-format", tensor_format]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"perf_analyzer failed ({' '.join(argv)}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    with csv_path.open() as f:
        row = next(csv.DictReader(f))
    figures = {"rps": float(row["Inferences/Second"]), "p50": float(row["p50 latency"]),
               "p99": float(row["p99 latency"])}  # fmt: skip
    return figures, done.stdout


def median_range(values: list[float], digits: int = 0) -> str:
    fmt = f"{{:,.{digits}f}}"
    return f"{fmt.format(statistics.median(values))} [{fmt.format(min(values))}–{fmt.format(max(values))}]"


def render(results: dict, outputs: dict, rounds: int, requests: int, machine: str) -> str:
    lines = ["# Protocols: gRPC, HTTP binary, HTTP JSON, and Triton", "",
             f"Command: `benchmarks/protocols.py --rounds {rounds} --requests {requests}` (also run by "
             "`benchmarks/run.sh`). Load: perf_analyzer 2.60 (Triton's own), small MLP (64-256-256-10, "
             "`x` FP32 [1, 64]), count windows of the given size, stability 10 %, targets interleaved "
             f"per round. Machine: {machine}. Medians over the rounds, [min–max].", "",
             "Each point is `../shared/tools/perf_analyzer/perf_analyzer.sh -m mlp -i grpc|http -u HOST:PORT "
             "--shape x:1,64 --concurrency-range C --measurement-mode count_windows --measurement-request-count "
             f"{requests} -s 100 -r 6 -f out.csv` (HTTP JSON adds `--input-tensor-format json "
             "--output-tensor-format json`).", "",
             "Triton rows: Triton 2.51's front end and scheduler with the model in ONNX Runtime inside "
             "Triton's **Python backend** (the kit has no ONNX Runtime backend), so Triton's compute is "
             "slower than its ONNX Runtime backend would be.", ""]  # fmt: skip
    for c in (1, 8):
        lines += [f"## Concurrency {c}", "", "| target | infer/s | p50 µs | p99 µs |", "| --- | --- | --- | --- |"]
        for name in results:
            runs = results[name][c]
            lines.append(f"| {name} | {median_range([r['rps'] for r in runs])} | "
                         f"{median_range([r['p50'] for r in runs])} | {median_range([r['p99'] for r in runs])} |")  # fmt: skip
        lines.append("")
        grpc = [r["rps"] for r in results["switchyard gRPC"][c]]
        binary = [r["rps"] for r in results["switchyard HTTP binary"][c]]
        json_ = [r["rps"] for r in results["switchyard HTTP JSON"][c]]
        lines += [f"- HTTP binary ÷ gRPC, per round: {median_range([b / g for b, g in zip(binary, grpc)], 3)}",
                  f"- HTTP JSON ÷ HTTP binary, per round: {median_range([j / b for j, b in zip(json_, binary)], 3)}",
                  ""]  # fmt: skip
    lines += ["## perf_analyzer's own output against Switchyard (last round, concurrency 8)", ""]
    for name, text in outputs.items():
        lines += [f"### {name}", "", "```", text.strip(), "```", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "PROTOCOLS.md")
    parser.add_argument("--no-triton", action="store_true", help="skip the Triton rows")
    args = parser.parse_args()
    machine = f"{os.cpu_count()} cores, {os.uname().machine}, {os.uname().release}"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        repo = make_repo(work)
        servers = [start_switchyard(repo, work)]
        if not args.no_triton:
            servers.append(start_triton(repo, work))
        try:
            sy, tr = servers[0][1], (servers[1][1] if len(servers) > 1 else None)
            targets = [("switchyard gRPC", sy["grpc"], "grpc", None),
                       ("switchyard HTTP binary", sy["http"], "http", "binary"),
                       ("switchyard HTTP JSON", sy["http"], "http", "json")]  # fmt: skip
            if tr:
                targets += [("triton gRPC", tr["grpc"], "grpc", None), ("triton HTTP binary", tr["http"], "http", "binary")]
            results = {name: {1: [], 8: []} for name, *_ in targets}
            outputs = {}
            for round_index in range(args.rounds):
                shift = round_index % len(targets)
                for name, url, protocol, fmt in targets[shift:] + targets[:shift]:
                    for c in (1, 8):
                        figures, text = run_pa(url, protocol, fmt, c, args.requests, work / "pa.csv")
                        results[name][c].append(figures)
                        print(f"round {round_index + 1} {name} c={c}: {figures}", file=sys.stderr)
                        if c == 8 and name.startswith("switchyard"):
                            outputs[name] = text
        finally:
            for process, _ in servers:
                stop(process)
    args.out.write_text(render(results, outputs, args.rounds, args.requests, machine) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
