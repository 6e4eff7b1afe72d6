"""Rules for every pod of every workload: non-root, read-only root filesystem,
no privilege escalation, requests and limits, fixed image tags, no subPath
mounts of ConfigMaps, and volumes that name objects in the manifests."""

from __future__ import annotations

from .k8s_objects import pod_templates
from .problems import fail
from .rendered import Rendered


def check_security(cname: str, container: dict, pod_sc: dict) -> None:
    sc = container.get("securityContext", {})
    if sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is not True:
        fail(cname, "runAsNonRoot must be true")
    if sc.get("runAsUser", pod_sc.get("runAsUser")) in (None, 0):
        fail(cname, "runAsUser must be a non-zero UID")
    if sc.get("readOnlyRootFilesystem") is not True:
        fail(cname, "readOnlyRootFilesystem must be true")
    if sc.get("allowPrivilegeEscalation") is not False:
        fail(cname, "allowPrivilegeEscalation must be false")
    if "ALL" not in (sc.get("capabilities", {}).get("drop") or []):
        fail(cname, "capabilities must drop ALL")


def check_resources_and_image(cname: str, container: dict) -> None:
    res = container.get("resources", {})
    for section in ("requests", "limits"):
        for r in ("cpu", "memory"):
            if r not in (res.get(section) or {}):
                fail(cname, f"resources.{section}.{r} missing")
    image = container.get("image", "")
    if ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest"):
        fail(cname, f"image {image!r} needs a fixed tag")


def check_mounts(cname: str, container: dict, volumes: dict[str, dict]) -> None:
    for m in container.get("volumeMounts", []):
        vol = volumes.get(m["name"])
        if vol is None:
            fail(cname, f"mounts undeclared volume {m['name']}")
        elif ("subPath" in m or "subPathExpr" in m) and ("configMap" in vol or "projected" in vol):
            fail(cname, f"mounts ConfigMap volume {m['name']} with subPath: subPath mounts never see updates")


def check_volumes(name: str, volumes: dict[str, dict], rendered: Rendered) -> None:
    configmaps, pvcs = rendered.configmaps, rendered.pvcs
    for vname, vol in volumes.items():
        if "configMap" in vol and vol["configMap"]["name"] not in configmaps and not vol["configMap"].get("optional"):
            fail(name, f"volume {vname} names ConfigMap {vol['configMap']['name']}, which is not in the manifests")
        if "persistentVolumeClaim" in vol and vol["persistentVolumeClaim"]["claimName"] not in pvcs:
            fail(name, f"volume {vname} names PVC {vol['persistentVolumeClaim']['claimName']}, which is not in the manifests")


def check_pods(rendered: Rendered, objs: list[dict]) -> None:
    for owner, spec, _ in pod_templates(objs):
        name = rendered.name(owner)
        pod_sc = spec.get("securityContext", {})
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for c in spec.get("initContainers", []) + spec.get("containers", []):
            cname = f"{name} container {c['name']}"
            check_security(cname, c, pod_sc)
            check_resources_and_image(cname, c)
            check_mounts(cname, c, volumes)
        check_volumes(name, volumes, rendered)
