"""The Docker build context: the files .dockerignore leaves, which must hold
every COPY source and a manifest Cargo can load, and nothing that must stay out
(.git, target/, .venv, .ort, model files)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from .problems import fail, ok
from .settings import ROOT

DOCKERIGNORE_SPECIAL = re.compile(r"(\*\*|\*|\?|\[[^\]]*\])")


def dockerignore_regex(pattern: str) -> re.Pattern:
    """Docker's .dockerignore pattern (Go filepath.Match plus `**`) as a regex."""
    out = []
    pos = 0
    for m in DOCKERIGNORE_SPECIAL.finditer(pattern):
        out.append(re.escape(pattern[pos : m.start()]))
        token = m.group(0)
        if token == "**":
            out.append(".*")
        elif token == "*":
            out.append("[^/]*")
        elif token == "?":
            out.append("[^/]")
        else:
            out.append(token.replace("[!", "[^"))
        pos = m.end()
    out.append(re.escape(pattern[pos:]))
    return re.compile("^" + "".join(out) + "$")


def build_context(root: Path) -> list[str]:
    """Files that .dockerignore leaves in the build context (paths relative to root)."""
    rules = []
    ignore = root / ".dockerignore"
    if ignore.exists():
        for line in ignore.read_text().splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            pattern = os.path.normpath(line[1:] if negate else line).lstrip("/")
            rules.append((negate, dockerignore_regex(pattern)))
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        # Large directories that can never be in the context are not walked.
        dirnames[:] = [d for d in dirnames if not (rel_dir == "." and d in (".git", "target", ".venv"))]
        for name in filenames:
            rel = os.path.normpath(os.path.join(rel_dir, name))
            parts = rel.split("/")
            candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
            excluded = False
            for negate, regex in rules:
                if any(regex.match(c) for c in candidates):
                    excluded = not negate
            if not excluded:
                files.append(rel)
    return sorted(files)



def check_copy_sources(context: list[str], copies: list[str]) -> None:
    context_set = set(context)
    for source in copies:
        if source in (".", "./"):
            continue
        src = source.rstrip("/")
        if src not in context_set and not any(f.startswith(src + "/") for f in context):
            fail(".dockerignore", f"excludes {source}, which the Dockerfile COPYs")
    for needed in ("Cargo.toml", "Cargo.lock", "build.rs", "src/main.rs", "src/lib.rs"):
        if (ROOT / needed).exists() and needed not in context_set:
            fail(".dockerignore", f"excludes {needed}, which the build needs")
    for f in context:
        if f.startswith((".git/", "target/", ".venv/", ".ort/")) or f.endswith(".onnx"):
            fail(".dockerignore", f"lets {f} into the build context")


def check_cargo_loads(context: list[str]) -> None:
    """Cargo must be able to load the manifest from the context alone (every
    target it names, e.g. [[bench]] files, must be there)."""
    with tempfile.TemporaryDirectory() as tmp:
        for f in context:
            dest = Path(tmp) / f
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, dest)
        # `cargo fetch` parses the manifest with every target (`cargo metadata`
        # does not look for inferred target files); the crates come from the
        # local cache when `cargo build` already ran.
        result = subprocess.run(["cargo", "fetch", "--locked"], cwd=tmp, capture_output=True, text=True)
        if result.returncode != 0:
            fail(".dockerignore", f"cargo cannot load the manifest from the build context:\n{result.stderr.strip()}")
        else:
            ok(f"build context ({len(context)} files) has every COPY source and a loadable Cargo manifest")


def check_build_context(copies: list[str]) -> None:
    context = build_context(ROOT)
    check_copy_sources(context, copies)
    check_cargo_loads(context)
