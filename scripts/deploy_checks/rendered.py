"""One kustomization's rendered objects, by kind, and the gateway Deployment in them."""

from __future__ import annotations

from dataclasses import dataclass

from .k8s_objects import addr_port, arg_value, kind_name
from .settings import GRPC_PORT, HTTP_PORT, METRICS_PORT


@dataclass
class Rendered:
    """The objects of one kustomization; ``where`` names it in problems."""

    where: str
    by_kind: dict[str, list[dict]]

    @classmethod
    def of(cls, where: str, objs: list[dict]) -> "Rendered":
        by_kind: dict[str, list[dict]] = {}
        for obj in objs:
            by_kind.setdefault(obj["kind"], []).append(obj)
        return cls(where, by_kind)

    def kind(self, kind: str) -> list[dict]:
        return self.by_kind.get(kind, [])

    @property
    def configmaps(self) -> dict[str, dict]:
        return {o["metadata"]["name"]: o for o in self.kind("ConfigMap")}

    @property
    def pvcs(self) -> set[str]:
        return {o["metadata"]["name"] for o in self.kind("PersistentVolumeClaim")}

    def name(self, obj: dict) -> str:
        """How a problem names ``obj``: ``<kustomization>: <Kind>/<name>``."""
        return f"{self.where}: {kind_name(obj)}"


@dataclass
class Gateway:
    """The Deployment whose pods run the ``switchyard`` container, and what the
    rules read from it."""

    dep: dict
    name: str
    pod: dict
    pod_labels: dict
    container: dict
    args: list[str]
    ports: dict[str, int]  # container ports by name
    grpc_port: int  # from --grpc-addr, else the default
    metrics_port: int  # from --metrics-addr, else the default
    http_addr: str  # --http-addr, else the default; "off" = no REST
    grpc_addr: str  # --grpc-addr, else the default

    @property
    def one_port(self) -> bool:
        """--http-addr equal to --grpc-addr: gRPC and REST on the gRPC port."""
        return self.http_addr == self.grpc_addr

    @property
    def http_port(self) -> int | None:
        """The port REST is served on (the gRPC port in one-port mode), None when off."""
        return None if self.http_addr == "off" else addr_port(self.http_addr)


def find_gateways(rendered: Rendered) -> list[dict]:
    return [
        d
        for d in rendered.kind("Deployment")
        if any(c["name"] == "switchyard" for c in d["spec"]["template"]["spec"]["containers"])
    ]


def gateway(rendered: Rendered, dep: dict) -> Gateway:
    pod = dep["spec"]["template"]["spec"]
    container = next(c for c in pod["containers"] if c["name"] == "switchyard")
    args = container.get("args", [])
    grpc_addr = arg_value(args, "--grpc-addr") or f"0.0.0.0:{GRPC_PORT}"
    return Gateway(
        dep=dep,
        name=rendered.name(dep),
        pod=pod,
        pod_labels=dep["spec"]["template"]["metadata"]["labels"],
        container=container,
        args=args,
        ports={p.get("name"): p["containerPort"] for p in container.get("ports", [])},
        grpc_port=int(grpc_addr.rsplit(":", 1)[1]),
        metrics_port=int((arg_value(args, "--metrics-addr") or f"0.0.0.0:{METRICS_PORT}").rsplit(":", 1)[1]),
        http_addr=arg_value(args, "--http-addr") or f"0.0.0.0:{HTTP_PORT}",
        grpc_addr=grpc_addr,
    )
