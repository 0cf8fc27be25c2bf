"""A real Prometheus scrapes real nodes with the chart's own alert rules (issue 15, item 1).

The rules come unchanged from ``charts/orders/files/alerts.yaml`` (the file the chart's
PrometheusRule embeds, tests/chart/test_monitoring.py) except that every ``for:`` is 2 s. A node
killed with SIGKILL must make ``WarehouseNodeDown`` fire for its region only, and restarting it
must resolve the alert: what an operator's Prometheus would do, end to end.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localmode.processes import ManagedProcess, wait_until
from localmode.prometheus import (
    ScrapeTarget,
    alert_rules,
    alerts,
    prometheus_process,
    query,
    rules_with,
)
from tests.conftest import READY_TIMEOUT, NodeFactory, RunningNode

#: generous: two cores are shared by the whole suite; the waits end as soon as the state shows
ALERT_TIMEOUT = 30.0


@pytest.fixture
def two_nodes(node_factory: NodeFactory) -> dict[str, RunningNode]:
    nodes = {region: node_factory(region, wait=False) for region in ("HCM", "HN")}
    for node in nodes.values():
        node.process.wait_ready(READY_TIMEOUT)
    return nodes


@pytest.fixture
def prometheus(two_nodes: dict[str, RunningNode], tmp_path: Path) -> Iterator[str]:
    targets = [ScrapeTarget("warehouse", n.url, region) for region, n in two_nodes.items()]
    process: ManagedProcess
    process, url = prometheus_process(
        targets, tmp_path / "prometheus", interval="1s", rules=rules_with(for_override="2s")
    )
    process.start(ready_timeout=30)
    try:
        yield url
    finally:
        process.stop(grace=10)


def node_down(url: str) -> list[dict[str, Any]]:
    return [a for a in alerts(url) if a["labels"]["alertname"] == "WarehouseNodeDown"]


def up_by_region(url: str) -> dict[str, str]:
    return {r["metric"]["region"]: r["value"][1] for r in query(url, 'up{component="warehouse"}')}


def test_node_down_alert_fires_on_a_killed_node_and_resolves_after_its_restart(
    two_nodes: dict[str, RunningNode], prometheus: str
) -> None:
    wait_until(
        lambda: up_by_region(prometheus) == {"HCM": "1", "HN": "1"},
        ALERT_TIMEOUT,
        interval=0.2,
        what="both nodes scraped",
    )
    # the chart's rules are all loaded, and none is pending or firing against healthy nodes
    chart_alerts = [r["alert"] for g in rules_with(None)["groups"] for r in g["rules"]]
    assert alert_rules(prometheus) == chart_alerts
    assert alerts(prometheus) == []

    two_nodes["HN"].process.kill()
    wait_until(
        lambda: any(a["state"] == "firing" for a in node_down(prometheus)),
        ALERT_TIMEOUT,
        interval=0.2,
        what="WarehouseNodeDown firing",
    )
    (firing,) = node_down(prometheus)
    assert firing["labels"]["region"] == "HN"
    assert firing["labels"]["severity"] == "critical"
    assert firing["annotations"]["summary"] == "Warehouse HN is down"
    assert up_by_region(prometheus)["HCM"] == "1"

    two_nodes["HN"].process.start(READY_TIMEOUT)
    wait_until(
        lambda: node_down(prometheus) == [],
        ALERT_TIMEOUT,
        interval=0.2,
        what="WarehouseNodeDown resolved",
    )
    assert up_by_region(prometheus) == {"HCM": "1", "HN": "1"}
