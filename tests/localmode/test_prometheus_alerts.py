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
    run_answers,
)
from tests.conftest import READY_TIMEOUT, NodeFactory, RunningNode
from tests.support.orders import order

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


def wait_both_scraped(url: str) -> None:
    wait_until(
        lambda: up_by_region(url) == {"HCM": "1", "HN": "1"},
        ALERT_TIMEOUT,
        interval=0.2,
        what="both nodes scraped",
    )


def test_node_down_alert_fires_on_a_killed_node_and_resolves_after_its_restart(
    two_nodes: dict[str, RunningNode], prometheus: str
) -> None:
    wait_both_scraped(prometheus)
    # the chart's rules are all loaded, and none stays pending or firing against healthy nodes
    # (NoReadyRegion may fire before the first scrape: "no warehouse up" is true until then)
    chart_alerts = [r["alert"] for g in rules_with(None)["groups"] for r in g["rules"]]
    assert sorted(alert_rules(prometheus)) == sorted(chart_alerts)  # Prometheus sorts groups
    wait_until(
        lambda: alerts(prometheus) == [], ALERT_TIMEOUT, interval=0.2, what="no alert active"
    )

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


def test_the_demo_s_promql_answers_count_orders_per_region_and_fallbacks(
    two_nodes: dict[str, RunningNode], prometheus: str
) -> None:
    wait_both_scraped(prometheus)
    with two_nodes["HCM"].client() as hcm, two_nodes["HN"].client() as hn:
        for sent in [hcm.post("/order", json=order("HCM")) for _ in range(3)] + [
            hcm.post("/order", json=order("HN")),  # HN's order on HCM: a fallback
            hn.post("/order", json=order("HN")),
        ]:
            assert sent.status_code == 201, sent.text

    def counted() -> bool:
        answers = run_answers(prometheus, window_s=60)
        stored = {r: round(v * 60) for r, v in answers.orders_per_s.items()}
        return stored == {"HCM": 4, "HN": 1} and answers.fallbacks == 1

    wait_until(counted, ALERT_TIMEOUT, interval=0.2, what="5 orders and 1 fallback in PromQL")
    answers = run_answers(prometheus, window_s=60)
    assert answers.p99_ms is not None and 0 < answers.p99_ms < 5000


def test_the_local_stack_s_prometheus_scrapes_every_part_and_the_summary_reads_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from localmode.demo_report import print_prometheus
    from localmode.stack import local_stack

    with local_stack(tmp_path / "state", airflow=False) as stack:
        assert stack.prometheus_url
        wait_until(
            lambda: (
                set(up_by_region(stack.prometheus_url).items())
                == {(r, "1") for r in stack.node_urls}
            ),
            ALERT_TIMEOUT,
            interval=0.2,
            what="every node scraped by the stack's Prometheus",
        )

        def routing_seen() -> bool:
            ready = query(
                stack.prometheus_url,
                'sum(warehouse_routing_region_ready{component="routing-source"})',
            )
            return bool(ready) and ready[0]["value"][1] == str(len(stack.node_urls))

        wait_until(routing_seen, ALERT_TIMEOUT, interval=0.2, what="routing source scraped")
        assert query(
            stack.prometheus_url, 'process_resident_memory_bytes{component="routing-source"}'
        )
        print_prometheus(stack.prometheus_url, 60)
        assert stack.prometheus is not None
        prometheus = stack.prometheus
    assert not prometheus.running()  # stopped with the stack
    printed = " ".join(capsys.readouterr().out.split())  # rich wraps long lines
    assert f"Prometheus {stack.prometheus_url} over the last 60s" in printed
    assert "fallbacks: 0" in printed
