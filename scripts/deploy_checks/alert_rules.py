"""Rules for alerting and the dashboard's ConfigMap: every PrometheusRule
expression parses and uses only Switchyard's metrics and recorded series;
alerts carry severity, summary, description and a runbook_url whose anchor is a
heading of docs/OPERATIONS.md; the required alerts exist; the dashboard
ConfigMap carries the dashboard file as is."""

from __future__ import annotations

import json

from .problems import fail
from .promql import parse_promql
from .rendered import Rendered
from .runbook import runbook_anchors
from .settings import DASHBOARD, REQUIRED_ALERTS


class RuleNames:
    """Alert names, recorded series, and the recorded series expressions use."""

    def __init__(self) -> None:
        self.alerts: set[str] = set()
        self.records: set[str] = set()
        self.used_records: set[str] = set()


def check_expr(rname: str, rule: dict, names: RuleNames) -> None:
    for n in parse_promql(rname, str(rule["expr"])):
        if n.startswith("switchyard:"):
            names.used_records.add(n)
        elif not n.startswith("switchyard_"):
            fail(rname, f"uses metric {n}, which Switchyard does not export")


def check_alert(rname: str, rule: dict, anchors: frozenset[str]) -> None:
    if rule.get("labels", {}).get("severity") not in ("critical", "warning", "info"):
        fail(rname, "needs labels.severity critical|warning|info")
    ann = rule.get("annotations", {})
    for a in ("summary", "description", "runbook_url"):
        if not ann.get(a):
            fail(rname, f"needs annotations.{a}")
    anchor = ann.get("runbook_url", "").partition("#")[2]
    if anchor and anchor not in anchors:
        fail(rname, f"runbook_url anchor #{anchor} is not a heading of docs/OPERATIONS.md")


def check_rule(rname: str, rule: dict, names: RuleNames, anchors: frozenset[str]) -> None:
    check_expr(rname, rule, names)
    if "record" in rule:
        names.records.add(rule["record"])
        return
    names.alerts.add(rule["alert"])
    check_alert(rname, rule, anchors)


def check_alerts(rendered: Rendered) -> None:
    rules = rendered.kind("PrometheusRule")
    if not rules:
        fail(rendered.where, "no PrometheusRule")
    anchors = runbook_anchors()
    names = RuleNames()
    for pr in rules:
        for group in pr["spec"].get("groups", []):
            for rule in group.get("rules", []):
                rname = f"{rendered.name(pr)} {rule.get('alert') or rule.get('record')}"
                check_rule(rname, rule, names, anchors)
    for missing in sorted(names.used_records - names.records):
        fail(rendered.where, f"recording rule {missing} is used but never recorded")
    for missing in sorted(REQUIRED_ALERTS - names.alerts):
        fail(rendered.where, f"alert {missing} missing")


def check_dashboard_configmap(rendered: Rendered) -> None:
    dash_cms = [c for c in rendered.configmaps.values() if "switchyard-dashboard.json" in c.get("data", {})]
    if len(dash_cms) != 1:
        fail(rendered.where, "expected one ConfigMap with switchyard-dashboard.json")
    elif json.loads(dash_cms[0]["data"]["switchyard-dashboard.json"]) != json.loads(DASHBOARD.read_text()):
        fail(rendered.where, "dashboard ConfigMap differs from the dashboard file")
