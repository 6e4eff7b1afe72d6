"""The machine the run is on (CPU, memory, kernel, versions), and raising the
run's priority so other work on a shared machine disturbs it less."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

from .settings import ROOT, env_int


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return ""


def memory_kib() -> int:
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            mem_kb = int(line.split()[1])
    return mem_kb


def version(argv: list[str]) -> str:
    """The first line `argv` prints, "?" when it cannot run."""
    try:
        return subprocess.run(argv, capture_output=True, text=True).stdout.strip().splitlines()[0]
    except Exception:
        return "?"


def python_versions() -> list[str]:
    """[grpcio, onnxruntime] versions of the Python server's packages."""
    return subprocess.run(
        [sys.executable, "-c", "import grpc, onnxruntime; print(grpc.__version__, onnxruntime.__version__)"],
        capture_output=True, text=True,
    ).stdout.split()  # fmt: skip


def ort_library_version() -> str:
    """Version of the ONNX Runtime library Switchyard loads (scripts/install-ort.sh)."""
    ort_lib = sorted((ROOT / ".ort" / "lib").glob("libonnxruntime.so.*"))
    return ort_lib[-1].name.removeprefix("libonnxruntime.so.") if ort_lib else "?"


def machine() -> dict:
    pyver = python_versions()
    hypervisor = "KVM/VM" if "hypervisor" in Path("/proc/cpuinfo").read_text() else "bare metal"
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "virtualisation": hypervisor,
        "memory_gib": round(memory_kib() / 1024 / 1024, 1),
        "kernel": platform.release(),
        "os": platform.platform(),
        "rustc": version(["rustc", "--version"]),
        "python": platform.python_version(),
        "grpcio": pyver[0] if pyver else "?",
        "onnxruntime_python": pyver[1] if len(pyver) > 1 else "?",
        "onnxruntime_rust_lib": ort_library_version(),
        "loadavg_start": os.getloadavg(),
    }


def prioritise() -> str:
    """Runs this process and everything it starts at niceness NICE (default -10,
    as root). With the kernel's autogroup scheduling (sched_autogroup_enabled),
    CPU is shared between sessions first and a process's own nice value only
    ranks it within its session, so this also opens a session of its own and
    sets that session's autogroup nice: on a shared machine, work started from
    other terminals then disturbs the measurement much less."""
    nice = env_int("NICE", -10)
    if nice == 0:
        return "0 (NICE=0)"
    try:
        os.setsid()
    except OSError:
        pass  # already a session leader
    try:
        Path("/proc/self/autogroup").write_text(str(nice))
    except OSError:
        pass  # no autogroups, or not allowed
    try:
        os.nice(nice - os.nice(0))
    except OSError:
        pass  # not allowed (not root): run as is
    try:
        autogroup = Path("/proc/self/autogroup").read_text().split()[-1]
    except OSError:
        autogroup = "n/a"
    return f"{os.nice(0)} (autogroup nice {autogroup})"
