"""After measuring: where the time goes. perf profiles of the paths behind the
targets that were missed (or all, PROFILE=1), and instruction counts per
request with callgrind when valgrind is installed (CALLGRIND)."""

from __future__ import annotations

import shutil
from pathlib import Path

from .callgrind import callgrind_available, callgrind_inprocess, callgrind_server
from .perf import perf_available, profile
from .servers import Server
from .settings import BIN, CALLGRIND, ECHO, PROFILE, SMALL_CONFIG, log
from .prepare import LOADED


def missed(targets: list[dict], target_id: str) -> bool:
    return any(t["id"] == target_id and not t["pass"] for t in targets)


def run_profiles(servers: dict[str, Server], targets: list[dict], work: Path) -> list[dict]:
    want_profile = PROFILE == "1" or (PROFILE == "auto" and any(not t["pass"] for t in targets))
    if not want_profile:
        return []
    if not perf_available():
        log("perf is not usable here; skipping the profile (apt-get install linux-perf)")
        return []
    log("profiling with perf (cpu-clock, call graphs)")
    prof_dir = work / "perf"
    prof_dir.mkdir()
    profiles = []
    # The path every small-MLP target depends on, against the bare harness.
    for c in (1, 8):
        for name in ("echo", "echo-handoff", "inline-prototype", "switchyard"):
            profiles.append(profile(servers[name], "mlp_small", 1, 64, c, prof_dir))
    if missed(targets, "batching"):
        profiles.append(profile(servers["switchyard"], "mlp_small", 1, 64, 64, prof_dir))
        profiles.append(profile(servers["switchyard"], "mlp_small_batched", 1, 64, 64, prof_dir))
    if missed(targets, "compute"):
        profiles.append(profile(servers["switchyard"], "mlp_compute", 32, 512, 8, prof_dir))
    return profiles


def count_instructions(work: Path, small: Path) -> dict:
    """Instructions per request of echo and Switchyard (small MLP, c=1), and
    per run of ONNX Runtime in-process; {} when callgrind is off or missing."""
    if not (CALLGRIND == "1" or (CALLGRIND == "auto" and callgrind_available())):
        return {}
    log("counting instructions per request with callgrind (small MLP, c=1)")
    cg_repo = work / "cg-repo"
    (cg_repo / "mlp_small" / "1").mkdir(parents=True)
    shutil.copy(small, cg_repo / "mlp_small" / "1" / "model.onnx")
    (cg_repo / "mlp_small" / "config.yaml").write_text(SMALL_CONFIG)
    instructions = {}
    instructions["echo"] = callgrind_server("echo", [str(ECHO), "127.0.0.1:0"], work, None, "mlp_small")
    instructions["switchyard"] = callgrind_server(
        "switchyard",
        [str(BIN), "serve", "--model-repo", str(cg_repo), "--grpc-addr", "127.0.0.1:0", "--http-addr", "off",
         "--metrics-addr", "127.0.0.1:0"],
        work, LOADED, "mlp_small",
    )  # fmt: skip
    instructions["in-process ORT (per run)"] = callgrind_inprocess(small, work)
    return instructions
