"""The Grafana dashboard and the alert rules shipped in deploy/ ask only for metrics Tether
exports, and show every one of them: checked against a scrape of a running Tether, so neither
can drift from the code."""

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.prometheus import exported_names, scrape
from tests.fixtures.running import Tether

DEPLOY = Path(__file__).parents[1] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "tether-dashboard.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
NAME = re.compile(r"\btether_[a-z_]+\b")


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found += panel.get("panels", [])  # a collapsed row's own
    return found


def _dashboard_expressions() -> dict[str, str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return {
        f"{panel['title']} ({target['refId']})": target["expr"]
        for panel in _panels(dashboard)
        for target in panel.get("targets", [])
    }


def _alert_expressions() -> dict[str, str]:
    rules = yaml.safe_load(ALERTS.read_text())
    return {rule["alert"]: rule["expr"] for group in rules["groups"] for rule in group["rules"]}


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_dashboard_and_alerts_ask_only_for_metrics_tether_exports(
    tether: Tether,
) -> None:
    exported = exported_names(await scrape(tether.base_url))
    expressions = _dashboard_expressions() | _alert_expressions()

    unknown = {
        where: sorted(set(NAME.findall(expr)) - exported) for where, expr in expressions.items()
    }
    assert {where: names for where, names in unknown.items() if names} == {}
    assert all(NAME.search(expr) for expr in expressions.values())


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_dashboard_shows_every_metric_tether_exports(tether: Tether) -> None:
    families = {
        name.removesuffix("_total")
        for name in exported_names(await scrape(tether.base_url))
        if name.startswith("tether_") and not name.endswith(("_created", "_bucket", "_sum"))
    }
    families = {name.removesuffix("_count") for name in families}
    shown = " ".join(_dashboard_expressions().values())

    assert sorted(f for f in families if f not in shown) == []


def test_the_alerts_name_the_two_an_operator_acts_on() -> None:
    alerts = _alert_expressions()

    assert "tether_lapses_total" in alerts["TetherLapsesPilingUp"]
    assert "tether_oldest_overdue_check_seconds" in alerts["TetherChecksFallingBehind"]
