"""Rules for what the gateway reads from volumes: the routes file is a key of a
ConfigMap mounted as a directory (so updates reach it), holding a top-level
``routes`` mapping; the model repository is inside the PVC mount."""

from __future__ import annotations

import yaml

from .k8s_objects import arg_value
from .problems import fail
from .rendered import Gateway, Rendered


def mount_of(gw: Gateway, path: str) -> dict | None:
    """The gateway container's volume mount that holds ``path`` (the deepest one)."""
    best = None
    for m in gw.container.get("volumeMounts", []):
        mp = m["mountPath"].rstrip("/")
        if (path == mp or path.startswith(mp + "/")) and (best is None or len(mp) > len(best["mountPath"])):
            best = m
    return best


def volumes(gw: Gateway) -> dict[str, dict]:
    return {v["name"]: v for v in gw.pod.get("volumes", [])}


def routes_path(gw: Gateway) -> str | None:
    """--routes, else the SWITCHYARD_ROUTES environment variable."""
    routes = arg_value(gw.args, "--routes")
    if routes is None:
        env = {e["name"]: e.get("value") for e in gw.container.get("env", [])}
        routes = env.get("SWITCHYARD_ROUTES")
    return routes


def check_routes_key(rendered: Rendered, gw: Gateway, cm: dict, key: str, vol: dict) -> None:
    """The ConfigMap key the routes file is must parse as a routes table."""
    try:
        parsed = yaml.safe_load(cm["data"][key])
        if not isinstance(parsed, dict) or not isinstance(parsed.get("routes"), dict):
            fail(rendered.name(cm), f"{key} needs a top-level 'routes' mapping")
    except yaml.YAMLError as e:
        fail(rendered.name(cm), f"{key} is not YAML: {e}")
    if vol["configMap"].get("items"):
        fail(gw.name, "routes ConfigMap volume should mount the whole ConfigMap (no items)")


def check_routes(rendered: Rendered, gw: Gateway) -> None:
    routes = routes_path(gw)
    if routes is None:
        fail(gw.name, "--routes must point into the routes ConfigMap mount")
        return
    m = mount_of(gw, routes)
    vol = volumes(gw).get(m["name"]) if m else None
    if not vol or "configMap" not in vol:
        fail(gw.name, f"--routes {routes} is not inside a ConfigMap volume mount")
        return
    cm = rendered.configmaps.get(vol["configMap"]["name"])
    key = routes[len(m["mountPath"].rstrip("/")) + 1 :]
    if cm is None or key not in cm.get("data", {}):
        fail(gw.name, f"ConfigMap {vol['configMap']['name']} has no key {key!r} for --routes")
        return
    check_routes_key(rendered, gw, cm, key, vol)


def check_model_repo(gw: Gateway) -> None:
    repo = arg_value(gw.args, "--model-repo")
    m = mount_of(gw, repo) if repo else None
    if not m or "persistentVolumeClaim" not in volumes(gw).get(m["name"], {}):
        fail(gw.name, "--model-repo must point into the model repository PVC mount")
