"""What the checks look at, and the values the deployment contract fixes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
DASHBOARD = K8S / "base" / "grafana" / "switchyard-dashboard.json"
RUNBOOK = ROOT / "docs" / "OPERATIONS.md"
KUBECTL = os.environ.get("KUBECTL", str(Path(sys.executable).parent / "kubectl"))
K8S_VERSIONS = os.environ.get("K8S_VERSIONS", "1.30.0 1.37.0").split()

HTTP_PORT = 8000  # --http-addr's default (Triton's HTTP port)
GRPC_PORT = 8001
METRICS_PORT = 8002
DEFAULT_SHUTDOWN_GRACE = 20
REQUIRED_ALERTS = {
    "SwitchyardCanaryErrorRateAboveStable",
    "SwitchyardShadowArgmaxDisagreement",
    "SwitchyardModelLoadFailed",
    "SwitchyardNoReadyVersion",
}

# KServe (k8s/kserve): the container KServe merges an InferenceService's
# predictor into, where its storage initializer puts the model
# (pkg/constants/constants.go), and the protocols Switchyard speaks.
KSERVE_CONTAINER = "kserve-container"
KSERVE_MODEL_DIR = "/mnt/models"
KSERVE_PROTOCOLS = {"v2", "grpc-v2"}
# Knative Serving (KServe's serverless mode): allowed names of the one inbound
# container port, and the ports its queue-proxy keeps (pkg/apis/serving/k8s_validation.go).
KNATIVE_PORT_NAMES = {"", "h2c", "http1"}
KNATIVE_RESERVED_PORTS = {8008, 8012, 8013, 8022, 9090, 9091}
