"""Before measuring: the two benchmark models, the model repository Switchyard
serves (one directory per configuration), and every server, started."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from .servers import Server
from .settings import (
    BATCHED_CONFIG,
    BIN,
    COMPUTE_BATCHED_CONFIG,
    COMPUTE_CONFIG,
    ECHO,
    OPPORTUNISTIC_CONFIG,
    PYTHON_SERVER,
    ROOT,
    SMALL_CONFIG,
)

# What Switchyard logs once its first scan has loaded the repository.
LOADED = "initial repository load done"


def write_models(work: Path) -> tuple[Path, Path]:
    """The small and the compute MLP, from benchmarks/make_bench_models.py."""
    models = work / "models"
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "make_bench_models.py"), str(models)], check=True, stdout=sys.stderr
    )
    return models / "mlp_small.onnx", models / "mlp_compute.onnx"


def write_repo(work: Path, small: Path, compute: Path) -> Path:
    repo = work / "repo"
    for name, path, config in [
        ("mlp_small", small, SMALL_CONFIG),
        ("mlp_small_batched", small, BATCHED_CONFIG),
        ("mlp_small_opportunistic", small, OPPORTUNISTIC_CONFIG),
        ("mlp_compute", compute, COMPUTE_CONFIG),
        ("mlp_compute_batched", compute, COMPUTE_BATCHED_CONFIG),
    ]:
        (repo / name / "1").mkdir(parents=True)
        shutil.copy(path, repo / name / "1" / "model.onnx")
        (repo / name / "config.yaml").write_text(config)
    return repo


def switchyard(name: str, repo: Path, work: Path, *flags: str, env: dict[str, str] | None = None) -> Server:
    """`switchyard serve` on `repo`, ready once the repository is loaded."""
    argv = [str(BIN), "serve", "--model-repo", str(repo), "--grpc-addr", "127.0.0.1:0", "--http-addr", "off",
            "--metrics-addr", "127.0.0.1:0", *flags]  # fmt: skip
    return Server(name, argv, work, ready=LOADED, env=env)


def start_servers(work: Path, repo: Path, small: Path, compute: Path) -> dict[str, Server]:
    servers = {
        "echo": Server("echo", [str(ECHO), "127.0.0.1:0"], work).start(),
        "echo-handoff": Server("echo-handoff", [str(ECHO), "127.0.0.1:0", "--handoff"], work).start(),
        "inline-prototype": Server(
            "inline-prototype", [str(ECHO), "127.0.0.1:0", "--inline-model", str(small)], work
        ).start(),
        "switchyard": switchyard("switchyard", repo, work).start(),
        # The same with idle session threads that always sleep: what the polling saves.
        "switchyard-nospin": switchyard("switchyard-nospin", repo, work, "--idle-spin-us", "0").start(),
        # The same with one tokio I/O worker instead of one per core.
        "switchyard-1io": switchyard("switchyard-1io", repo, work, env={"TOKIO_WORKER_THREADS": "1"}).start(),
        "python": Server(
            "python",
            [sys.executable, str(PYTHON_SERVER), "--model", f"mlp_small={small}", "--model", f"mlp_compute={compute}"],
            work,
        ).start(),  # fmt: skip
    }
    time.sleep(1)  # let start-up work (warm-up runs, inotify set-up) settle
    return servers
