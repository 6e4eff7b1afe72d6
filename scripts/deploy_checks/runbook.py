"""The anchors of docs/OPERATIONS.md's headings, which alerts' runbook_url may name."""

from __future__ import annotations

import functools
import re

from .problems import fail
from .settings import ROOT, RUNBOOK


def github_slug(heading: str) -> str:
    slug = heading.strip().lower()
    slug = re.sub(r"[^\w\- ]", "", slug)
    return slug.replace(" ", "-")


@functools.cache
def runbook_anchors() -> frozenset[str]:
    if not RUNBOOK.exists():
        fail(str(RUNBOOK.relative_to(ROOT)), "missing")
        return frozenset()
    anchors = set()
    for line in RUNBOOK.read_text().splitlines():
        m = re.match(r"^#{1,6}\s+(.*)$", line)
        if m:
            anchors.add(github_slug(m.group(1)))
    return frozenset(anchors)
