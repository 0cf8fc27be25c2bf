"""Contract: the DAG's routing source reads the ConfigMap exactly as the real controller writes it.

The controller's own reconciler (``controller.reconciler.Reconciler``) writes the
``warehouse-routing`` ConfigMap into kmock's Kubernetes emulator from Services and
EndpointSlices; the DAG's reader (``order_contracts.source`` with ``configmap:NS/NAME``, the
official kubernetes client) reads it back and the routing decision acts on it.
"""

from __future__ import annotations

import asyncio

import pytest

from controller.configmap import WriteOutcome
from controller.kube import KubeApi
from controller.metrics import Metrics
from controller.reconciler import Reconciler
from order_contracts.health import Health
from order_contracts.labels import ROUTING_CONFIGMAP
from order_contracts.routing import assign_warehouse
from order_contracts.source import load_routing_document
from tests.controller.conftest import (
    NAMESPACE,
    SERVICES,
    SLICES,
    Cluster,
    controller_config,
    endpoint_slice,
    service,
)

pytestmark = pytest.mark.asyncio


def healthy(region: str, url: str) -> Health:
    return Health(
        status="ok", region=region, orders=0, in_flight=0, recent_rps=0.0, load=0.0, version="t"
    )


async def test_the_dag_routes_with_the_configmap_the_controller_wrote(cluster: Cluster) -> None:
    # HCM has no ready endpoint; HN and DN have one each.
    for region, ready in (("HCM", 0), ("HN", 1), ("DN", 1)):
        await cluster.create(SERVICES, service(region))
        name = f"orders-warehouse-{region.lower()}"
        await cluster.create(SLICES, endpoint_slice(name, ready, not_ready=1))
    api = KubeApi(NAMESPACE)
    try:
        reconciler = Reconciler(controller_config(), api, Metrics())
        await reconciler.resync()
        assert await reconciler.reconcile() == WriteOutcome.CREATED
    finally:
        api.close()

    source = f"configmap:{NAMESPACE}/{ROUTING_CONFIGMAP}"
    document = await asyncio.to_thread(load_routing_document, source)

    assert document == cluster.routing()
    assert document.regions["HCM"].ready is False
    decision = assign_warehouse(document, "HCM", healthy)
    assert (decision.region, decision.fallback_used) == ("DN", True)
    assert decision.url == f"http://orders-warehouse-dn.{NAMESPACE}.svc:8000"
    assert "HCM not ready" in decision.reason
