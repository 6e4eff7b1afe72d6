#!/usr/bin/env python3
"""A/B benchmark: the same load against two or more server variants,
interleaved round by round, so a noisy machine shifts every variant alike.

    benchmarks/ab.py --variant 'before=/path/to/old/switchyard' \
                     --variant 'after=target/release/switchyard --http-addr 127.0.0.1:0' \
                     [--concurrency 1,8] [--rounds 5] [--duration 5] [--model mlp_small]

Each variant is `NAME=BINARY [serve flags...]`. Every round starts each
variant in turn (the order rotates each round) on the benchmark's small MLP
(benchmarks/make_bench_models.py, `intra_op_threads: 1`), waits for its
"initial repository load done" log line, runs `switchyard-bench` (closed loop,
one thread, 1x64 FP32 rows) at each concurrency, and stops it by PID. The
report is a Markdown table per concurrency: median throughput and p50/p99
over the rounds, min-max in brackets, and each variant's throughput ratio to
the first variant, computed round by round.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "target" / "release" / "switchyard-bench"
LOADED = "initial repository load done"
CONFIG = "intra_op_threads: 1\n"


def make_repo(work: Path, model: str) -> Path:
    models = work / "models"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "make_bench_models.py"), str(models)],
                   check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    repo = work / "repo"
    (repo / model / "1").mkdir(parents=True)
    (models / f"{model}.onnx").rename(repo / model / "1" / "model.onnx")
    (repo / model / "config.yaml").write_text(CONFIG)
    return repo


def start(argv: list[str], repo: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """Starts a server and returns it with its gRPC url once it has loaded."""
    cmd = [argv[0], "serve", "--model-repo", str(repo), "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
           "--metrics-addr", "127.0.0.1:0", *argv[1:]]  # fmt: skip
    env = dict(os.environ, RUST_LOG="info")
    with log.open("w") as out:
        process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=out, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        lines = log.read_text().splitlines()
        if any(LOADED in line for line in lines):
            listening = next(json.loads(line) for line in lines if '"listening"' in line)
            return process, f"http://{listening['grpc_addr']}"
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"{cmd[0]} did not load:\n{log.read_text()[-2000:]}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def measure(url: str, model: str, concurrency: int, duration: float) -> dict:
    argv = [str(BENCH), "--url", url, "-m", model, "--input", "x:FP32:1,64", "--concurrency", str(concurrency),
            "--duration", str(duration), "--warmup", "1", "--threads", "1", "--json"]  # fmt: skip
    done = subprocess.run(argv, check=True, capture_output=True, text=True)
    report = json.loads(done.stdout)
    return {"rps": report["throughput_rps"], "p50": report["latency_us"]["p50"], "p99": report["latency_us"]["p99"]}


def spread(values: list[float], digits: int = 0) -> str:
    fmt = f"{{:,.{digits}f}}"
    return f"{fmt.format(statistics.median(values))} [{fmt.format(min(values))}–{fmt.format(max(values))}]"


def report(results: dict, names: list[str], concurrencies: list[int]) -> str:
    lines = []
    for c in concurrencies:
        lines += [f"\n### concurrency {c}\n", "| variant | req/s | p50 µs | p99 µs | req/s ÷ first, per round |",
                  "| --- | --- | --- | --- | --- |"]  # fmt: skip
        base = [r["rps"] for r in results[(names[0], c)]]
        for name in names:
            runs = results[(name, c)]
            ratios = [r["rps"] / b for r, b in zip(runs, base)]
            lines.append(f"| {name} | {spread([r['rps'] for r in runs])} | {spread([r['p50'] for r in runs])} "
                         f"| {spread([r['p99'] for r in runs])} | {spread(ratios, 3)} |")  # fmt: skip
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", action="append", required=True, help="NAME=BINARY [serve flags]")
    parser.add_argument("--concurrency", default="1,8")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--model", default="mlp_small")
    args = parser.parse_args()
    variants = [(v.split("=", 1)[0], shlex.split(v.split("=", 1)[1])) for v in args.variant]
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    results: dict = {(name, c): [] for name, _ in variants for c in concurrencies}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        repo = make_repo(work, args.model)
        for round_index in range(args.rounds):
            order = variants[round_index % len(variants):] + variants[: round_index % len(variants)]
            for name, argv in order:
                process, url = start(argv, repo, work / f"{name}.log")
                try:
                    for c in concurrencies:
                        results[(name, c)].append(measure(url, args.model, c, args.duration))
                        print(f"round {round_index + 1} {name} c={c}: {results[(name, c)][-1]}", file=sys.stderr)
                finally:
                    stop(process)
    names = [name for name, _ in variants]
    print(f"Command: `benchmarks/ab.py {' '.join(shlex.quote(a) for a in sys.argv[1:])}`")
    print(f"Rounds: {args.rounds}, {args.duration:g} s each, model {args.model}, load generator switchyard-bench.")
    print(report(results, names, concurrencies))
    return 0


if __name__ == "__main__":
    sys.exit(main())
