"""Rules for the gateway Deployment: the image's ENTRYPOINT kept, a selector
that matches, two or more replicas (HPA), container ports that match the listen
addresses, gRPC health probes, a grace period that covers preStop and the
drain, and a maximum connection age so HTTP/2 clients rebalance."""

from __future__ import annotations

from .k8s_objects import arg_value, selector_matches
from .problems import fail
from .rendered import Gateway, Rendered
from .settings import DEFAULT_SHUTDOWN_GRACE

# The health service each probe must check: readiness on the server's service
# "", liveness (and startup) on "switchyard/liveness", which is SERVING whenever
# the process answers, so an unready pod leaves the Service but is not restarted.
PROBE_SERVICES = {"readinessProbe": "", "livenessProbe": "switchyard/liveness", "startupProbe": "switchyard/liveness"}


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


def check_probes(gw: Gateway) -> None:
    for probe, service in PROBE_SERVICES.items():
        p = gw.container.get(probe)
        if not p or "grpc" not in p:
            fail(gw.name, f"{probe} must be a gRPC probe (grpc.health.v1)")
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
