"""Everything one run measured, as written to RESULTS_JSON (and read back by
``bench.py --render``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .points import Point
from .settings import CONNECTIONS, DURATION, REPEATS, WARMUP


def current_settings() -> dict:
    """The measurement settings of this process (from the environment)."""
    return {"DURATION": DURATION, "WARMUP": WARMUP, "REPEATS": REPEATS, "CONNECTIONS": CONNECTIONS}


@dataclass
class Results:
    machine: dict
    points: dict[str, Point]
    targets: list[dict]
    profiles: list[dict]
    batching: dict
    instructions: dict
    elapsed_s: float
    settings: dict  # DURATION, WARMUP, REPEATS, CONNECTIONS of the run

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "machine": self.machine,
            "points": {k: vars(p) for k, p in self.points.items()},
            "targets": self.targets,
            "profiles": self.profiles,
            "batching": self.batching,
            "instructions": self.instructions,
            "elapsed_s": self.elapsed_s,
            "settings": self.settings,
        }
        path.write_text(json.dumps(data, indent=1, default=str))

    @classmethod
    def load(cls, path: Path) -> "Results":
        """A saved run; settings it did not record are this process's."""
        data = json.loads(path.read_text())
        recorded = data.get("settings", {})
        settings = {name: recorded.get(name, value) for name, value in current_settings().items()}
        return cls(
            machine=data["machine"],
            points={key: Point(**fields) for key, fields in data["points"].items()},
            targets=data["targets"],
            profiles=data["profiles"],
            batching=data["batching"],
            instructions=data["instructions"],
            elapsed_s=data.get("elapsed_s", 0),
            settings=settings,
        )
