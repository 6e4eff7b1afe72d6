"""k8s/: every kustomization renders with ``kubectl kustomize``, every manifest
file belongs to one, and every rendered object validates (kubernetes-validate,
strict, per Kubernetes version; the CRD objects against crd_schemas) and follows
the deployment rules."""

from __future__ import annotations

import subprocess
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml

from .crd_schemas import CRD_SCHEMAS
from .k8s_objects import kind_name, load_yaml_docs
from .problems import fail, ok, problems
from .rules import check_rules
from .settings import K8S, K8S_VERSIONS, KUBECTL, ROOT


def kustomizations() -> list[Path]:
    return sorted(p.parent for p in K8S.rglob("kustomization.yaml"))


def referenced_files(kdir: Path) -> set[Path]:
    """Files a kustomization.yaml names (resources, patches, generator files)."""
    k = yaml.safe_load((kdir / "kustomization.yaml").read_text()) or {}
    refs = set()
    for res in k.get("resources", []):
        p = (kdir / res).resolve()
        if p.is_file():
            refs.add(p)
    for patch in k.get("patches", []) + k.get("patchesStrategicMerge", []):
        path = patch.get("path") if isinstance(patch, dict) else patch
        if path:
            refs.add((kdir / path).resolve())
    for gen in k.get("configMapGenerator", []) + k.get("secretGenerator", []):
        for f in gen.get("files", []):
            refs.add((kdir / f.split("=", 1)[-1]).resolve())
    return refs


def render(kdir: Path) -> list[dict] | None:
    result = subprocess.run([KUBECTL, "kustomize", str(kdir)], capture_output=True, text=True)
    where = str(kdir.relative_to(ROOT))
    if result.returncode != 0:
        fail(where, f"kubectl kustomize failed:\n{result.stderr.strip()}")
        return None
    try:
        return load_yaml_docs(result.stdout)
    except yaml.YAMLError as e:
        fail(where, f"rendered output is not YAML: {e}")
        return None


def validate_objects(where: str, objs: list[dict]) -> None:
    for obj in objs:
        key = (obj.get("apiVersion"), obj.get("kind"))
        name = f"{where}: {kind_name(obj)}"
        if key in CRD_SCHEMAS:
            errors = sorted(jsonschema.Draft202012Validator(CRD_SCHEMAS[key]).iter_errors(obj), key=str)
            for e in errors:
                fail(name, f"{'.'.join(map(str, e.absolute_path))}: {e.message}")
            continue
        for version in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as e:
                fail(name, f"Kubernetes {version}: {'.'.join(map(str, e.path))}: {e.message}")
            except kubernetes_validate.SchemaNotFoundError as e:
                fail(name, e.message)


def check_unreferenced(kdirs: list[Path]) -> None:
    """Every manifest file under k8s/ must be part of some kustomization, so none escapes the checks."""
    referenced: set[Path] = set()
    for kdir in kdirs:
        referenced |= referenced_files(kdir)
    for f in sorted(K8S.rglob("*")):
        if f.suffix in (".yaml", ".yml", ".json") and f.name != "kustomization.yaml" and f.resolve() not in referenced:
            fail(str(f.relative_to(ROOT)), "is not part of any kustomization, so nothing would check it")


def check_k8s() -> None:
    print(f"Kubernetes manifests (validated against Kubernetes {', '.join(K8S_VERSIONS)})")
    kdirs = kustomizations()
    if not kdirs:
        fail("k8s", "no kustomization.yaml")
        return
    check_unreferenced(kdirs)
    for kdir in kdirs:
        where = str(kdir.relative_to(ROOT))
        objs = render(kdir)
        if objs is None:
            continue
        before = len(problems)
        validate_objects(where, objs)
        check_rules(where, objs)
        if len(problems) == before:
            kinds = sorted({o["kind"] for o in objs})
            ok(f"{where}: {len(objs)} objects render, validate and follow the deployment rules ({', '.join(kinds)})")
