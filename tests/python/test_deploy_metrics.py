"""The deployment files agree with the real binary.

* Every metric name that the Grafana dashboard
  (k8s/base/grafana/switchyard-dashboard.json) and the Prometheus alerts
  (k8s/base/prometheusrule.yaml) use is in the exposition of a running
  ``switchyard serve`` (GET /metrics) that has served canary, shadow, failing
  and direct traffic: a renamed or misspelt metric would leave a panel empty or
  an alert silent forever. Label names in ``name{label...}`` selectors must be
  labels that metric has, and ``le="..."`` buckets must be buckets it has.
* Every flag in the Deployment's container args is a flag of ``switchyard serve``.
* Every routes.yaml an overlay ships passes ``switchyard check`` against the
  sample model repository.

The server gets its own repository: model ``m`` with versions 1 (identity_fp32)
and 2 (scale_fp32), model ``corrupt`` (fails to load), and a routes file outside
the repository (as in Kubernetes) with a 50/50 canary route mirrored in full
to a shadow.

Static checks of the same files (schemas, PromQL syntax) are in
scripts/check-deploy.sh.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from conftest import FIXTURE_MODELS, REPO_ROOT, start_server, stop_server, switchyard_bin

DASHBOARD = REPO_ROOT / "k8s" / "base" / "grafana" / "switchyard-dashboard.json"
ALERTS = REPO_ROOT / "k8s" / "base" / "prometheusrule.yaml"
DEPLOYMENT = REPO_ROOT / "k8s" / "base" / "deployment.yaml"
OVERLAY_ROUTES = sorted((REPO_ROOT / "k8s" / "overlays").glob("*/routes.yaml"))

METRIC_NAME = re.compile(r"switchyard_[a-z_]+")
# name{matchers}: the label names a selector filters on.
SELECTOR = re.compile(r"(switchyard_[a-z_]+)\{([^{}]*)\}")
MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*\\?"((?:[^"\\]|\\.)*?)\\?"')
# Labels that Prometheus adds at scrape time (Kubernetes service discovery).
TARGET_LABELS = {"namespace", "pod", "instance", "job", "service", "endpoint", "container"}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")

ROUTES = """\
routes:
  canary:
    targets:
      - {model: m, version: 1, weight: 50}   # stable
      - {model: m, version: 2, weight: 50}   # canary
    shadow: {model: m, version: 2, fraction: 1.0}
  guarded:  # a rollout that never checks within the test: its gauges exist
    targets:
      - {model: m, version: 1, weight: 100}
      - {model: m, version: 2, weight: 0}
    rollout:
      canary: {model: m, version: 2}
      steps: [10, 100]
      interval: 1h
"""


# --------------------------------------------------------------------------
# The exposition
# --------------------------------------------------------------------------


class Exposition:
    """Prometheus text format: sample names, their label names, TYPE lines."""

    SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+\S+")
    LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

    def __init__(self, text: str):
        self.text = text
        self.types: dict[str, str] = {}
        self.labels: dict[str, set[str]] = {}
        self.values: dict[tuple[str, str], set[str]] = {}
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(None, 3)
                self.types[name] = kind.strip()
                continue
            if not line or line.startswith("#"):
                continue
            m = self.SAMPLE.match(line)
            if not m:
                continue
            name = m.group(1)
            self.labels.setdefault(name, set())
            for label, value in self.LABEL.findall(m.group(2) or ""):
                self.labels[name].add(label)
                self.values.setdefault((name, label), set()).add(value)

    def problem(self, name: str) -> str | None:
        """Why `name` is not a series Prometheus would have, or None."""
        if name in self.labels:
            return None
        if self.types.get(name) in ("histogram", "summary"):
            return f"{name} is a {self.types[name]}: query {name}_bucket / _sum / _count"
        for suffix in HISTOGRAM_SUFFIXES:
            base = name[: -len(suffix)] if name.endswith(suffix) else None
            if base and base in self.types and self.types[base] != "histogram":
                return f"{name}: {base} is a {self.types[base]}, not a histogram"
        return f"{name} is not in /metrics"


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200
        return response.read().decode()


def build_repo(root: Path) -> tuple[Path, Path]:
    repo = root / "models"
    for version, fixture in ((1, "identity_fp32"), (2, "scale_fp32")):
        shutil.copytree(FIXTURE_MODELS / fixture / "1", repo / "m" / str(version))
    shutil.copytree(FIXTURE_MODELS / "corrupt", repo / "corrupt")
    routes_dir = root / "routes"  # like the ConfigMap mount: outside the repository
    routes_dir.mkdir()
    (routes_dir / "routes.yaml").write_text(ROUTES)
    return repo, routes_dir / "routes.yaml"


@pytest.fixture(scope="module")
def exposition(tmp_path_factory) -> Exposition:
    repo, routes = build_repo(tmp_path_factory.mktemp("deploy-metrics"))
    server = start_server(repo, "--routes", str(routes))
    try:
        client = grpcclient.InferenceServerClient(server.grpc_url)
        x = np.array([[0.1, 0.9, -0.3, 0.2], [1.0, -1.0, 0.5, 0.0]], dtype=np.float32)
        served = set()
        for _ in range(40):
            inp = grpcclient.InferInput("x", list(x.shape), "FP32")
            inp.set_data_from_numpy(x)
            result = client.infer("canary", [inp])
            served.add(result.get_response().model_version)
        assert served == {"1", "2"}, f"the 50/50 route should reach both versions, reached {served}"
        # A direct request, one the client gets wrong, and one to a model
        # with no ready version: other routes and codes in requests_total.
        inp = grpcclient.InferInput("x", list(x.shape), "FP32")
        inp.set_data_from_numpy(x)
        client.infer("m", [inp], model_version="1")
        bad = grpcclient.InferInput("x", [2, 3], "FP32")
        bad.set_data_from_numpy(np.zeros((2, 3), dtype=np.float32))
        with pytest.raises(InferenceServerException, match="INVALID_ARGUMENT"):
            client.infer("canary", [bad])
        with pytest.raises(InferenceServerException, match="UNAVAILABLE"):
            client.infer("corrupt", [inp])
        client.close()

        # Mirrors run after the answer: wait until their metrics are there.
        wanted = ("switchyard_shadow_abs_diff_bucket", "switchyard_shadow_argmax_agreement_total",
                  "switchyard_shadow_duration_seconds_bucket", "switchyard_shadow_requests_total")
        deadline = time.monotonic() + 15
        while True:
            text = scrape(server.metrics_url)
            if all(name in text for name in wanted) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        return Exposition(text)
    finally:
        code = stop_server(server)
        assert code == 0, f"switchyard did not exit 0 after SIGTERM (got {code})"


def dashboard_exprs() -> list[str]:
    dash = json.loads(DASHBOARD.read_text())
    panels = list(dash["panels"])
    for p in list(panels):
        panels.extend(p.get("panels", []))
    exprs = [t["expr"] for p in panels for t in p.get("targets", []) if t.get("expr")]
    for v in dash.get("templating", {}).get("list", []):
        q = v.get("query")
        exprs.append(q.get("query", "") if isinstance(q, dict) else (q or ""))
    return exprs


def names_in(path: Path) -> set[str]:
    return set(METRIC_NAME.findall(path.read_text()))


# --------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------


@pytest.mark.parametrize("path", [DASHBOARD, ALERTS], ids=["dashboard", "alerts"])
def test_every_metric_name_used_exists(exposition, path):
    names = names_in(path)
    assert names, f"no switchyard_ metric names found in {path}"
    missing = sorted(p for p in (exposition.problem(n) for n in names) if p)
    assert not missing, (
        f"{path.relative_to(REPO_ROOT)} uses metrics the binary does not export:\n  "
        + "\n  ".join(missing)
        + "\nexported: " + ", ".join(sorted(n for n in exposition.labels if n.startswith("switchyard_")))
    )


@pytest.mark.parametrize("source", ["dashboard", "alerts"])
def test_selector_labels_exist(exposition, source):
    texts = dashboard_exprs() if source == "dashboard" else [ALERTS.read_text()]
    problems = []
    checked = 0
    for text in texts:
        for name, matchers in SELECTOR.findall(text):
            if name not in exposition.labels:
                continue  # reported by test_every_metric_name_used_exists
            for label, op, value in MATCHER.findall(matchers):
                checked += 1
                if label in TARGET_LABELS or label == "__name__":
                    continue
                if label not in exposition.labels[name]:
                    problems.append(f"{name}{{{label}...}}: {name} has labels {sorted(exposition.labels[name])}")
                elif label == "le" and op == "=" and value not in exposition.values[(name, "le")]:
                    problems.append(f'{name}{{le="{value}"}}: buckets are {sorted(exposition.values[(name, "le")], key=float)}')
    assert checked, f"no label matchers found in the {source}"
    assert not problems, f"the {source} select on labels the metrics do not have:\n  " + "\n  ".join(problems)


def test_deployment_flags_are_serve_flags():
    args = re.findall(r"^\s*-\s*(--[a-z][a-z-]*)", DEPLOYMENT.read_text(), flags=re.M)
    assert "--max-connection-age" in args and "--routes" in args, args
    help_text = subprocess.run(
        [str(switchyard_bin()), "serve", "--help"], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    unknown = [a for a in args if not re.search(re.escape(a) + r"\b", help_text)]
    assert not unknown, f"k8s/base/deployment.yaml passes flags `switchyard serve` does not have: {unknown}"


@pytest.mark.parametrize("routes", OVERLAY_ROUTES, ids=[p.parent.name for p in OVERLAY_ROUTES])
def test_overlay_routes_pass_check(routes):
    result = subprocess.run(
        [str(switchyard_bin()), "check", "--model-repo", str(REPO_ROOT / "model_repo"), "--routes", str(routes)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, f"switchyard check rejects {routes}:\n{result.stdout}\n{result.stderr}"
