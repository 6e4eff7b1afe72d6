"""Shared fixtures for the Python end-to-end tests.

``switchyard_server`` builds a temporary model repository out of the fixture
models (``tests/fixtures/models``) and the sample ``model_repo/trip_duration``,
starts ONE ``switchyard serve`` on it for the whole test session, and yields a
:class:`Server` with the gRPC, HTTP and metrics urls and the repository path.
``server`` is that server for one test module, and ``client`` a
``tritonclient.grpc`` client of it for one test.

Readiness protocol (no fixed ports, no sleeps): the server listens on
``127.0.0.1:0`` for gRPC, HTTP and metrics and writes JSON log lines to stderr;
the line whose ``message`` is ``"listening"`` carries the real addresses in
``grpc_addr`` / ``http_addr`` / ``metrics_addr``. After that, ``ServerReady`` is polled with
tritonclient until it is true. At teardown the server gets SIGTERM and must exit
0 within 10 s.

Environment:
    SWITCHYARD_BIN   path to the binary (default: <repo>/target/debug/switchyard)
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURE_MODELS = REPO_ROOT / "tests" / "fixtures" / "models"
SAMPLE_REPO = REPO_ROOT / "model_repo"

# Fixture models copied into the session's repository.
FIXTURE_NAMES = (
    "add_fp32",
    "int64_ops",
    "fp16_ops",
    "fp64_ops",
    "string_identity",
    "bool_not",
    "cast_many",
    "classifier",
    "fixed_shape",
    "runtime_error",
    "corrupt",
    "mlp_small",
)

LISTEN_TIMEOUT_S = 30.0
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


def switchyard_bin() -> Path:
    return Path(os.environ.get("SWITCHYARD_BIN", REPO_ROOT / "target" / "debug" / "switchyard"))


@dataclass
class Server:
    """A running ``switchyard serve`` process and where to reach it."""

    process: subprocess.Popen
    grpc_url: str  # "127.0.0.1:PORT", the form tritonclient.grpc expects
    metrics_url: str  # "http://127.0.0.1:PORT/metrics"
    repo: Path
    http_url: str | None = None  # "127.0.0.1:PORT" (tritonclient.http's form); None with --http-addr off
    log_lines: list[str] = field(default_factory=list)

    def logs(self) -> str:
        return "\n".join(self.log_lines)


def build_repo(root: Path, fixture_names=FIXTURE_NAMES, include_trip: bool = True) -> Path:
    """Copy fixture model dirs (and trip_duration) into ``root``; returns ``root``.

    ``shutil.copytree`` keeps the files' modification times, so the server sees
    settled files and loads them in its first scan.
    """
    root.mkdir(parents=True, exist_ok=True)
    for name in fixture_names:
        shutil.copytree(FIXTURE_MODELS / name, root / name)
    if "runtime_error" in fixture_names:
        # Warm-up would run the model on dummy data of the wrong size and fail.
        (root / "runtime_error" / "config.yaml").write_text("warmup: false\n")
    if include_trip:
        shutil.copytree(SAMPLE_REPO / "trip_duration", root / "trip_duration")
    return root


def _drain(stream, lines: list[str], listening: queue.Queue) -> None:
    """Reads the server's stderr to EOF so the pipe never fills up."""
    announced = False
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", "replace").rstrip("\n")
        lines.append(line)
        if announced:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("message") == "listening":
            listening.put(record)
            announced = True
    stream.close()
    if not announced:
        listening.put(None)  # exited (or closed stderr) without listening


def start_server(
    repo: Path, *extra_args: str, http_addr: str = "127.0.0.1:0", grpc_addr: str = "127.0.0.1:0"
) -> Server:
    """Starts ``switchyard serve`` on ``repo`` and waits until it is ready.
    ``http_addr`` is passed as ``--http-addr`` (``off``, or the gRPC address
    for one-port mode, the same address as ``grpc_addr``)."""
    import tritonclient.grpc as grpcclient

    binary = switchyard_bin()
    if not binary.exists():
        pytest.fail(f"switchyard binary not found at {binary}; run `cargo build` or set SWITCHYARD_BIN")
    cmd = [
        str(binary),
        "serve",
        "--model-repo",
        str(repo),
        "--grpc-addr",
        grpc_addr,
        "--metrics-addr",
        "127.0.0.1:0",
        "--http-addr",
        http_addr,
        "--log-format",
        "json",
        *extra_args,
    ]
    env = dict(os.environ)
    env.setdefault("RUST_LOG", "info")
    process = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
    )
    lines: list[str] = []
    listening: queue.Queue = queue.Queue()
    threading.Thread(
        target=_drain, args=(process.stderr, lines, listening), name="switchyard-stderr", daemon=True
    ).start()

    def fail(why: str):
        if process.poll() is None:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_S)
        log = "\n".join(lines[-50:])
        pytest.fail(f"switchyard {why} (exit code {process.returncode}); log:\n{log}")

    try:
        record = listening.get(timeout=LISTEN_TIMEOUT_S)
    except queue.Empty:
        fail(f"did not log 'listening' within {LISTEN_TIMEOUT_S:.0f} s")
    if record is None:
        fail("exited before listening")
    server = Server(
        process=process,
        grpc_url=record["grpc_addr"],
        metrics_url=f"http://{record['metrics_addr']}/metrics",
        repo=repo,
        log_lines=lines,
        http_url=record.get("http_addr"),
    )

    client = grpcclient.InferenceServerClient(server.grpc_url)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if process.poll() is not None:
                fail("exited before becoming ready")
            try:
                if client.is_server_ready():
                    break
            except Exception:  # not accepting yet; keep polling
                pass
            if time.monotonic() > deadline:
                fail(f"was not ready within {READY_TIMEOUT_S:.0f} s")
            time.sleep(0.05)
    finally:
        client.close()
    return server


def stop_server(server: Server) -> int | None:
    """SIGTERM the server we started; returns its exit code (None if it hung)."""
    process = server.process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_S)
        return None


@pytest.fixture(scope="session")
def switchyard_server(tmp_path_factory):
    repo = build_repo(tmp_path_factory.mktemp("switchyard") / "models")
    server = start_server(repo)
    try:
        yield server
    finally:
        code = stop_server(server)
    assert code == 0, (
        f"switchyard did not exit 0 within {STOP_TIMEOUT_S:.0f} s of SIGTERM (got {code}); "
        f"log tail:\n" + "\n".join(server.log_lines[-30:])
    )


@pytest.fixture(scope="module")
def server(switchyard_server):
    return switchyard_server


@pytest.fixture()
def client(server):
    import tritonclient.grpc as grpcclient

    c = grpcclient.InferenceServerClient(server.grpc_url)
    try:
        yield c
    finally:
        c.close()
