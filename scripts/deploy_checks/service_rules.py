"""Rules for what exposes and protects the gateway pods: a Service with a gRPC
port selecting them, one with the HTTP/REST port when REST has a port of its
own, a PodDisruptionBudget that still lets nodes drain, and one
ServiceMonitor that scrapes each pod once at /metrics."""

from __future__ import annotations

from .k8s_objects import selector_matches
from .problems import fail
from .rendered import Gateway, Rendered


def check_services(rendered: Rendered, gw: Gateway) -> None:
    services = [
        s
        for s in rendered.kind("Service")
        if selector_matches({"matchLabels": s["spec"].get("selector", {})}, gw.pod_labels)
    ]
    if not services:
        fail(rendered.where, "no Service selects the gateway pods")
    for svc in services:
        sname = rendered.name(svc)
        grpc_ports = [p for p in svc["spec"]["ports"] if p.get("appProtocol") == "grpc"]
        if not grpc_ports:
            fail(sname, "needs a port with appProtocol: grpc")
        for p in svc["spec"]["ports"]:
            target = p.get("targetPort", p["port"])
            if isinstance(target, str) and target not in gw.ports:
                fail(sname, f"targetPort {target!r} is not a container port name")
    check_http_exposed(rendered, gw, services)


def check_http_exposed(rendered: Rendered, gw: Gateway, services: list[dict]) -> None:
    """REST on a port of its own: a Service port targets it, with appProtocol http."""
    if gw.http_port is None or gw.one_port:
        return
    exposing = []
    for svc in services:
        for p in svc["spec"]["ports"]:
            target = p.get("targetPort", p["port"])
            if (gw.ports.get(target) if isinstance(target, str) else target) == gw.http_port:
                exposing.append((svc, p))
    if not exposing:
        fail(rendered.where, f"no Service exposes the HTTP/REST container port {gw.http_port} (--http-addr)")
    for svc, p in exposing:
        if p.get("appProtocol") != "http":
            fail(rendered.name(svc), f"port {p.get('name')!r} serves HTTP/REST: set appProtocol: http")


def check_disruption_budgets(rendered: Rendered, gw: Gateway) -> None:
    pdbs = [p for p in rendered.kind("PodDisruptionBudget") if selector_matches(p["spec"]["selector"], gw.pod_labels)]
    if not pdbs:
        fail(rendered.where, "no PodDisruptionBudget selects the gateway pods")
    for pdb in pdbs:
        min_available = pdb["spec"].get("minAvailable")
        if min_available is not None and not isinstance(min_available, str) and min_available >= 2:
            fail(rendered.name(pdb), "minAvailable >= minReplicas blocks every drain")


def check_monitors(rendered: Rendered) -> None:
    """Scrape config: a ServiceMonitor whose port exists on a selected Service."""
    monitors = rendered.kind("ServiceMonitor")
    if not monitors:
        fail(rendered.where, "no ServiceMonitor (Prometheus scrape config)")
    for mon in monitors:
        mname = rendered.name(mon)
        selected = [
            s for s in rendered.kind("Service") if selector_matches(mon["spec"]["selector"], s["metadata"].get("labels", {}))
        ]
        scraped = [
            s
            for s in selected
            for e in mon["spec"]["endpoints"]
            if any(p.get("name") == e.get("port") for p in s["spec"]["ports"])
        ]
        if not scraped:
            fail(mname, "selects no Service with its endpoint port")
        elif len(scraped) > 1:
            names = ", ".join(s["metadata"]["name"] for s in scraped)
            fail(mname, f"scrapes {len(scraped)} Services ({names}): pods would be scraped twice")
        for e in mon["spec"]["endpoints"]:
            if e.get("path", "/metrics") != "/metrics":
                fail(mname, "metrics are served at /metrics")
