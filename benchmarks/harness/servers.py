"""The server processes the benchmark starts: each one's log, address and CPU
time, and stopping every one of them (by PID) when the run ends, fails or is
interrupted."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

from .settings import CLK_TCK, ROOT, log

STARTED: list["Server"] = []


class Server:
    """A server process; its address is the `"grpc_addr":"HOST:PORT"` it prints
    (on stdout or stderr, both go to one log file)."""

    def __init__(
        self, name: str, argv: list[str], logdir: Path, ready: str | None = None, env: dict[str, str] | None = None
    ):
        self.name = name
        self.argv = argv
        self.env = {**os.environ, **(env or {})}
        self.log = logdir / f"{name}.log"
        self.ready = ready  # a further line to wait for (Switchyard: models loaded)
        self.proc: subprocess.Popen | None = None
        self.addr = ""

    def start(self, timeout: float = 120) -> "Server":
        log(f"starting {self.name}: {' '.join(self.argv)}")
        handle = open(self.log, "wb")
        self.proc = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
        )
        STARTED.append(self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            text = self.log.read_text(errors="replace")
            if not self.addr:
                match = re.search(r'"grpc_addr"\s*:\s*"([^"]+)"', text)
                if match:
                    self.addr = match.group(1)
            if self.addr and (self.ready is None or self.ready in text):
                log(f"{self.name} (pid {self.proc.pid}) listening on {self.addr}")
                return self
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not come up in {timeout} s:\n{self.log.read_text()[-3000:]}")

    @property
    def url(self) -> str:
        return f"http://{self.addr}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cpu_seconds(self) -> float:
        """User + system CPU time of the whole process (all threads)."""
        data = Path(f"/proc/{self.pid}/stat").read_text()
        fields = data[data.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def stop_all() -> None:
    for server in reversed(STARTED):
        try:
            server.stop()
        except Exception as error:  # keep stopping the others
            log(f"stopping {server.name}: {error}")
