"""The costs sections of docs/BENCHMARKS.md: instructions per request
(callgrind) and the perf profiles of the points that missed their target."""

from __future__ import annotations

from .callgrind import CALLGRIND_FUNCTIONS
from .formatting import fmt
from .perf import BUCKETS


def instructions_section(instructions: dict) -> list[str]:
    lines: list[str] = []
    if instructions:
        lines += [
            "## Instructions per request (callgrind)",
            "",
            "User-space instructions counted by `valgrind --tool=callgrind` while `switchyard-bench` sends small-MLP",
            "requests one at a time (c=1) for 5 s, after 2 s of warm-up; counters zeroed and dumped around the",
            "measured window with `callgrind_control`. Unlike timings these do not depend on what else the machine",
            "runs. (Under valgrind ONNX Runtime sees no AVX-512, so its share is somewhat overstated.) Kernel time —",
            "syscalls, wake-ups, context switches — is not counted here; see the perf figures below.",
            "",
        ]
        names = list(instructions)
        lines += ["| per request | " + " | ".join(names) + " |", "| --- |" + " ---: |" * len(names)]
        rows = ["requests", "total"] + [label for label, _ in CALLGRIND_FUNCTIONS] + [
            "malloc calls (Rust)",
            "malloc calls (C++, ONNX Runtime)",
        ]
        for row in rows:
            cells = []
            for name in names:
                value = instructions[name].get(row)
                cells.append("–" if value is None else fmt(value, 1 if "malloc" in row else 0))
            if any(c != "–" for c in cells):
                label = "measured requests (runs)" if row == "requests" else row
                label = "total instructions" if row == "total" else label
                lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def component_table(profiles: list[dict]) -> list[str]:
    """One column per profile: CPU and context switches per request, then self time by BUCKETS."""
    header = "| component | " + " | ".join(
        f"{p['server']} {p['model']} c={p['concurrency']} ({fmt(p['throughput_rps'])} req/s)" for p in profiles
    ) + " |"
    lines = [header, "| --- |" + " ---: |" * len(profiles)]
    lines.append("| server CPU µs per request (perf stat task-clock) | " + " | ".join(
        fmt(p.get("cpu_us_per_request"), 1) for p in profiles) + " |")
    lines.append("| server context switches per request | " + " | ".join(
        fmt(p.get("context_switches_per_request"), 2) for p in profiles) + " |")
    lines.append("| client CPU % | " + " | ".join(fmt(p.get("client_cpu_percent")) for p in profiles) + " |")
    labels = [label for label, _, _ in BUCKETS] + ["other"]
    for label in labels:
        cells = [f"{p['buckets'].get(label, 0):.1f} %" for p in profiles]
        if any(p["buckets"].get(label, 0) for p in profiles):
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def top_symbols(profile: dict) -> list[str]:
    p = profile
    lines = [
        "",
        f"Top symbols, {p['server']} {p['model']} c={p['concurrency']}:",
        "",
        "| self % | library | symbol |",
        "| ---: | --- | --- |",
    ]
    for share, dso, sym in p["top"][:6]:
        lines.append(f"| {share:.1f} | {dso} | `{sym.replace('|', '/')}` |")
    return lines


def profiles_section(profiles: list[dict]) -> list[str]:
    # A profile whose `perf report` came back empty has nothing to show; say so.
    empty = [p for p in profiles if not p["top"]]
    profiles = [p for p in profiles if p["top"]]
    if not profiles:
        return []
    lines = [
        "## Profile of this run (perf, cpu-clock)",
        "",
        "Self time of the server process by component while under the load shown (`perf record -g -p PID`,",
        "then `perf report --no-children`, symbols grouped by crate/library). The raw data stays in the work",
        "directory when the run is started with `KEEP_WORK=1`.",
        "",
    ]
    lines += component_table(profiles)
    for p in profiles:
        lines += top_symbols(p)
    for p in empty:
        lines += ["", f"No perf samples were recorded for {p['server']} {p['model']} c={p['concurrency']} in this run."]
    lines.append("")
    return lines
