"""End-to-end tests: the KServe Python SDK's REST client
(``kserve.InferenceRESTClient`` with ``RESTConfig(protocol="v2")``) against
``switchyard serve``'s REST port: server live / ready, model ready, inference
with JSON tensors and with binary tensor data, requested outputs, and errors.
The SDK's REST client has no metadata call, so server and model metadata and a
JSON answer are validated against the SDK's own v2 data models
(``kserve.protocol.rest.v2_datamodels``, strict).

The SDK cannot be imported into the pytest process: ``kserve`` and
``tritonclient.grpc`` both register the protobuf package ``inference`` and the
second import fails ("duplicate symbol 'inference.ServerLiveRequest'"). So
this module runs itself as a child process (``python test_http_kserve.py URL``)
that makes every SDK call once and prints the outcomes as JSON; each test
asserts on its own scenario. That is also why this module imports neither
http_helpers nor triton_helpers at the top.

Requires: kserve, httpx, numpy, pytest.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

ADD_A = np.arange(8, dtype=np.float32).reshape(2, 4)
ADD_B = np.full((2, 4), 0.5, np.float32)
FEATURES = np.array([[8, 0, 10.0, 1, 0, 0.0], [3, 6, 10.0, 1, 0, 0.0]], np.float32)

# --------------------------------------------------------------------------
# The child: every SDK call, outcomes as JSON
# --------------------------------------------------------------------------


def _scenarios(base: str) -> dict:
    import asyncio

    import httpx
    import requests
    from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig
    from kserve.protocol.infer_type import RequestedOutput
    from kserve.protocol.rest.v2_datamodels import InferenceResponse, ModelMetadataResponse, ServerMetadataResponse

    def tensor(name, array, datatype, binary):
        t = InferInput(name, list(array.shape), datatype)
        t.set_data_from_numpy(array, binary_data=binary)
        return t

    def answer(response, headers=None):
        return {
            "model_name": response.model_name,
            "id": response.id,
            "outputs": {o.name: {"datatype": o.datatype, "shape": list(o.shape),
                                 "value": [v.decode() if isinstance(v, bytes) else v for v in o.as_numpy().reshape(-1).tolist()]}
                        for o in response.outputs},
            "header_length": None if headers is None else
            {k.lower(): v for k, v in headers.items()}.get("inference-header-content-length"),
        }

    async def main():
        c = InferenceRESTClient(RESTConfig(protocol="v2", timeout=30, retries=1))
        out = {}

        async def attempt(key, make):
            try:
                out[key] = {"ok": await make()}
            except httpx.HTTPStatusError as e:
                out[key] = {"status": e.response.status_code, "text": str(e)}
            except Exception as e:  # the test shows what went wrong
                out[key] = {"exception": f"{type(e).__name__}: {e}"}

        try:
            await attempt("live", lambda: c.is_server_live(base))
            await attempt("ready", lambda: c.is_server_ready(base))
            for model in ("add_fp32", "trip_duration", "corrupt", "no_such_model"):
                await attempt(f"model_ready/{model}", lambda m=model: c.is_model_ready(base, m))
            for binary in (False, True):
                request = InferRequest("add_fp32", [tensor("a", ADD_A, "FP32", binary), tensor("b", ADD_B, "FP32", binary)],
                                       request_id="kserve-1")

                async def add(r=request):
                    return answer(await c.infer(base, r, model_name="add_fp32"))

                await attempt(f"add/{binary}", add)
                wanted = [RequestedOutput("diff", parameters={"binary_data": binary})]
                request = InferRequest("add_fp32", [tensor("a", ADD_A, "FP32", True), tensor("b", ADD_B, "FP32", True)],
                                       request_outputs=wanted)

                async def diff(r=request):
                    headers: dict = {}
                    return answer(await c.infer(base, r, model_name="add_fp32", response_headers=headers), headers)

                await attempt(f"diff/{binary}", diff)
            request = InferRequest("trip_duration", [tensor("features", FEATURES, "FP32", False)])
            await attempt("trip", lambda: _answer(c, base, request, "trip_duration", answer))
            text = tensor("text", np.array([b"kserve", "ü".encode()], dtype=np.object_), "BYTES", False)
            await attempt("bytes", lambda: _answer(c, base, InferRequest("string_identity", [text]), "string_identity", answer))
            flag = tensor("x", np.array([[True, False]]), "BOOL", True)
            await attempt("bool", lambda: _answer(c, base, InferRequest("bool_not", [flag]), "bool_not", answer))
            body = {"inputs": [{"name": "x", "datatype": "FP64", "shape": [1, 2], "data": [2.0, -4.0]}]}
            await attempt("dict", lambda: _answer(c, base, body, "fp64_ops", answer))
            zeros = tensor("x", np.zeros((1, 64), np.float32), "FP32", False)
            for model in ("no_such_model", "corrupt"):
                await attempt(f"error/{model}", lambda m=model: _answer(c, base, InferRequest(m, [zeros]), m, answer))
            only_a = tensor("a", ADD_A, "FP32", False)
            await attempt("error/missing_b", lambda: _answer(c, base, InferRequest("add_fp32", [only_a]), "add_fp32", answer))
        finally:
            await c.close()
        return out

    async def _answer(c, url, request, model, render):
        return render(await c.infer(url, request, model_name=model))

    results = asyncio.run(main())

    def validate(key, model, fetch):
        try:
            value = model.model_validate(fetch(), strict=True)
            results[key] = {"ok": value.model_dump()}
        except Exception as e:
            results[key] = {"exception": f"{type(e).__name__}: {e}"}

    validate("server_metadata", ServerMetadataResponse, lambda: requests.get(base + "/v2", timeout=30).json())
    for model in ("trip_duration", "add_fp32", "string_identity"):
        validate(f"model_metadata/{model}", ModelMetadataResponse,
                 lambda m=model: requests.get(f"{base}/v2/models/{m}", timeout=30).json())
    int_body = {"id": "k-1", "inputs": [{"name": "x", "datatype": "INT64", "shape": [1, 3], "data": [1, 2, 3]}]}
    try:
        raw = requests.post(base + "/v2/models/int64_ops/infer", json=int_body, timeout=30).json()
        results["json_answer"] = {"ok": InferenceResponse.model_validate(raw).model_dump()}
    except Exception as e:
        results["json_answer"] = {"exception": f"{type(e).__name__}: {e}"}
    return results


# --------------------------------------------------------------------------
# The tests (parent side)
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sdk(server):
    assert server.http_url
    child = subprocess.run([sys.executable, __file__, f"http://{server.http_url}"],
                           capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, child.stderr[-3000:]
    return json.loads(child.stdout.strip().splitlines()[-1])


def ok(sdk, key):
    outcome = sdk[key]
    assert "ok" in outcome, (key, outcome)
    return outcome["ok"]


def test_server_live(sdk):
    assert ok(sdk, "live") is True


def test_server_ready(sdk):
    assert ok(sdk, "ready") is True


@pytest.mark.parametrize("model, ready", [("add_fp32", True), ("trip_duration", True), ("corrupt", False),
                                          ("no_such_model", False)])
def test_model_ready(sdk, model, ready):
    assert ok(sdk, f"model_ready/{model}") is ready


def test_server_metadata_fits_kserve_model(sdk):
    meta = ok(sdk, "server_metadata")
    assert meta["name"] == "switchyard"
    assert meta["extensions"] == ["model_configuration", "statistics", "binary_tensor_data"]


@pytest.mark.parametrize("model, inputs", [("trip_duration", [("features", "FP32", [-1, 6])]),
                                           ("add_fp32", [("a", "FP32", [-1, 4]), ("b", "FP32", [-1, 4])]),
                                           ("string_identity", [("text", "BYTES", [-1])])])
def test_model_metadata_fits_kserve_model(sdk, model, inputs):
    meta = ok(sdk, f"model_metadata/{model}")
    assert meta["name"] == model and meta["platform"] == "onnxruntime_onnx"
    assert [(t["name"], t["datatype"], t["shape"]) for t in meta["inputs"]] == inputs


def test_json_answer_fits_kserve_model(sdk):
    answer = ok(sdk, "json_answer")
    assert (answer["model_name"], answer["model_version"], answer["id"]) == ("int64_ops", "1", "k-1")
    assert [(o["name"], o["datatype"], o["shape"], o["data"]) for o in answer["outputs"]] == [
        ("y", "INT64", [1, 3], [3, 6, 9])
    ]


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_infer_add(sdk, binary):
    answer = ok(sdk, f"add/{binary}")
    assert answer["model_name"] == "add_fp32" and answer["id"] == "kserve-1"
    assert sorted(answer["outputs"]) == ["diff", "sum"]
    assert answer["outputs"]["sum"]["shape"] == [2, 4]
    assert answer["outputs"]["sum"]["value"] == (ADD_A + ADD_B).reshape(-1).tolist()
    assert answer["outputs"]["diff"]["value"] == (ADD_A - ADD_B).reshape(-1).tolist()


@pytest.mark.parametrize("binary_out", [False, True], ids=["json_out", "binary_out"])
def test_infer_requested_output(sdk, binary_out):
    answer = ok(sdk, f"diff/{binary_out}")
    assert list(answer["outputs"]) == ["diff"]
    assert answer["outputs"]["diff"]["value"] == (ADD_A - ADD_B).reshape(-1).tolist()
    assert (answer["header_length"] is not None) is binary_out, answer


def test_infer_trip_duration_matches_onnxruntime(sdk, server):
    from triton_helpers import onnx_reference

    answer = ok(sdk, "trip")
    expected = onnx_reference(server, 2, FEATURES)  # no route in the session server: latest answers
    np.testing.assert_allclose(np.array(answer["outputs"]["duration_min"]["value"]), expected.reshape(-1), rtol=1e-5)


def test_infer_bytes_bool_and_dict_body(sdk):
    assert ok(sdk, "bytes")["outputs"]["out"]["value"] == ["kserve", "ü"]
    assert ok(sdk, "bool")["outputs"]["y"]["value"] == [False, True]
    assert ok(sdk, "dict")["outputs"]["y"]["value"] == [1.0, -2.0]


@pytest.mark.parametrize("key, status, word", [("error/no_such_model", 404, "no_such_model"),
                                               ("error/corrupt", 503, "corrupt"), ("error/missing_b", 400, "'b'")])
def test_infer_error_carries_status_and_message(sdk, key, status, word):
    outcome = sdk[key]
    assert outcome.get("status") == status, outcome
    # The SDK puts the server's {"error": ...} message into its exception text.
    assert word in outcome["text"], outcome


if __name__ == "__main__":
    print(json.dumps(_scenarios(sys.argv[1])))
