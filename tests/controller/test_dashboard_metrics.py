"""The Grafana dashboard's controller panels name metrics a running controller really exports.

tests/localmode/test_grafana_dashboard.py runs every panel in a real Prometheus against live
nodes and the routing source, but takes the controller's names from its registry (the controller
needs the emulated Kubernetes API, served from an asyncio loop). Here the real operator runs
against kmock on three regions; once it wrote the first routing document and its per-region
gauges, every ``warehouse_controller_*`` name the dashboard uses must be a sample name of its
live ``/metrics`` (so a labelled series that only appears after a reconcile counts only once it
did appear).
"""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.controller.conftest import SERVICES, SLICES, Cluster, endpoint_slice, eventually, service
from tests.localmode.test_grafana_dashboard import dashboard_expressions, metric_names

pytestmark = pytest.mark.asyncio


def sample_names(text: str) -> set[str]:
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}


async def test_every_controller_metric_of_the_dashboard_is_exported_live(
    cluster: Cluster, operators
) -> None:
    used = {
        name
        for _, expr in dashboard_expressions()
        for name in metric_names(expr)
        if name.startswith("warehouse_controller_")
    }
    # what the panels need: readiness, reconciles, errors, leader, duration
    assert {
        "warehouse_controller_region_ready",
        "warehouse_controller_reconciliations_total",
        "warehouse_controller_errors_total",
        "warehouse_controller_leader",
        "warehouse_controller_reconcile_duration_seconds_bucket",
    } <= used
    for region in ("HCM", "HN", "DN"):
        await cluster.create(SERVICES, service(region))
        await cluster.create(SLICES, endpoint_slice(f"orders-warehouse-{region.lower()}", 1))
    operator = await operators()

    async def missing() -> set[str]:
        return used - sample_names(await operator.text())

    async def none_missing() -> bool:
        return not await missing()

    try:
        await eventually(
            none_missing, 30.0, what="every dashboard metric on the controller's /metrics"
        )
    except AssertionError:
        pytest.fail(f"the controller does not export {sorted(await missing())}")
