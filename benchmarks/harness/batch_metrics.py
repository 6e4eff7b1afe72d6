"""Dynamic batching as Switchyard saw it, from its own /metrics at the end of
the run: mean requests merged per ONNX Runtime run and mean run time, per model."""

from __future__ import annotations

import re
import urllib.request

from .servers import Server
from .settings import log


BATCH_SERIES = re.compile(r'(switchyard_(?:batch_size|inference_duration_seconds)_(?:sum|count))\{([^}]*)\} (\S+)')


def metrics_text(server: Server) -> str | None:
    """Switchyard's /metrics, at the address its log announced; None when unreadable."""
    text = server.log.read_text(errors="replace")
    match = re.search(r'"metrics_addr"\s*:\s*"([^"]+)"', text)
    if not match:
        return None
    try:
        with urllib.request.urlopen(f"http://{match.group(1)}/metrics", timeout=10) as response:
            return response.read().decode()
    except OSError as error:
        log(f"cannot read Switchyard's metrics: {error}")
        return None


def batching_stats(body: str) -> dict:
    """Per model: runs, mean run time (µs) and, with batching, mean requests per run."""
    values: dict[tuple[str, str], float] = {}
    for line in body.splitlines():
        m = BATCH_SERIES.match(line)
        if m:
            model = re.search(r'model="([^"]*)"', m.group(2))
            if model:
                values[(m.group(1), model.group(1))] = float(m.group(3))
    stats = {}
    for (name, model), value in values.items():
        if name != "switchyard_inference_duration_seconds_count" or not value:
            continue
        entry = {"runs": value, "mean_run_us": 1e6 * values.get(("switchyard_inference_duration_seconds_sum", model), 0) / value}
        batches = values.get(("switchyard_batch_size_count", model))
        if batches:
            entry["mean_requests_per_run"] = values.get(("switchyard_batch_size_sum", model), 0) / batches
        stats[model] = entry
    return stats


def scrape_batching(server: Server) -> dict:
    """Per model, from Switchyard's /metrics (cumulative over the whole run):
    mean rows per ONNX Runtime run and mean run time."""
    body = metrics_text(server)
    return {} if body is None else batching_stats(body)
