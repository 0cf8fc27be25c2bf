"""Contract: what the controller writes is what the DAG's routing code reads and decides with."""

from __future__ import annotations

import asyncio

import pytest

from order_contracts.health import Health
from order_contracts.labels import ROUTING_CONFIGMAP
from order_contracts.routing import assign_warehouse
from order_contracts.source import load_routing_document
from tests.controller.conftest import (
    NAMESPACE,
    SERVICES,
    SLICES,
    endpoint_slice,
    eventually,
    service,
)

pytestmark = pytest.mark.asyncio


def healthy(region: str, url: str) -> Health:
    return Health(
        status="ok", region=region, orders=0, in_flight=0, recent_rps=0.0, load=0.0, version="t"
    )


async def test_should_route_with_the_configmap_the_controller_wrote(cluster, operators):
    for region, ready in (("HCM", 0), ("HN", 1), ("DN", 1)):
        name = f"orders-warehouse-{region.lower()}"
        await cluster.create(SERVICES, service(region))
        await cluster.create(SLICES, endpoint_slice(name, ready, not_ready=1))
    await operators()
    await eventually(lambda: cluster.routing() is not None, what="the routing ConfigMap")

    # The DAG's loader, through the Kubernetes API (kmock's kubeconfig), in a thread: the
    # client is synchronous and the emulated API server runs on this test's event loop.
    document = await asyncio.to_thread(
        load_routing_document, f"configmap:{NAMESPACE}/{ROUTING_CONFIGMAP}"
    )
    assert document == cluster.routing()

    home = assign_warehouse(document, "HN", healthy)
    assert (home.region, home.url, home.fallback_used) == (
        "HN",
        f"http://orders-warehouse-hn.{NAMESPACE}.svc:8000",
        False,
    )
    # HCM has no ready endpoint: its nearest region, DN, takes the order.
    fallback = assign_warehouse(document, "HCM", healthy)
    assert (fallback.region, fallback.fallback_used) == ("DN", True)
