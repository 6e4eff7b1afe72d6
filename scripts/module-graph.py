#!/usr/bin/env python3
"""Prints the crate's module graph and checks the house rules on it.

    scripts/module-graph.py            # the graph between layers, then any violations
    scripts/module-graph.py --files    # also the edges between files of one folder
    scripts/module-graph.py --check    # exit 1 on a violation (scripts/test.sh runs this)

src/bin/ holds other binaries (the load generator), separate crates that
use the library; the library never imports them. A unit is a top-level module of src/ (frontend/* and backend/* count one level
deeper). An edge A -> B means some file of A names `crate::B` (or reaches B
through `super::`). The rules, written out in ARCHITECTURE.md:
  1. no cycle between units, and none between the files of one folder;
  2. every edge points down the layer order below (a unit may use any unit
     of a lower layer, none of its own layer or above);
  3. only frontend/* names tonic or the generated protobuf code, and only
     backend/ort names ONNX Runtime (`ort::`).
"""

import re
import sys
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"

# Highest layer first. Units of one row may not import each other.
LAYERS = [
    ["commands"],
    ["frontend::grpc", "frontend::http"],
    ["frontend::triton", "frontend"],
    ["engine"],
    ["repository"],
    ["shadow", "config"],
    ["model"],
    ["backend::ort", "backend::fake"],
    ["backend"],
    ["routing", "tensor"],
    ["telemetry", "error", "proto"],
]
TRANSPORT_UNITS = ("frontend",)
ORT_UNITS = ("backend::ort",)
TWO_LEVEL = ("frontend", "backend")

CRATE_PATH = re.compile(r"\bcrate::([a-z_][a-z0-9_]*(?:::[a-z_][a-z0-9_]*)*)")
SUPER_PATH = re.compile(r"\b((?:super::)+)([a-z_][a-z0-9_]*(?:::[a-z_][a-z0-9_]*)*)?")
USE_GROUP = re.compile(r"\buse\s+(crate|super(?:::super)*)::\{([^;]*)\};", re.S)
COMMENT = re.compile(r"//[^\n]*")


def module_of(path: Path) -> list:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return parts


def is_dir_module(path: Path) -> bool:
    return path.name in ("mod.rs", "lib.rs", "main.rs")


def unit_of(parts: list) -> str:
    if not parts:
        return "lib"
    if parts[0] in TWO_LEVEL and len(parts) > 1:
        return "::".join(parts[:2])
    return parts[0]


def known_modules() -> set:
    mods = set()
    for path in SRC.rglob("*.rs"):
        parts = module_of(path)
        for i in range(1, len(parts) + 1):
            mods.add("::".join(parts[:i]))
    return mods


def referenced_paths(path: Path, text: str) -> list:
    """Absolute module paths (lists) that `path` names, longest known prefix."""
    here = module_of(path)
    base = here if is_dir_module(path) else here[:-1]
    found = []
    for match in CRATE_PATH.finditer(text):
        found.append(match.group(1).split("::"))
    for match in SUPER_PATH.finditer(text):
        ups = match.group(1).count("super::")
        rest = match.group(2).split("::") if match.group(2) else []
        found.append(_super_root(base, ups) + rest)
    for match in USE_GROUP.finditer(text):
        prefix = [] if match.group(1) == "crate" else _super_root(base, match.group(1).count("super"))
        for item in match.group(2).split(","):
            item = item.strip().split("::")[0].strip("{} \n")
            if re.fullmatch(r"[a-z_][a-z0-9_]*", item or "-"):
                found.append(prefix + [item])
    return found


def _super_root(base: list, ups: int) -> list:
    # In a file module, `super` is its folder's module (base); each further
    # `super` goes one folder up.
    return base[: max(0, len(base) - (ups - 1))]


def resolve(parts: list, mods: set) -> list:
    for i in range(len(parts), 0, -1):
        if "::".join(parts[:i]) in mods:
            return parts[:i]
    return []


def reexports(mods: set) -> dict:
    """item name -> file module, from `pub use child::{A, B}` in a folder's mod.rs."""
    table = {}
    for path in SRC.rglob("mod.rs"):
        folder = module_of(path)
        text = COMMENT.sub("", path.read_text())
        for match in re.finditer(r"pub use ([a-z_][a-z0-9_]*)::(\{[^;]*\}|[A-Za-z_][A-Za-z0-9_]*);", text):
            child = folder + [match.group(1)]
            if "::".join(child) not in mods:
                continue
            for item in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", match.group(2)):
                table[("::".join(folder), item)] = child
    return table


def collect():
    mods = known_modules()
    exports = reexports(mods)
    unit_edges = defaultdict(set)
    file_edges = defaultdict(set)
    foreign = defaultdict(set)
    for path in sorted(SRC.rglob("*.rs")):
        if path.relative_to(SRC).parts[0] == "bin":
            continue  # other binaries (the load generator) are separate crates
        text = COMMENT.sub("", path.read_text())
        here = module_of(path)
        src_unit = unit_of(here)
        for crate_name in ("tonic", "tonic_health", "tonic_reflection", "ort", "prost"):
            # `crate::backend::ort::` is this crate's module, not the ort crate.
            if re.search(rf"(?<!backend::)\b{crate_name}::", text):
                foreign[crate_name].add(src_unit)
        if re.search(r"\bcrate::proto\b", text):
            foreign["crate::proto"].add(src_unit)
        for raw in referenced_paths(path, text):
            target = resolve(raw, mods)
            if not target:
                continue
            folder = "::".join(target)
            if len(raw) > len(target) and (folder, raw[len(target)]) in exports:
                target = exports[(folder, raw[len(target)])]
            dst_unit = unit_of(target)
            if dst_unit != src_unit and dst_unit != "lib" and src_unit != "lib":
                unit_edges[src_unit].add(dst_unit)
            # Files of one folder: sibling file modules only.
            if (
                len(here) > 1
                and not is_dir_module(path)
                and len(target) == len(here)
                and target[:-1] == here[:-1]
                and target != here
            ):
                file_edges["::".join(here)].add("::".join(target))
    return unit_edges, file_edges, foreign


def cycles(edges: dict) -> list:
    found, state, stack = [], {}, []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    return found


def layer_of(unit: str):
    for index, row in enumerate(LAYERS):
        if unit in row:
            return index
    return None


def violations(unit_edges, file_edges, foreign) -> list:
    problems = []
    for cycle in cycles(unit_edges):
        problems.append("cycle between modules: " + " -> ".join(cycle))
    for cycle in cycles(file_edges):
        problems.append("cycle between files of one folder: " + " -> ".join(cycle))
    for src, dsts in sorted(unit_edges.items()):
        for dst in sorted(dsts):
            a, b = layer_of(src), layer_of(dst)
            if a is None or b is None:
                problems.append(f"unit not in the layer table: {src if a is None else dst}")
            elif b <= a and not dst.startswith(src + "::"):
                problems.append(f"upward or sideways import: {src} -> {dst}")
    for name in ("tonic", "tonic_health", "tonic_reflection", "prost", "crate::proto"):
        for unit in sorted(foreign.get(name, ())):
            if not unit.startswith(TRANSPORT_UNITS) and unit not in ("proto", "commands"):
                problems.append(f"{unit} names {name} (only the front ends know a transport)")
    for unit in sorted(foreign.get("ort", ())):
        if not unit.startswith(ORT_UNITS):
            problems.append(f"{unit} names ort (only backend::ort knows ONNX Runtime)")
    return sorted(set(problems))


def main() -> int:
    unit_edges, file_edges, foreign = collect()
    print("module graph (A -> B: A uses B)")
    for src in sorted(unit_edges):
        print(f"  {src} -> {', '.join(sorted(unit_edges[src]))}")
    if "--files" in sys.argv:
        print("files of one folder")
        for src in sorted(file_edges):
            print(f"  {src} -> {', '.join(sorted(file_edges[src]))}")
    problems = violations(unit_edges, file_edges, foreign)
    print(f"{len(problems)} rule violations")
    for problem in problems:
        print(f"  {problem}")
    return 1 if problems and "--check" in sys.argv else 0


if __name__ == "__main__":
    sys.exit(main())
