#!/usr/bin/env python3
"""House rule check: no source file over 500 lines (Rust or Python), no Rust
function in src/ over 80 lines. Prints what breaks the rule; exit 1 if any.

    scripts/check-sizes.py
"""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_FILE_LINES = 500
MAX_FN_LINES = 80
FN_START = re.compile(r"^(\s*)(pub(\([^)]*\))?\s+)?(async\s+)?(unsafe\s+)?fn\s+(\w+)")


SKIP_DIRS = {"target", ".venv", ".ort", ".git"}


def tracked_sources() -> list:
    """Rust and Python files git knows (or would add); outside a checkout,
    every such file not under a build or tool directory."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.rs", "*.py"],
        cwd=ROOT, capture_output=True, text=True,
    )
    if listed.returncode == 0:
        return [ROOT / name for name in listed.stdout.split() if (ROOT / name).is_file()]
    return [
        path for path in ROOT.rglob("*")
        if path.suffix in (".rs", ".py") and not SKIP_DIRS & set(path.relative_to(ROOT).parts)
    ]


def long_functions(path: Path) -> list:
    """(name, first line, length) of functions longer than the limit."""
    lines = path.read_text().splitlines()
    found = []
    for index, line in enumerate(lines):
        match = FN_START.match(line)
        if not match or line.rstrip().endswith(";"):
            continue
        indent = match.group(1)
        for end in range(index + 1, len(lines)):
            if lines[end] == indent + "}":
                length = end - index + 1
                if length > MAX_FN_LINES:
                    found.append((match.group(6), index + 1, length))
                break
    return found


def main() -> int:
    problems = []
    for path in tracked_sources():
        count = len(path.read_text().splitlines())
        rel = path.relative_to(ROOT)
        if count > MAX_FILE_LINES:
            problems.append(f"{rel}: {count} lines (limit {MAX_FILE_LINES})")
        if path.suffix == ".rs" and rel.parts[0] == "src":
            for name, line, length in long_functions(path):
                problems.append(f"{rel}:{line}: fn {name} is {length} lines (limit {MAX_FN_LINES})")
    for problem in problems:
        print(problem)
    print(f"{len(problems)} size rule violations")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
