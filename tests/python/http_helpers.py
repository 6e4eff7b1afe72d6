"""Helpers shared by the HTTP/REST interop tests (test_http_*.py,
test_readme_commands.py): clients and fixtures for the REST port, tensors for
``tritonclient.http``, the error-body and status checks, the binary tensor
data framing for raw requests, the gRPC message of the same bad request, and
servers of their own (one port, small limits) started with conftest's
``start_server``.

Fixtures defined here (``hclient``, ``base_url``, ``grpc_client``) are imported
by the test modules that use them, so pytest sees them there.
"""

from __future__ import annotations

import inspect
import json
import socket
import struct
from pathlib import Path

import numpy as np
import pytest
import requests
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from conftest import build_repo, start_server, stop_server

HEADER_LENGTH = "Inference-Header-Content-Length"
REQUEST_TIMEOUT_S = 30  # every raw request is bounded

# HTTP status for each gRPC status code (the contract's table).
HTTP_STATUS = {
    "StatusCode.NOT_FOUND": 404,
    "StatusCode.INVALID_ARGUMENT": 400,
    "StatusCode.UNAVAILABLE": 503,
    "StatusCode.RESOURCE_EXHAUSTED": 429,
    "StatusCode.DEADLINE_EXCEEDED": 504,
    "StatusCode.INTERNAL": 500,
}


# --------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------


@pytest.fixture()
def hclient(server):
    """A ``tritonclient.http`` client of the session server."""
    assert server.http_url, "the session server must serve HTTP"
    c = httpclient.InferenceServerClient(server.http_url)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture()
def base_url(server) -> str:
    """``http://127.0.0.1:PORT`` of the session server's REST port."""
    assert server.http_url, "the session server must serve HTTP"
    return f"http://{server.http_url}"


@pytest.fixture()
def grpc_client(server):
    c = grpcclient.InferenceServerClient(server.grpc_url)
    try:
        yield c
    finally:
        c.close()


# --------------------------------------------------------------------------
# Tensors and answers (tritonclient.http)
# --------------------------------------------------------------------------


def hinput(name: str, array: np.ndarray, datatype: str, binary: bool = True) -> httpclient.InferInput:
    tensor = httpclient.InferInput(name, list(array.shape), datatype)
    tensor.set_data_from_numpy(array, binary_data=binary)
    return tensor


def hout(name: str, binary: bool = True) -> httpclient.InferRequestedOutput:
    return httpclient.InferRequestedOutput(name, binary_data=binary)


def ginput(name: str, array: np.ndarray, datatype: str) -> grpcclient.InferInput:
    tensor = grpcclient.InferInput(name, list(array.shape), datatype)
    tensor.set_data_from_numpy(array)
    return tensor


def result_outputs(result) -> dict:
    """The JSON header's outputs of a ``tritonclient.http`` InferResult, by name."""
    return {o["name"]: o for o in result.get_response()["outputs"]}


def expect_http_error(call, status: int) -> InferenceServerException:
    """Runs ``call`` (a tritonclient.http call); asserts it raises with ``status``."""
    with pytest.raises(InferenceServerException) as info:
        call()
    assert info.value.status() == str(status), (info.value.status(), info.value.message())
    return info.value


def grpc_error(server, call) -> InferenceServerException:
    """The exception ``call(grpc_client)`` raises against ``server`` over gRPC."""
    c = grpcclient.InferenceServerClient(server.grpc_url)
    try:
        with pytest.raises(InferenceServerException) as info:
            call(c)
        return info.value
    finally:
        c.close()


def error_message(response: requests.Response, status: int) -> str:
    """Asserts ``response`` is an error answer with ``status`` and the body
    ``{"error": "<message>"}`` (nothing else); returns the message."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers.get("Content-Type", "").startswith("application/json"), response.headers
    body = response.json()
    assert isinstance(body, dict) and list(body) == ["error"], body
    assert isinstance(body["error"], str) and body["error"].strip(), body
    return body["error"]


# --------------------------------------------------------------------------
# Raw requests (requests library)
# --------------------------------------------------------------------------


def get(base: str, path: str, **kwargs) -> requests.Response:
    return requests.get(base + path, timeout=REQUEST_TIMEOUT_S, **kwargs)


def post(base: str, path: str, **kwargs) -> requests.Response:
    return requests.post(base + path, timeout=REQUEST_TIMEOUT_S, **kwargs)


def post_json(base: str, path: str, body, headers: dict | None = None) -> requests.Response:
    h = {"Content-Type": "application/json", **(headers or {})}
    return post(base, path, data=json.dumps(body).encode(), headers=h)


def binary_body(header: dict, blobs: list[bytes]) -> tuple[bytes, dict]:
    """The body and headers of a request with binary tensor data."""
    head = json.dumps(header).encode()
    return head + b"".join(blobs), {
        HEADER_LENGTH: str(len(head)),
        "Content-Type": "application/octet-stream",
    }


def split_binary(response: requests.Response) -> tuple[dict, dict[str, bytes]]:
    """A binary answer's JSON header and each binary output's bytes, by name.
    Outputs without ``binary_data_size`` are left in the JSON."""
    assert response.status_code == 200, (response.status_code, response.text[:500])
    length = response.headers.get(HEADER_LENGTH)
    assert length is not None, f"no {HEADER_LENGTH} header: {dict(response.headers)}"
    content = response.content
    header = json.loads(content[: int(length)])
    blobs, offset = {}, int(length)
    for output in header["outputs"]:
        size = (output.get("parameters") or {}).get("binary_data_size")
        if size is not None:
            blobs[output["name"]] = content[offset : offset + size]
            offset += size
    assert offset == len(content), (offset, len(content), header)
    return header, blobs


def serialize_bytes(values: list[bytes]) -> bytes:
    """BYTES elements in Triton's binary form: 4-byte little-endian length + bytes."""
    return b"".join(struct.pack("<I", len(v)) + v for v in values)


def deserialize_bytes(data: bytes) -> list[bytes]:
    out, offset = [], 0
    while offset < len(data):
        (n,) = struct.unpack_from("<I", data, offset)
        out.append(data[offset + 4 : offset + 4 + n])
        offset += 4 + n
    assert offset == len(data)
    return out


# --------------------------------------------------------------------------
# Servers of their own
# --------------------------------------------------------------------------


def listening_record(server) -> dict:
    """The server's JSON "listening" log line."""
    for line in server.log_lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("message") == "listening":
            return record
    raise AssertionError("no 'listening' line in the log:\n" + server.logs()[-3000:])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_one_port_server(repo: Path, *extra_args: str, attempts: int = 5):
    """``switchyard serve`` with gRPC and REST on one free port. The port is
    found by binding to port 0 and closing it, so another process may take it
    first: then the server fails to bind and we try another (bounded)."""
    last = None
    for _ in range(attempts):
        port = free_port()
        addr = f"127.0.0.1:{port}"
        try:
            if "grpc_addr" in inspect.signature(start_server).parameters:
                return start_server(repo, *extra_args, http_addr=addr, grpc_addr=addr)
            return start_server(repo, "--grpc-addr", addr, *extra_args, http_addr=addr)
        except pytest.fail.Exception as failure:
            text = str(failure).lower()
            if "address already in use" not in text and "addrinuse" not in text:
                raise
            last = failure
    raise AssertionError(f"no free port for one-port mode after {attempts} attempts: {last}")


class OwnServer:
    """A server of the test's own on a repository of the given fixtures."""

    def __init__(self, tmp_path: Path, fixtures, *args: str, configs: dict | None = None,
                 include_trip: bool = False, http_addr_off: bool = False):
        repo = build_repo(tmp_path / "models", fixture_names=tuple(fixtures), include_trip=include_trip)
        for model, text in (configs or {}).items():
            (repo / model / "config.yaml").write_text(text)
        if http_addr_off:
            self.server = start_server(repo, *args, http_addr="off")
        else:
            self.server = start_server(repo, *args)

    def __enter__(self):
        return self.server

    def __exit__(self, *exc):
        code = stop_server(self.server)
        assert code == 0, f"exit code {code}; log:\n" + self.server.logs()[-3000:]
