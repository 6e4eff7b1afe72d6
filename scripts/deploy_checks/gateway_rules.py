"""Rules for the gateway Deployment: the image's ENTRYPOINT kept, a selector
that matches, two or more replicas (HPA), container ports that match the listen
addresses (gRPC, HTTP/REST, metrics), health probes (gRPC, or the HTTP variant
of docs/OPERATIONS.md), a grace period that covers preStop and the drain, and a
maximum connection age so HTTP/2 clients rebalance."""

from __future__ import annotations

from .k8s_objects import arg_value, selector_matches
from .problems import fail
from .rendered import Gateway, Rendered
from .settings import DEFAULT_SHUTDOWN_GRACE

# The health service each probe must check: readiness on the server's service
# "", liveness (and startup) on "switchyard/liveness", which is SERVING whenever
# the process answers, so an unready pod leaves the Service but is not restarted.
PROBE_SERVICES = {"readinessProbe": "", "livenessProbe": "switchyard/liveness", "startupProbe": "switchyard/liveness"}
# The HTTP variant: the same two states as KServe v2 REST health endpoints.
PROBE_PATHS = {"readinessProbe": "/v2/health/ready", "livenessProbe": "/v2/health/live", "startupProbe": "/v2/health/live"}


def check_deployment(gw: Gateway) -> None:
    if gw.container.get("command"):
        fail(gw.name, "must not override the image's ENTRYPOINT (switchyard serve) with command")
    if not selector_matches(gw.dep["spec"]["selector"], gw.pod_labels):
        fail(gw.name, "selector does not match the pod template's labels")


def check_replicas(rendered: Rendered, gw: Gateway) -> None:
    """The HPA owns the replicas (minimum 2); a fixed count must be 2+."""
    replicas = gw.dep["spec"].get("replicas")
    if replicas is not None and replicas < 2:
        fail(gw.name, f"replicas {replicas} < 2")
    hpas = [
        h
        for h in rendered.kind("HorizontalPodAutoscaler")
        if h["spec"]["scaleTargetRef"].get("kind") == "Deployment"
        and h["spec"]["scaleTargetRef"]["name"] == gw.dep["metadata"]["name"]
    ]
    if len(hpas) != 1:
        fail(gw.name, "needs exactly one HorizontalPodAutoscaler targeting it")
        return
    hpa = hpas[0]
    if hpa["spec"].get("minReplicas", 1) < 2:
        fail(rendered.name(hpa), "minReplicas must be 2 or more")
    if hpa["spec"]["maxReplicas"] < hpa["spec"].get("minReplicas", 1):
        fail(rendered.name(hpa), "maxReplicas < minReplicas")


def check_ports(gw: Gateway) -> None:
    if gw.ports.get("grpc") != gw.grpc_port:
        fail(gw.name, f"container port 'grpc' should be {gw.grpc_port} (--grpc-addr)")
    if gw.ports.get("metrics") != gw.metrics_port:
        fail(gw.name, f"container port 'metrics' should be {gw.metrics_port} (--metrics-addr)")
    if gw.http_addr == "off" or gw.one_port:
        if "http" in gw.ports:
            why = "--http-addr=off" if gw.http_addr == "off" else "one-port mode serves REST on the gRPC port"
            fail(gw.name, f"declares container port 'http' that nothing listens on ({why})")
    elif gw.http_port is None:
        fail(gw.name, f"--http-addr {gw.http_addr!r} is not an address with a port, nor off")
    elif gw.http_port == gw.grpc_port:
        fail(gw.name, f"--http-addr {gw.http_addr} and --grpc-addr {gw.grpc_addr} share a port but differ: one-port mode needs them equal")
    elif gw.ports.get("http") != gw.http_port:
        fail(gw.name, f"container port 'http' should be {gw.http_port} (--http-addr)")


def probe_port(gw: Gateway, port: int | str | None) -> int | None:
    """A probe's port as a number (a name is looked up in the container ports)."""
    return gw.ports.get(port) if isinstance(port, str) else port


def check_http_probe(gw: Gateway, probe: str, get: dict) -> None:
    """The HTTP variant: httpGet of the KServe v2 health path on the REST port."""
    if gw.http_port is None:
        fail(gw.name, f"{probe} is an HTTP probe but REST is off (--http-addr=off)")
        return
    if probe_port(gw, get.get("port")) != gw.http_port:
        fail(gw.name, f"{probe} must probe the HTTP/REST port {gw.http_port} (--http-addr), not {get.get('port')!r}")
    if get.get("path") != PROBE_PATHS[probe]:
        fail(gw.name, f"{probe} must GET {PROBE_PATHS[probe]}, not {get.get('path')!r}")
    if get.get("scheme", "HTTP") != "HTTP":
        fail(gw.name, f"{probe}: the REST port is plain HTTP, not {get.get('scheme')}")


def check_probes(gw: Gateway) -> None:
    for probe, service in PROBE_SERVICES.items():
        p = gw.container.get(probe)
        handlers = sorted(h for h in ("exec", "grpc", "httpGet", "tcpSocket") if h in (p or {}))
        if len(handlers) > 1:
            # e.g. a patch adding httpGet without `grpc: null`: the API server refuses it
            fail(gw.name, f"{probe} has {len(handlers)} handlers ({', '.join(handlers)}): a probe takes one")
            continue
        if p and "httpGet" in p:
            check_http_probe(gw, probe, p["httpGet"])
            continue
        if not p or "grpc" not in p:
            fail(gw.name, f"{probe} must be a gRPC probe (grpc.health.v1) or an httpGet of {PROBE_PATHS[probe]}")
            continue
        if p["grpc"].get("port") != gw.grpc_port:
            fail(gw.name, f"{probe} must probe the gRPC port {gw.grpc_port}")
        if p["grpc"].get("service", "") != service:
            fail(gw.name, f'{probe} must check health service {service!r}, not {p["grpc"].get("service", "")!r}')
    startup = gw.container.get("startupProbe")
    if startup and startup.get("periodSeconds", 10) * startup.get("failureThreshold", 3) < 60:
        fail(gw.name, "startupProbe allows less than 60 s to load the models")


def check_shutdown(gw: Gateway) -> None:
    """Graceful shutdown: the kubelet must wait for preStop + drain."""
    grace = float(arg_value(gw.args, "--shutdown-grace") or DEFAULT_SHUTDOWN_GRACE)
    pre_stop = gw.container.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
    tgps = gw.pod.get("terminationGracePeriodSeconds", 30)
    if tgps <= grace + pre_stop:
        fail(gw.name, f"terminationGracePeriodSeconds {tgps} must exceed preStop sleep {pre_stop} s + --shutdown-grace {grace:g} s")


def check_connection_age(gw: Gateway) -> None:
    """Load balancing of long-lived HTTP/2 connections."""
    age = arg_value(gw.args, "--max-connection-age")
    if age is None or float(age) <= 0:
        fail(gw.name, "set --max-connection-age (e.g. 300) so clients rebalance across replicas")
