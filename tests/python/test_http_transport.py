"""End-to-end tests: how the REST port is reached. Compressed request bodies
(gzip, deflate) and compressed answers (``Accept-Encoding``), HTTP/1.1 with
keep-alive and h2c (HTTP/2 with prior knowledge, via ``httpx`` and via
``curl --http2-prior-knowledge``), the body limit (413, also for chunked bodies
without Content-Length and before the body is read whole), one port for gRPC
and REST, and ``--http-addr off``.

Requires: requests, httpx[http2], tritonclient[http,grpc], numpy, pytest; curl.
"""

from __future__ import annotations

import gzip
import http.client
import json
import shutil
import socket
import subprocess
import zlib

import httpx
import numpy as np
import pytest
import requests
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

from conftest import build_repo, start_server, stop_server
from http_helpers import HEADER_LENGTH, OwnServer, binary_body, error_message, ginput, hinput, listening_record
from http_helpers import post, start_one_port_server
from http_helpers import base_url  # noqa: F401 (fixture)
from triton_helpers import ADD_A, ADD_B, assert_same

ADD = "/v2/models/add_fp32/infer"
A = np.arange(2048, dtype=np.float32).reshape(512, 4)
B = np.ones((512, 4), np.float32)
BODY = json.dumps({"inputs": [
    {"name": "a", "datatype": "FP32", "shape": [512, 4], "data": A.reshape(-1).tolist()},
    {"name": "b", "datatype": "FP32", "shape": [512, 4], "data": B.reshape(-1).tolist()},
]}).encode()


def check_add(body: dict, a=A, b=B):
    out = {o["name"]: o for o in body["outputs"]}
    assert out["sum"]["data"] == (a + b).reshape(-1).tolist()
    assert out["diff"]["data"] == (a - b).reshape(-1).tolist()


# --------------------------------------------------------------------------
# Compression
# --------------------------------------------------------------------------


@pytest.mark.parametrize("encoding, compress", [("gzip", gzip.compress), ("deflate", zlib.compress)])
def test_compressed_request_body(base_url, encoding, compress):
    data = compress(BODY)
    assert len(data) < len(BODY)
    response = post(base_url, ADD, data=data, headers={"Content-Type": "application/json",
                                                        "Content-Encoding": encoding, "Accept-Encoding": "identity"})
    assert response.status_code == 200, response.text[:500]
    check_add(response.json())


def _raw_answer(base, headers, data=BODY):
    """POST and return (response, body bytes exactly as sent by the server)."""
    response = requests.post(base + ADD, data=data, headers={"Content-Type": "application/json", **headers},
                             stream=True, timeout=30)
    raw = response.raw.read(decode_content=False)
    response.close()
    return response, raw


def test_gzip_answer_when_accepted(base_url):
    response, raw = _raw_answer(base_url, {"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers.get("Content-Encoding") == "gzip", response.headers
    check_add(json.loads(gzip.decompress(raw)))
    assert len(raw) < len(gzip.decompress(raw))


def test_no_compression_unless_asked(base_url):
    response, raw = _raw_answer(base_url, {"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert "Content-Encoding" not in response.headers or response.headers["Content-Encoding"] == "identity"
    check_add(json.loads(raw))


def test_gzip_binary_answer_keeps_the_header_length(base_url):
    header = {"inputs": [
        {"name": "a", "datatype": "FP32", "shape": [512, 4], "parameters": {"binary_data_size": A.nbytes}},
        {"name": "b", "datatype": "FP32", "shape": [512, 4], "parameters": {"binary_data_size": B.nbytes}},
    ], "parameters": {"binary_data_output": True}}
    data, headers = binary_body(header, [A.tobytes(), B.tobytes()])
    response, raw = _raw_answer(base_url, {**headers, "Accept-Encoding": "gzip"}, data)
    assert response.status_code == 200 and response.headers.get("Content-Encoding") == "gzip"
    plain = gzip.decompress(raw)
    length = int(response.headers[HEADER_LENGTH])
    head = json.loads(plain[:length])
    assert [o["parameters"]["binary_data_size"] for o in head["outputs"]] == [A.nbytes, A.nbytes]
    sums = np.frombuffer(plain[length:length + A.nbytes], np.float32).reshape(512, 4)
    np.testing.assert_array_equal(sums, A + B)


def test_gzip_and_deflate_with_tritonclient_compressed_both_ways(base_url):
    c = httpclient.InferenceServerClient(base_url.removeprefix("http://"))
    try:
        for algorithm in ("gzip", "deflate"):
            result = c.infer("add_fp32", [hinput("a", A, "FP32"), hinput("b", B, "FP32")],
                             request_compression_algorithm=algorithm, response_compression_algorithm=algorithm)
            assert_same(result.as_numpy("sum"), A + B)
    finally:
        c.close()


# --------------------------------------------------------------------------
# HTTP/1.1 keep-alive and h2c
# --------------------------------------------------------------------------


def test_http11_keep_alive(base_url):
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        for _ in range(3):
            conn.request("POST", ADD, body=BODY, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            assert response.status == 200 and response.version == 11
            check_add(json.loads(response.read()))
        conn.request("GET", "/v2/health/ready")
        response = conn.getresponse()
        assert response.status == 200
        response.read()
    finally:
        conn.close()


def test_h2c_prior_knowledge_with_httpx(base_url):
    with httpx.Client(http1=False, http2=True, timeout=30) as c:
        ready = c.get(base_url + "/v2/health/ready")
        assert ready.http_version == "HTTP/2" and ready.status_code == 200
        meta = c.get(base_url + "/v2")
        assert meta.http_version == "HTTP/2" and meta.json()["name"] == "switchyard"
        answer = c.post(base_url + ADD, content=BODY, headers={"Content-Type": "application/json"})
        assert answer.http_version == "HTTP/2" and answer.status_code == 200
        check_add(answer.json())
        missing = c.post(base_url + "/v2/models/no_such_model/infer", content=BODY)
        assert missing.status_code == 404 and list(missing.json()) == ["error"]


def test_h2c_with_curl(base_url):
    curl = shutil.which("curl")
    assert curl, "curl is needed (the README's commands use it)"
    out = subprocess.run(
        [curl, "-s", "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_version} %{http_code}",
         base_url + "/v2/health/live"],
        capture_output=True, text=True, timeout=30,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == "2 200", out.stdout


# --------------------------------------------------------------------------
# Body over --max-message-bytes: 413
# --------------------------------------------------------------------------

LIMIT = 2048
BIG = json.dumps({"inputs": [
    {"name": "a", "datatype": "FP32", "shape": [256, 4], "data": [0.5] * 1024},
]}).encode()  # ~5 KiB


@pytest.fixture(scope="module")
def small_limit(tmp_path_factory):
    repo = build_repo(tmp_path_factory.mktemp("limit") / "models", fixture_names=("add_fp32",), include_trip=False)
    server = start_server(repo, "--max-message-bytes", str(LIMIT))
    try:
        yield server
    finally:
        code = stop_server(server)
    assert code == 0, server.logs()[-3000:]


def test_under_the_limit_is_served(small_limit):
    body = json.dumps({"inputs": [
        {"name": "a", "datatype": "FP32", "shape": [2, 4], "data": ADD_A.reshape(-1).tolist()},
        {"name": "b", "datatype": "FP32", "shape": [2, 4], "data": ADD_B.reshape(-1).tolist()},
    ]}).encode()
    assert len(body) < LIMIT
    response = post(f"http://{small_limit.http_url}", ADD, data=body)
    assert response.status_code == 200, response.text
    check_add(response.json(), ADD_A, ADD_B)


def test_content_length_over_the_limit_is_413(small_limit):
    assert len(BIG) > 4096 > LIMIT
    message = error_message(post(f"http://{small_limit.http_url}", ADD, data=BIG), 413)
    assert str(LIMIT) in message, message


def test_chunked_body_over_the_limit_is_413(small_limit):
    def chunks():
        for i in range(0, len(BIG), 512):
            yield BIG[i:i + 512]

    response = post(f"http://{small_limit.http_url}", ADD, data=chunks())
    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    assert "Content-Length" not in response.request.headers
    assert str(LIMIT) in error_message(response, 413)


def test_decompressed_body_over_the_limit_is_413(small_limit):
    data = gzip.compress(BIG)
    assert len(data) < LIMIT
    response = post(f"http://{small_limit.http_url}", ADD, data=data, headers={"Content-Encoding": "gzip"})
    assert str(LIMIT) in error_message(response, 413)


def _status_line_before_the_rest(server, head: bytes, first_part: bytes) -> bytes:
    """Sends the head and part of the body, never the rest; returns what the
    server answers (it must answer without waiting for the rest)."""
    host, port = server.http_url.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(head + first_part)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = s.recv(4096)  # socket timeout bounds the wait
            if not chunk:
                break
            answer += chunk
    return answer


def test_declared_oversize_refused_before_the_body_is_read(small_limit):
    head = (f"POST {ADD} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {4 * LIMIT}\r\n\r\n").encode()
    answer = _status_line_before_the_rest(small_limit, head, b"{" * 100)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_chunked_oversize_refused_before_the_body_ends(small_limit):
    head = f"POST {ADD} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
    part = b"".join(b"400\r\n" + b" " * 1024 + b"\r\n" for _ in range(3))  # 3 KiB, no last chunk
    answer = _status_line_before_the_rest(small_limit, head, part)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_still_serving_after_refusals(small_limit):
    assert requests.get(f"http://{small_limit.http_url}/v2/health/ready", timeout=10).status_code == 200


# --------------------------------------------------------------------------
# One port for gRPC and REST; --http-addr off
# --------------------------------------------------------------------------


def test_one_port_serves_grpc_and_rest(tmp_path):
    repo = build_repo(tmp_path / "models", fixture_names=("add_fp32",), include_trip=False)
    server = start_one_port_server(repo)
    try:
        record = listening_record(server)
        assert record["one_port"] is True, record
        assert record["http_addr"] == record["grpc_addr"] == server.grpc_url == server.http_url, record
        g = grpcclient.InferenceServerClient(server.grpc_url)
        h = httpclient.InferenceServerClient(server.http_url)
        try:
            assert g.is_server_ready() and h.is_server_ready()
            for _ in range(2):  # interleaved on the same port
                over_grpc = g.infer("add_fp32", [ginput("a", ADD_A, "FP32"), ginput("b", ADD_B, "FP32")])
                over_http = h.infer("add_fp32", [hinput("a", ADD_A, "FP32"), hinput("b", ADD_B, "FP32")])
                assert_same(over_grpc.as_numpy("sum"), ADD_A + ADD_B)
                assert_same(over_http.as_numpy("sum"), ADD_A + ADD_B)
            assert h.get_server_metadata()["extensions"] == ["model_configuration", "statistics", "binary_tensor_data"]
            assert g.get_model_metadata("add_fp32", as_json=True)["name"] == "add_fp32"
        finally:
            g.close()
            h.close()
        with httpx.Client(http1=False, http2=True, timeout=30) as c:  # REST over h2c on the shared port too
            answer = c.get(f"http://{server.http_url}/v2/models/add_fp32")
            assert answer.http_version == "HTTP/2" and answer.json()["name"] == "add_fp32"
    finally:
        code = stop_server(server)
    assert code == 0, server.logs()[-3000:]


def test_port_zero_is_two_ports(server):
    """The session server: --grpc-addr and --http-addr both 127.0.0.1:0 are two
    ports (one port needs a real port), each speaking its own protocol."""
    record = listening_record(server)
    assert record["one_port"] is False, record
    assert server.http_url != server.grpc_url, record
    rest = requests.get(f"http://{server.http_url}/v2/health/ready", timeout=10)
    assert rest.status_code == 200
    g = grpcclient.InferenceServerClient(server.grpc_url)
    try:
        assert g.is_server_ready()
    finally:
        g.close()


def test_http_off(tmp_path):
    with OwnServer(tmp_path, ["add_fp32"], http_addr_off=True) as server:
        record = listening_record(server)
        assert record.get("http_addr") is None, record
        assert record["one_port"] is False
        assert server.http_url is None
        g = grpcclient.InferenceServerClient(server.grpc_url)
        try:
            assert g.is_server_ready()
        finally:
            g.close()
