"""Rules for running Switchyard under KServe (k8s/kserve): the ServingRuntime's
container is a valid Kubernetes container that serves gRPC and REST on its one
port (what Knative routes to), reads the model repository where KServe's
storage initializer puts it, probes the KServe v2 health endpoints and runs as
non-root; every InferenceService names a ServingRuntime of the manifests, with
a model format and protocol that runtime supports (as KServe's controller
matches them: pkg/apis/serving/v1beta1/predictor_model.go, and
pkg/controller/v1beta1/inferenceservice/components/predictor.go) and a storageUri."""

from __future__ import annotations

import kubernetes_validate

from .k8s_objects import addr_port, arg_value
from .pod_rules import check_resources_and_image, check_security
from .problems import fail
from .rendered import Rendered
from .settings import (
    GRPC_PORT,
    HTTP_PORT,
    K8S_VERSIONS,
    KNATIVE_PORT_NAMES,
    KNATIVE_RESERVED_PORTS,
    KSERVE_CONTAINER,
    KSERVE_MODEL_DIR,
    KSERVE_PROTOCOLS,
    METRICS_PORT,
)

PROBE_PATHS = {"readinessProbe": "/v2/health/ready", "livenessProbe": "/v2/health/live"}


def validate_container(name: str, runtime: dict) -> None:
    """The runtime's containers and volumes, validated strictly as a Pod's."""
    spec = runtime["spec"]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": runtime["metadata"]["name"]},
        "spec": {"containers": spec["containers"], **({"volumes": spec["volumes"]} if "volumes" in spec else {})},
    }
    for version in K8S_VERSIONS:
        try:
            kubernetes_validate.validate(pod, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            fail(name, f"as a Kubernetes {version} container: {'.'.join(map(str, e.path))}: {e.message}")


def check_one_port(cname: str, spec: dict, container: dict) -> None:
    """--http-addr equal to --grpc-addr, on the one container port Knative routes to."""
    args = container.get("args", [])
    grpc_addr = arg_value(args, "--grpc-addr") or f"0.0.0.0:{GRPC_PORT}"
    http_addr = arg_value(args, "--http-addr") or f"0.0.0.0:{HTTP_PORT}"
    if http_addr != grpc_addr:
        fail(cname, f"--http-addr {http_addr} must equal --grpc-addr {grpc_addr}: Knative routes one port, so both protocols share it")
    ports = container.get("ports", [])
    if len(ports) != 1:
        fail(cname, f"declares {len(ports)} container ports: Knative allows exactly one (the one serving port)")
        return
    port = ports[0]
    if port["containerPort"] != addr_port(http_addr):
        fail(cname, f"container port {port['containerPort']} is not the --http-addr port {addr_port(http_addr)}")
    if port.get("name", "") not in KNATIVE_PORT_NAMES:
        fail(cname, f"port name {port.get('name')!r}: Knative allows only {sorted(KNATIVE_PORT_NAMES)}")
    elif "grpc-v2" in spec.get("protocolVersions", []) and port.get("name") != "h2c":
        fail(cname, "port must be named h2c: gRPC needs HTTP/2 from Knative's and KServe's proxies")
    metrics = addr_port(arg_value(args, "--metrics-addr") or f"0.0.0.0:{METRICS_PORT}")
    for what, number in (("serving port", port["containerPort"]), ("--metrics-addr port", metrics)):
        if number in KNATIVE_RESERVED_PORTS:
            fail(cname, f"{what} {number} is one Knative's queue-proxy uses ({sorted(KNATIVE_RESERVED_PORTS)})")
    if arg_value(args, "--max-connection-age") is not None:
        fail(cname, "--max-connection-age has no effect in one-port mode (it applies to a separate gRPC listener)")
    if any(a.startswith("--tls-") for a in args):
        fail(cname, "one-port mode is plain text: with --tls-* switchyard serve refuses to start")


def check_probes(cname: str, container: dict) -> None:
    """httpGet of the KServe v2 health endpoints on the serving port (Knative's
    runtime contract asks for httpGet or tcpSocket of that port; a TCP probe
    is ready before the models are)."""
    serving = [p["containerPort"] for p in container.get("ports", [])]
    for probe, path in PROBE_PATHS.items():
        get = (container.get(probe) or {}).get("httpGet")
        if get is None:
            fail(cname, f"{probe} must be an httpGet of {path}")
            continue
        if get.get("path") != path:
            fail(cname, f"{probe} must GET {path}, not {get.get('path')!r}")
        if get.get("port") not in serving:
            fail(cname, f"{probe} must probe the serving port {serving}, not {get.get('port')!r}")


def check_runtime(rendered: Rendered, runtime: dict) -> None:
    name = rendered.name(runtime)
    spec = runtime.get("spec") or {}
    if not isinstance(spec.get("containers"), list):
        return  # the schema check has said so
    validate_container(name, runtime)
    containers = [c for c in spec["containers"] if c.get("name") == KSERVE_CONTAINER]
    if not containers:
        fail(name, f"needs a container named {KSERVE_CONTAINER} (KServe merges the predictor into it)")
        return
    container = containers[0]
    cname = f"{name} container {KSERVE_CONTAINER}"
    if container.get("command"):
        fail(cname, "must not override the image's ENTRYPOINT (switchyard serve) with command")
    check_security(cname, container, {})
    check_resources_and_image(cname, container)
    repo = arg_value(container.get("args", []), "--model-repo")
    if repo is None or not (repo.rstrip("/") + "/").startswith(KSERVE_MODEL_DIR + "/"):
        fail(cname, f"--model-repo must be {KSERVE_MODEL_DIR}, where KServe's storage initializer puts the storageUri")
    check_one_port(cname, spec, container)
    check_probes(cname, container)
    protocols = set(spec.get("protocolVersions", []))
    if not protocols or not protocols <= KSERVE_PROTOCOLS:
        fail(name, f"protocolVersions {sorted(protocols)}: Switchyard speaks {sorted(KSERVE_PROTOCOLS)}")
    if not spec.get("supportedModelFormats"):
        fail(name, "lists no supportedModelFormats, so no InferenceService can use it")


def supports_format(runtime: dict, model_format: dict) -> bool:
    """KServe's match for a named runtime: the format's name, and its version if the predictor gives one."""
    offered = set()
    for f in runtime["spec"].get("supportedModelFormats", []):
        offered.add((f.get("name"), None))
        if "version" in f:
            offered.add((f.get("name"), f["version"]))
    return (model_format.get("name"), model_format.get("version")) in offered


def check_inference_service(rendered: Rendered, isvc: dict, runtimes: dict[str, dict]) -> None:
    name = rendered.name(isvc)
    model = ((isvc.get("spec") or {}).get("predictor") or {}).get("model")
    if model is None:
        fail(name, "predictor.model is missing: the Switchyard runtime serves predictor.model")
        return
    runtime = runtimes.get(model.get("runtime"))
    if runtime is None:
        fail(name, f"predictor.model.runtime {model.get('runtime')!r} names no ServingRuntime here ({sorted(runtimes)})")
        return
    if not isinstance(runtime.get("spec"), dict):
        return  # the schema check has said so
    fmt = model.get("modelFormat", {})
    if not supports_format(runtime, fmt):
        offered = [(f.get("name"), f.get("version")) for f in runtime["spec"].get("supportedModelFormats", [])]
        fail(name, f"modelFormat {fmt} is not one runtime {model['runtime']} supports {offered}")
    protocol = model.get("protocolVersion")
    if protocol is not None and protocol not in runtime["spec"].get("protocolVersions", []):
        fail(name, f"protocolVersion {protocol} is not one of runtime {model['runtime']}'s {runtime['spec'].get('protocolVersions', [])}")
    if not model.get("storageUri") and not model.get("storage"):
        fail(name, f"needs a storageUri: the model repository KServe copies to {KSERVE_MODEL_DIR}")


def check_kserve(rendered: Rendered) -> None:
    runtimes = {r["metadata"]["name"]: r for r in rendered.kind("ServingRuntime")}
    for runtime in runtimes.values():
        check_runtime(rendered, runtime)
    for isvc in rendered.kind("InferenceService"):
        check_inference_service(rendered, isvc, runtimes)
    if not rendered.kind("InferenceService"):
        fail(rendered.where, "has a ServingRuntime but no InferenceService that uses it")
