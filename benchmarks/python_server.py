#!/usr/bin/env python3
"""A minimal KServe v2 ModelInfer server in Python (grpcio + onnxruntime): the
baseline a team writes in an afternoon, kept deliberately plain.

    python benchmarks/python_server.py --model mlp_small=/path/mlp_small.onnx [--port 0]

Serves each NAME=PATH model with one onnxruntime.InferenceSession (default
session options, CPU provider) on a grpc.server with ThreadPoolExecutor(8).
ModelInfer decodes raw_input_contents with numpy.frombuffer, runs the session
and answers raw_output_contents. ServerLive/ServerReady/ModelReady/
ModelMetadata answer too; everything else is UNIMPLEMENTED (the servicer's
default). Prints {"grpc_addr": "127.0.0.1:PORT"} on stdout once listening.

The service stubs come from tritonclient (tritonclient.grpc.service_pb2*),
which speaks the same `inference` package as Switchyard's proto/.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from concurrent import futures

import grpc
import numpy as np
import onnxruntime as ort
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc as pb_grpc

# v2 datatype names <-> numpy, for the types these models use and a few more.
NUMPY_OF = {
    "FP32": np.float32,
    "FP64": np.float64,
    "INT32": np.int32,
    "INT64": np.int64,
    "FP16": np.float16,
    "UINT8": np.uint8,
    "BOOL": np.bool_,
}
V2_OF_ORT = {
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(int32)": "INT32",
    "tensor(int64)": "INT64",
    "tensor(float16)": "FP16",
    "tensor(uint8)": "UINT8",
    "tensor(bool)": "BOOL",
}


class Model:
    def __init__(self, name: str, path: str):
        self.name = name
        self.session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        self.inputs = self.session.get_inputs()
        self.outputs = self.session.get_outputs()
        self.output_names = [o.name for o in self.outputs]
        self.output_types = [V2_OF_ORT.get(o.type, "FP32") for o in self.outputs]


def tensor_metadata(arg) -> pb.ModelMetadataResponse.TensorMetadata:
    shape = [d if isinstance(d, int) else -1 for d in arg.shape]
    return pb.ModelMetadataResponse.TensorMetadata(
        name=arg.name, datatype=V2_OF_ORT.get(arg.type, "FP32"), shape=shape
    )


class InferenceServicer(pb_grpc.GRPCInferenceServiceServicer):
    def __init__(self, models: dict[str, Model]):
        self.models = models

    def _model(self, name: str, context) -> Model:
        model = self.models.get(name)
        if model is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"unknown model '{name}'")
        return model

    def ServerLive(self, request, context):
        return pb.ServerLiveResponse(live=True)

    def ServerReady(self, request, context):
        return pb.ServerReadyResponse(ready=True)

    def ModelReady(self, request, context):
        return pb.ModelReadyResponse(ready=request.name in self.models)

    def ModelMetadata(self, request, context):
        model = self._model(request.name, context)
        return pb.ModelMetadataResponse(
            name=model.name,
            versions=["1"],
            platform="onnxruntime_onnx",
            inputs=[tensor_metadata(i) for i in model.inputs],
            outputs=[tensor_metadata(o) for o in model.outputs],
        )

    def ModelInfer(self, request, context):
        model = self._model(request.model_name, context)
        feeds = {}
        for index, tensor in enumerate(request.inputs):
            dtype = NUMPY_OF.get(tensor.datatype)
            if dtype is None or index >= len(request.raw_input_contents):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"input '{tensor.name}': raw {tensor.datatype} expected")
            data = np.frombuffer(request.raw_input_contents[index], dtype=dtype)
            feeds[tensor.name] = data.reshape(tuple(tensor.shape))
        try:
            results = model.session.run(model.output_names, feeds)
        except Exception as error:  # onnxruntime raises its own exception types
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        response = pb.ModelInferResponse(model_name=model.name, model_version="1", id=request.id)
        for name, datatype, value in zip(model.output_names, model.output_types, results):
            response.outputs.add(name=name, datatype=datatype, shape=list(value.shape))
            response.raw_output_contents.append(np.ascontiguousarray(value).tobytes())
        return response


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", required=True, metavar="NAME=PATH")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--workers", type=int, default=8, help="gRPC handler threads")
    args = parser.parse_args(argv)

    models = {}
    for item in args.model:
        name, _, path = item.partition("=")
        models[name] = Model(name, path)

    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=args.workers),
        options=[
            ("grpc.max_receive_message_length", 64 * 1024 * 1024),
            ("grpc.max_send_message_length", 64 * 1024 * 1024),
        ],
    )
    pb_grpc.add_GRPCInferenceServiceServicer_to_server(InferenceServicer(models), server)
    port = server.add_insecure_port(f"{args.host}:{args.port}")
    server.start()
    print(json.dumps({"grpc_addr": f"{args.host}:{port}"}), flush=True)

    def stop(*_):
        server.stop(grace=1)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.wait_for_termination()
    return 0


if __name__ == "__main__":
    sys.exit(main())
