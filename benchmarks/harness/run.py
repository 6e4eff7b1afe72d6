"""One benchmark run from start to finish, and re-rendering a saved one."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from pathlib import Path

from .batch_metrics import scrape_batching
from .diagnosis import count_instructions, run_profiles
from .machine import machine, prioritise
from .matrix import build_plan, measure
from .plot import plot
from .report import render
from .results import Results, current_settings
from .servers import stop_all
from .settings import OUT, PLOT, RESULTS_JSON, log
from .prepare import start_servers, write_models, write_repo
from .targets import evaluate


def main() -> int:
    niceness = prioritise()
    work = Path(tempfile.mkdtemp(prefix="switchyard-bench-"))
    log(f"work directory {work}")
    try:
        return run(work, niceness)
    finally:
        stop_all()
        if os.environ.get("KEEP_WORK") != "1":
            shutil.rmtree(work, ignore_errors=True)


def run(work: Path, niceness: str) -> int:
    info = machine()
    info["niceness"] = niceness
    small, compute = write_models(work)
    repo = write_repo(work, small, compute)
    servers = start_servers(work, repo, small, compute)
    points, elapsed = measure(build_plan(), servers, small, compute)
    info["loadavg_end"] = os.getloadavg()
    info["measured_at"] = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

    batch_stats = scrape_batching(servers["switchyard"])
    targets = evaluate(points)
    profiles = run_profiles(servers, targets, work)
    stop_all()
    instructions = count_instructions(work, small)

    results = Results(info, points, targets, profiles, batch_stats, instructions, elapsed, current_settings())
    results.save(RESULTS_JSON)
    write_page(results)
    log(f"wrote {OUT}, {PLOT} and {RESULTS_JSON}")
    for t in targets:
        log(f"{'PASS' if t['pass'] else 'MISS'}  {t['name']}: {t['value_text']} (target {t['target_text']})")
    return 0


def write_page(results: Results) -> None:
    plot(results.points)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(render(results))


def render_only() -> int:
    """`bench.py --render`: rewrite the page and the plot from RESULTS_JSON
    (e.g. after editing benchmarks/FINDINGS.md), without measuring again."""
    results = Results.load(RESULTS_JSON)
    plot(results.points)
    OUT.write_text(render(results))
    log(f"re-rendered {OUT} and {PLOT} from {RESULTS_JSON}")
    return 0
