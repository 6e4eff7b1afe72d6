"""Numbers as the benchmark page shows them."""

from __future__ import annotations


def fmt(value: float | None, digits: int = 0) -> str:
    """Thousands separators, `digits` decimals; "–" for no value."""
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"
