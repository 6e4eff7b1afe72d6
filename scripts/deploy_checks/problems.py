"""Every check appends what it finds wrong to one list; passing sections print an ``ok`` line."""

from __future__ import annotations

problems: list[str] = []


def fail(where: str, what: str) -> None:
    problems.append(f"{where}: {what}")


def ok(message: str) -> None:
    print(f"  ok  {message}")
