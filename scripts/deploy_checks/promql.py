"""Parsing PromQL (alerts, recording rules, dashboard queries) and collecting
the metric names its selectors use."""

from __future__ import annotations

import promql_parser

from .problems import fail

GRAFANA_VARS = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$__range": "1h",
}


def parse_promql(where: str, expr: str) -> set[str]:
    """Parses one expression; returns the metric names its selectors use."""
    text = expr
    for var, value in GRAFANA_VARS.items():
        text = text.replace(var, value)
    try:
        ast = promql_parser.parse(text)
    except ValueError as e:
        fail(where, f"PromQL does not parse: {e}\n      {expr.strip()}")
        return set()
    names: set[str] = set()

    def visit(node):
        if isinstance(node, promql_parser.VectorSelector):
            if node.name is None:
                fail(where, f"selector without a metric name: {node}")
            else:
                names.add(node.name)

    promql_parser.walk(ast, visit)
    return names
