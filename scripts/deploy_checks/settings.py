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

GRPC_PORT = 8001
METRICS_PORT = 8002
DEFAULT_SHUTDOWN_GRACE = 20
REQUIRED_ALERTS = {
    "SwitchyardCanaryErrorRateAboveStable",
    "SwitchyardShadowArgmaxDisagreement",
    "SwitchyardModelLoadFailed",
    "SwitchyardNoReadyVersion",
}
