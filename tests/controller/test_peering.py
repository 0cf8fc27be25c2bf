"""Leader election with kopf peering: one replica writes, the other takes over when it goes.

Operators run as real kopf operators, each in its own thread and event loop; the crashed leader
is a real ``warehouse-controller`` process killed with SIGKILL, so its peering record goes
stale exactly as in a cluster.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest

from localmode.processes import ManagedProcess, free_port, http_ok
from tests.controller.conftest import (
    NAMESPACE,
    PEERING,
    PEERINGS,
    PROXIMITY,
    SERVICES,
    SLICES,
    Cluster,
    OperatorThread,
    endpoint_slice,
    eventually,
    service,
)

pytestmark = pytest.mark.asyncio

REGIONS = {"HCM": "orders-warehouse-hcm", "HN": "orders-warehouse-hn", "DN": "orders-warehouse-dn"}
PATCHED = {"outcome": "patched"}
RECONCILIATIONS = "warehouse_controller_reconciliations_total"


async def three_regions(cluster: Cluster) -> None:
    for region, name in REGIONS.items():
        await cluster.create(SERVICES, service(region))
        await cluster.create(SLICES, endpoint_slice(name, 1))


async def set_ready(cluster: Cluster, region: str, ready: int) -> None:
    name = REGIONS[region]
    endpoints = endpoint_slice(name, ready, not_ready=2 - ready)["endpoints"]
    await cluster.patch(SLICES, f"{name}-abcde", {"endpoints": endpoints})


def ready_endpoints(cluster: Cluster, region: str, count: int):  # type: ignore[no-untyped-def]
    def check() -> bool:
        document = cluster.routing()
        return document is not None and document.regions[region].ready_endpoints == count

    return check


def watch_requests(cluster: Cluster) -> int:
    return min(len(cluster.mock[SERVICES, "watch"]), len(cluster.mock[SLICES, "watch"]))


async def metric_is(operator: OperatorThread, name: str, value: float, **labels: str) -> None:
    """Metrics move just after the write the test saw land: wait for them, too."""

    async def check() -> bool:
        return await operator.metric(name, **labels) == value

    await eventually(check, what=f"{name}{labels} = {value} on {operator.config.priority}")


async def leader_is(operator: OperatorThread, value: float) -> None:
    async def check() -> bool:
        return await operator.metric("warehouse_controller_leader") == value

    await eventually(check, what=f"operator {operator.config.priority} leader gauge = {value}")


async def resumed_watching(cluster: Cluster, before: int) -> None:
    """The resumed operator opened new watches (after the stopped one's streams closed)."""
    await eventually(lambda: watch_requests(cluster) > before, what="new watch requests")
    await cluster.watches_open(1)


async def test_should_let_only_the_higher_priority_operator_write(cluster, operators):
    await three_regions(cluster)
    high = await operators(priority=200)
    await eventually(ready_endpoints(cluster, "DN", 1), what="the first document")
    await cluster.watches_open(1)

    low = await operators(priority=100)
    await leader_is(low, 0)
    await set_ready(cluster, "DN", 0)

    await eventually(ready_endpoints(cluster, "DN", 0), what="DN down in the document")
    await metric_is(high, RECONCILIATIONS, 1, **PATCHED)
    assert await low.metric(RECONCILIATIONS, **PATCHED) == 0
    assert cluster.watchers(SERVICES) == 1  # the paused operator does not even watch


async def test_should_hand_over_when_the_leader_stops(cluster, operators):
    await three_regions(cluster)
    high = await operators(priority=200)
    await eventually(ready_endpoints(cluster, "DN", 1), what="the first document")
    low = await operators(priority=100)
    await leader_is(low, 0)

    watches = watch_requests(cluster)
    await high.stop()
    await leader_is(low, 1)
    await resumed_watching(cluster, watches)
    await set_ready(cluster, "HN", 0)

    await eventually(ready_endpoints(cluster, "HN", 0), what="the standby to record HN down")
    await metric_is(low, RECONCILIATIONS, 1, **PATCHED)


async def test_should_pause_when_a_higher_priority_operator_starts(cluster, operators):
    await three_regions(cluster)
    low = await operators(priority=100)
    await eventually(ready_endpoints(cluster, "DN", 1), what="the first document")
    await leader_is(low, 1)

    high = await operators(priority=200)
    await leader_is(low, 0)
    await leader_is(high, 1)
    await cluster.watches_open(1)
    await set_ready(cluster, "HCM", 0)

    await eventually(ready_endpoints(cluster, "HCM", 0), what="HCM down in the document")
    await metric_is(high, RECONCILIATIONS, 1, **PATCHED)
    assert await low.metric(RECONCILIATIONS, **PATCHED) == 0


def controller_process(tmp_path: Path, kubeconfig: Path, priority: int, lifetime: int):
    """A real ``warehouse-controller`` process (not started) and its metrics URL."""
    port = free_port()
    script = Path(sys.executable).parent / "warehouse-controller"
    process = ManagedProcess(
        f"controller-{priority}",
        [str(script)] if script.exists() else [sys.executable, "-m", "controller.cli"],
        tmp_path / f"controller-{priority}.log",
        env={
            "KUBECONFIG": str(kubeconfig),
            "CONTROLLER_NAMESPACE": NAMESPACE,
            "CONTROLLER_PEERING": PEERING,
            "CONTROLLER_PRIORITY": str(priority),
            "CONTROLLER_PEERING_LIFETIME": str(lifetime),
            "CONTROLLER_RESYNC_SECONDS": "0.3",
            "ORDER_PROXIMITY": PROXIMITY,
            "METRICS_PORT": str(port),
            "POD_NAME": f"controller-{priority}-pod",
        },
    )
    return process, f"http://127.0.0.1:{port}/metrics"


async def test_should_take_over_from_a_crashed_leader_after_its_lifetime(
    cluster, operators, kubeconfig, tmp_path
):
    lifetime = 3
    await three_regions(cluster)
    standby = await operators(priority=100, peering_lifetime=lifetime)
    await eventually(ready_endpoints(cluster, "DN", 1), what="the first document")
    leader, leader_metrics = controller_process(tmp_path, kubeconfig, 1000, lifetime)
    leader.start()
    try:
        await eventually(
            lambda: asyncio.to_thread(http_ok, leader_metrics),
            timeout=30,
            what=f"the leader process's metrics (log: {leader.log_path})",
        )
        await leader_is(standby, 0)
        await cluster.watches_open(1)
        await set_ready(cluster, "DN", 0)
        await eventually(ready_endpoints(cluster, "DN", 0), what="the leader process's write")
        assert await standby.metric(RECONCILIATIONS, **PATCHED) == 0
        peers = (cluster.object(PEERINGS, PEERING) or {}).get("status", {})
        assert peers["controller-1000-pod"]["priority"] == 1000  # named after its pod

        watches = watch_requests(cluster)
        leader.kill()  # SIGKILL: no goodbye, its peering record stays until it expires
        killed_at = time.monotonic()
        await leader_is(standby, 1)
        await resumed_watching(cluster, watches)
        took_over_after = time.monotonic() - killed_at
        await set_ready(cluster, "DN", 2)
        await eventually(ready_endpoints(cluster, "DN", 2), what="the standby's write")
    finally:
        leader.kill()
    await metric_is(standby, RECONCILIATIONS, 1, **PATCHED)
    assert took_over_after < lifetime + 5
    assert "routing generation 1 -> 2: DN ready(1) -> NOT READY(0)" in leader.tail(200)
