"""The Dockerfile: multi-stage, and a runtime stage as the contract says
(non-root numeric USER, ports 8000/8001/8002, ENTRYPOINT ["switchyard", "serve"],
ONNX Runtime installed by scripts/install-ort.sh)."""

from __future__ import annotations

import json
import re

from .problems import fail, ok
from .settings import GRPC_PORT, HTTP_PORT, METRICS_PORT, ROOT

WHERE = "Dockerfile"


def logical_lines(text: str) -> list[str]:
    """Instructions with their continuation lines joined, without comment lines."""
    lines, current = [], ""
    for raw in text.splitlines():
        if raw.strip().startswith("#") and not current:
            continue
        current += raw.rstrip("\\").strip() + " "
        if not raw.rstrip().endswith("\\"):
            if current.strip():
                lines.append(current.strip())
            current = ""
    return lines


def parse_stages(lines: list[str]) -> tuple[list[dict], list[str]]:
    """The stages (``from`` and their ``(instruction, rest)`` lines), and every
    COPY/ADD source taken from the build context."""
    stages, copies = [], []
    for line in lines:
        instr, _, rest = line.partition(" ")
        instr = instr.upper()
        if instr == "FROM":
            stages.append({"from": rest, "lines": []})
        elif stages:
            stages[-1]["lines"].append((instr, rest))
        if instr in ("COPY", "ADD") and "--from=" not in rest:
            words = [w for w in rest.split() if not w.startswith("--")]
            copies.extend(words[:-1])
    return stages, copies


def check_runtime_stage(stages: list[dict]) -> None:
    final = stages[-1]
    base = final["from"].split()[0]
    if not re.match(r"^(gcr\.io/distroless/cc-debian12|debian:bookworm-slim)", base):
        fail(WHERE, f"runtime stage should be distroless cc-debian12 or debian:bookworm-slim, is {base}")
    final_instr = {}
    for instr, rest in final["lines"]:
        final_instr.setdefault(instr, []).append(rest)
    users = final_instr.get("USER", [])
    if not users or users[-1].split(":")[0] in ("root", "0"):
        fail(WHERE, "runtime stage must end with a non-root USER")
    elif not users[-1].split(":")[0].isdigit():
        fail(WHERE, "USER should be numeric so Kubernetes' runAsNonRoot can verify it")
    exposed = {p.split("/")[0] for e in final_instr.get("EXPOSE", []) for p in e.split()}
    if not {str(HTTP_PORT), str(GRPC_PORT), str(METRICS_PORT)} <= exposed:
        fail(WHERE, f"runtime stage must EXPOSE {HTTP_PORT}, {GRPC_PORT} and {METRICS_PORT}, exposes {sorted(exposed)}")
    entry = final_instr.get("ENTRYPOINT", [])
    if not entry or json.loads(entry[-1]) != ["switchyard", "serve"]:
        fail(WHERE, 'ENTRYPOINT must be ["switchyard", "serve"]')
    env = " ".join(final_instr.get("ENV", []))
    if "ORT_DYLIB_PATH=" not in env:
        fail(WHERE, "runtime stage must set ORT_DYLIB_PATH to the ONNX Runtime library it ships")


def check_dockerfile() -> list[str] | None:
    """Checks the Dockerfile; returns its COPY sources for the build-context
    check, or None when there is no multi-stage Dockerfile to check against."""
    print("Dockerfile and build context")
    path = ROOT / "Dockerfile"
    if not path.exists():
        fail(WHERE, "missing")
        return None
    if not (ROOT / ".dockerignore").exists():
        fail(".dockerignore", "missing")
    stages, copies = parse_stages(logical_lines(path.read_text()))
    if len(stages) < 2:
        fail(WHERE, "is not multi-stage")
        return None
    check_runtime_stage(stages)
    if not any("install-ort.sh" in rest for stage in stages for instr, rest in stage["lines"] if instr == "RUN"):
        fail(WHERE, "must install ONNX Runtime with scripts/install-ort.sh (checksum-checked wheel)")
    ok("Dockerfile: multi-stage, runtime stage non-root, ports, ENTRYPOINT, ONNX Runtime via install-ort.sh")
    return copies
