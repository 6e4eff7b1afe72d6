"""The performance targets, judged from the medians of a run's points."""

from __future__ import annotations

from .points import Point
from .settings import COMPUTE_INSTANCES, COMPUTE_INTRA


def evaluate(points: dict[str, Point]) -> list[dict]:
    def ratio(a: float | None, b: float | None) -> float:
        return (a or 0.0) / b if b else 0.0

    p = points
    sy8, py8, echo8 = p["small/switchyard/c8"], p["small/python/c8"], p["small/echo/c8"]
    vs_python = ratio(sy8.rps, py8.rps)
    vs_echo = ratio(sy8.rps, echo8.rps)
    gap = (p["small/switchyard/c1"].latency("p50") or 0) - (p["small/echo/c1"].latency("p50") or 0)
    compute = ratio(p["compute/switchyard/c8"].rows, p["compute/in-process"].rows)
    batching = ratio(p["small/switchyard-batched/c64"].rps, p["small/switchyard/c64"].rps)
    return [
        {"id": "vs_python", "name": "small MLP, c=8: Switchyard / Python throughput", "value": vs_python,
         "value_text": f"{vs_python:.1f}×", "target_text": "≥ 8×", "pass": vs_python >= 8},
        {"id": "vs_echo", "name": "small MLP, c=8: Switchyard / bare echo throughput", "value": vs_echo,
         "value_text": f"{vs_echo:.2f}×", "target_text": "≥ 0.7×", "pass": vs_echo >= 0.7},
        {"id": "p50_gap", "name": "small MLP, c=1: Switchyard p50 − echo p50", "value": gap,
         "value_text": f"{gap:+.0f} µs", "target_text": "≤ 60 µs", "pass": gap <= 60},
        {"id": "compute", "name": f"compute MLP (b=32, c=8): Switchyard / in-process ORT rows/s "
         f"({COMPUTE_INSTANCES}×{COMPUTE_INTRA} threads)", "value": compute,
         "value_text": f"{compute:.2f}×", "target_text": "≥ 0.9×", "pass": compute >= 0.9},
        {"id": "batching", "name": "small MLP, c=64: batching on / off throughput", "value": batching,
         "value_text": f"{batching:.2f}×", "target_text": "≥ 2×", "pass": batching >= 2},
    ]  # fmt: skip
