"""The Grafana dashboard JSON: required keys, a datasource variable, unique
panel ids, every query on ${datasource} using defined variables and only
switchyard_* metrics, and query variables of the form label_values(selector, label)."""

from __future__ import annotations

import json
import re

from .problems import fail, ok
from .promql import parse_promql
from .settings import DASHBOARD, ROOT

WHERE = str(DASHBOARD.relative_to(ROOT))


def all_panels(dash: dict) -> list[dict]:
    """Top-level panels, then those nested in rows."""
    panels = list(dash.get("panels", []))
    for p in list(panels):
        panels.extend(p.get("panels", []))
    return panels


def check_layout(dash: dict, variables: set[str], panels: list[dict]) -> None:
    for key in ("title", "uid", "panels", "templating", "schemaVersion"):
        if key not in dash:
            fail(WHERE, f"missing {key}")
    if "datasource" not in variables:
        fail(WHERE, "needs a 'datasource' variable so it works with any Prometheus data source")
    ids = [p.get("id") for p in panels]
    if len(ids) != len(set(ids)) or None in ids:
        fail(WHERE, "panel ids must be present and unique")


def check_query(pname: str, target: dict, variables: set[str]) -> None:
    expr = target.get("expr", "")
    if target.get("datasource", {}).get("uid") != "${datasource}":
        fail(pname, f"query {target.get('refId')}: datasource must be ${{datasource}}")
    for var in re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", expr):
        if not var.startswith("__") and var not in variables:
            fail(pname, f"query {target.get('refId')} uses undefined variable ${var}")
    for n in parse_promql(f"{pname} query {target.get('refId')}", expr):
        if not n.startswith("switchyard_"):
            fail(pname, f"uses metric {n}, which Switchyard does not export")


def check_panels(panels: list[dict], variables: set[str]) -> int:
    """Checks every panel and its queries; returns how many queries there are."""
    count = 0
    for p in panels:
        pname = f"{WHERE}: panel {p.get('id')} {p.get('title')!r}"
        if "gridPos" not in p:
            fail(pname, "missing gridPos")
        if p.get("type") == "row":
            continue
        if p.get("datasource", {}).get("uid") != "${datasource}":
            fail(pname, "datasource must be ${datasource}")
        if not p.get("targets"):
            fail(pname, "has no queries")
        for t in p.get("targets", []):
            count += 1
            check_query(pname, t, variables)
    return count


def check_variables(dash: dict) -> None:
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            q = v.get("query")
            q = q.get("query") if isinstance(q, dict) else q
            m = re.match(r"^label_values\((.*),\s*([a-zA-Z_]+)\)$", q or "")
            if not m:
                fail(WHERE, f"variable {v['name']}: expected label_values(selector, label), got {q!r}")
            else:
                parse_promql(f"{WHERE}: variable {v['name']}", m.group(1))


def check_dashboard() -> None:
    print("Grafana dashboard")
    try:
        dash = json.loads(DASHBOARD.read_text())
    except (OSError, ValueError) as e:
        fail(WHERE, f"not JSON: {e}")
        return
    variables = {v["name"] for v in dash.get("templating", {}).get("list", [])}
    panels = all_panels(dash)
    check_layout(dash, variables, panels)
    count = check_panels(panels, variables)
    check_variables(dash)
    ok(f"{len(panels)} panels, {count} queries parse, variables {sorted(variables)}")
