"""Reading rendered Kubernetes objects: names, YAML streams, label selectors,
container arguments and the pod templates of workloads."""

from __future__ import annotations

import yaml


def kind_name(obj: dict) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def load_yaml_docs(text: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def selector_matches(selector: dict, labels: dict) -> bool:
    """matchLabels + matchExpressions against a label set."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return bool(selector.get("matchLabels") or selector.get("matchExpressions"))


def arg_value(args: list[str], flag: str) -> str | None:
    """Value of --flag=VALUE or --flag VALUE in a container's args."""
    for i, arg in enumerate(args):
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
        if arg == flag and i + 1 < len(args):
            return args[i + 1]
    return None


def addr_port(addr: str) -> int | None:
    """The port of a listen address (``HOST:PORT`` or ``[V6]:PORT``); None if it has none."""
    port = addr.rsplit(":", 1)[-1] if ":" in addr else ""
    return int(port) if port.isdigit() else None


def pod_templates(objs: list[dict]):
    """(owner, pod spec, pod labels) of every workload."""
    for obj in objs:
        kind = obj.get("kind")
        if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
            template = obj["spec"]["template"]
        elif kind == "CronJob":
            template = obj["spec"]["jobTemplate"]["spec"]["template"]
        else:
            continue
        yield obj, template["spec"], template.get("metadata", {}).get("labels", {})
