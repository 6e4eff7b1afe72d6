"""One measured configuration and the medians over its repeats."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field


@dataclass
class Point:
    """One configuration, measured REPEATS times."""

    key: str
    server: str
    model: str
    batch: int
    concurrency: int
    note: str = ""
    runs: list[dict] = field(default_factory=list)

    def median(self, getter) -> float | None:
        values = [v for v in (getter(r) for r in self.runs) if v is not None]
        return statistics.median(values) if values else None

    @property
    def rps(self) -> float | None:
        return self.median(lambda r: r.get("throughput_rps"))

    @property
    def rows(self) -> float | None:
        rps = self.rps
        return None if rps is None else rps * self.batch

    def latency(self, q: str) -> float | None:
        return self.median(lambda r: (r.get("latency_us") or {}).get(q))

    @property
    def server_cpu(self) -> float | None:
        return self.median(lambda r: r.get("server_cpu_percent"))

    @property
    def client_cpu(self) -> float | None:
        return self.median(lambda r: r.get("client_cpu_percent"))

    @property
    def rps_range(self) -> str:
        values = [r["throughput_rps"] for r in self.runs if r.get("throughput_rps") is not None]
        if len(values) < 2:
            return ""
        return f"{min(values):,.0f}–{max(values):,.0f}"

    @property
    def other_cpu(self) -> float | None:
        return self.median(lambda r: r.get("other_cpu_percent"))

    @property
    def errors(self) -> int:
        return sum(sum((r.get("errors") or {}).values()) for r in self.runs)
