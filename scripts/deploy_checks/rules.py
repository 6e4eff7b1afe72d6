"""The deployment rules of the README ("Deploying") and docs/OPERATIONS.md, as assertions on
one kustomization's rendered objects (in this order, so problems list the same
way on every run). A kustomization of KServe objects (ServingRuntime,
InferenceService) and no Deployment gets the KServe rules instead."""

from __future__ import annotations

from .alert_rules import check_alerts, check_dashboard_configmap
from .gateway_rules import (
    check_connection_age,
    check_deployment,
    check_ports,
    check_probes,
    check_replicas,
    check_shutdown,
)
from .kserve_rules import check_kserve
from .mount_rules import check_model_repo, check_routes
from .pod_rules import check_pods
from .problems import fail
from .rendered import Rendered, find_gateways, gateway
from .service_rules import check_disruption_budgets, check_monitors, check_services


def check_rules(where: str, objs: list[dict]) -> None:
    rendered = Rendered.of(where, objs)
    check_pods(rendered, objs)
    if rendered.kind("ServingRuntime") or rendered.kind("InferenceService"):
        check_kserve(rendered)
        if not rendered.kind("Deployment"):
            return
    deployments = find_gateways(rendered)
    if len(deployments) != 1:
        fail(where, f"expected one Deployment with a 'switchyard' container, found {len(deployments)}")
        return
    gw = gateway(rendered, deployments[0])
    check_deployment(gw)
    check_replicas(rendered, gw)
    check_ports(gw)
    check_probes(gw)
    check_shutdown(gw)
    check_connection_age(gw)
    check_routes(rendered, gw)
    check_model_repo(gw)
    check_services(rendered, gw)
    check_disruption_budgets(rendered, gw)
    check_monitors(rendered)
    check_alerts(rendered)
    check_dashboard_configmap(rendered)
