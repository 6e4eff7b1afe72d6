"""What the benchmark runs and how long: paths of the binaries, the settings
read from the environment (see benchmarks/run.sh), and the model configurations
Switchyard serves."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / "target" / "release" / "switchyard"
BENCH_BIN = ROOT / "target" / "release" / "switchyard-bench"
ECHO = ROOT / "target" / "release" / "examples" / "echo_server"
INPROC = ROOT / "target" / "release" / "examples" / "ort_inprocess"
PYTHON_SERVER = ROOT / "benchmarks" / "python_server.py"
FINDINGS = ROOT / "benchmarks" / "FINDINGS.md"


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


DURATION = env_float("DURATION", 5)
WARMUP = env_float("WARMUP", 1)
REPEATS = env_int("REPEATS", 3)
CONNECTIONS = env_int("CONNECTIONS", 1)
RETRIES = env_int("RETRIES", 0)
NOISY = env_float("NOISY", 25)
PROFILE = os.environ.get("PROFILE", "auto")  # auto | 1 | 0
CALLGRIND = os.environ.get("CALLGRIND", "auto")  # auto (when valgrind is installed) | 1 | 0
OUT = Path(os.environ.get("OUT", ROOT / "docs" / "BENCHMARKS.md"))
PLOT = OUT.parent / "benchmarks-throughput.png"
RESULTS_JSON = Path(os.environ.get("RESULTS_JSON", ROOT / "target" / "benchmarks" / "results.json"))

# Switchyard's per-model settings, and the same thread counts for in-process.
SMALL_INSTANCES = env_int("SMALL_INSTANCES", 1)
COMPUTE_INSTANCES = env_int("COMPUTE_INSTANCES", 2)
COMPUTE_INTRA = env_int("COMPUTE_INTRA", 1)
SMALL_CONFIG = f"""\
instances: {SMALL_INSTANCES}
intra_op_threads: 1
max_batch_size: 64
"""
BATCHED_CONFIG = SMALL_CONFIG + """\
dynamic_batching:
  max_queue_delay_us: 500
  preferred_batch_size: [32]
"""
# Batching that never waits: a run takes whatever is already queued.
OPPORTUNISTIC_CONFIG = SMALL_CONFIG + """\
dynamic_batching:
  max_queue_delay_us: 0
"""
COMPUTE_CONFIG = f"""\
instances: {COMPUTE_INSTANCES}
intra_op_threads: {COMPUTE_INTRA}
max_batch_size: 64
"""

COMPUTE_BATCHED_CONFIG = COMPUTE_CONFIG + """\
dynamic_batching:
  max_queue_delay_us: 500
  preferred_batch_size: [32]
"""

SMALL_CONCURRENCY = [1, 8, 32, 64]
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
