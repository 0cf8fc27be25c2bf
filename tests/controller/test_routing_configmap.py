"""The real operator keeps the routing ConfigMap true as Services and EndpointSlices change."""

from __future__ import annotations

import json
import logging

import pytest

from order_contracts.labels import COMPONENT_FOLLOWER, ROUTING_CONFIGMAP, ROUTING_KEY
from tests.chart.helpers import render_chart
from tests.chart.test_replication import REPLICATED
from tests.chart.test_tls import CERT_MANAGER
from tests.controller.conftest import (
    CONFIGMAPS,
    NAMESPACE,
    SERVICES,
    SLICES,
    Cluster,
    endpoint_slice,
    eventually,
    service,
)

pytestmark = pytest.mark.asyncio

HCM, HN, DN = "orders-warehouse-hcm", "orders-warehouse-hn", "orders-warehouse-dn"


async def three_regions(cluster: Cluster, hcm: int = 2, hn: int = 1, dn: int = 1) -> None:
    for region, name, ready in (("HCM", HCM, hcm), ("HN", HN, hn), ("DN", DN, dn)):
        await cluster.create(SERVICES, service(region))
        await cluster.create(SLICES, endpoint_slice(name, ready, not_ready=1))


def generation_is(cluster: Cluster, generation: int):  # type: ignore[no-untyped-def]
    def check() -> bool:
        document = cluster.routing()
        return document is not None and document.generation == generation

    return check


async def test_should_write_the_document_for_services_and_their_slices(cluster, operators):
    await three_regions(cluster)
    await operators()

    await eventually(generation_is(cluster, 1), what="the first routing document")
    document = cluster.routing()
    assert document is not None
    assert {name: route.model_dump(by_alias=True) for name, route in document.regions.items()} == {
        "DN": {
            "url": f"http://{DN}.{NAMESPACE}.svc:8000",
            "ready": True,
            "readyEndpoints": 1,
            "fallback": ["HN", "HCM"],
            "proximityRank": {"HN": 1, "HCM": 2},
            "readUrls": [],
        },
        "HCM": {
            "url": f"http://{HCM}.{NAMESPACE}.svc:8000",
            "ready": True,
            "readyEndpoints": 2,
            "fallback": ["DN", "HN"],
            "proximityRank": {"DN": 1, "HN": 2},
            "readUrls": [],
        },
        "HN": {
            "url": f"http://{HN}.{NAMESPACE}.svc:8000",
            "ready": True,
            "readyEndpoints": 1,
            "fallback": ["DN", "HCM"],
            "proximityRank": {"DN": 1, "HCM": 2},
            "readUrls": [],
        },
    }


async def test_should_mark_a_region_without_ready_endpoints_not_ready(cluster, operators, caplog):
    caplog.set_level(logging.INFO, logger="controller")
    await three_regions(cluster)
    await operators()
    await eventually(generation_is(cluster, 1), what="the first routing document")
    await cluster.watches_open()

    await cluster.patch(SLICES, f"{DN}-abcde", {"endpoints": endpoint_slice(DN, 0, 2)["endpoints"]})

    await eventually(generation_is(cluster, 2), what="generation 2 after DN lost its endpoints")
    document = cluster.routing()
    assert document is not None
    assert (document.regions["DN"].ready, document.regions["DN"].ready_endpoints) == (False, 0)
    # DN is HCM's and HN's nearest region, but a not-ready region goes behind the ready ones.
    assert document.regions["HCM"].fallback == ["HN", "DN"]
    assert document.regions["HN"].fallback == ["HCM", "DN"]
    line = (
        "routing generation 1 -> 2: DN ready(1) -> NOT READY(0); HCM ready(2) -> ready(2); "
        "HN ready(1) -> ready(1) (ConfigMap orders/warehouse-routing patched)"
    )
    await eventually(lambda: line in caplog.messages, what="the routing change log line")


async def test_should_mark_a_region_ready_again_when_endpoints_return(cluster, operators):
    await three_regions(cluster, dn=0)
    await operators()
    await eventually(generation_is(cluster, 1), what="the first routing document")
    await cluster.watches_open()

    await cluster.patch(SLICES, f"{DN}-abcde", {"endpoints": endpoint_slice(DN, 2)["endpoints"]})

    await eventually(generation_is(cluster, 2), what="generation 2 after DN came back")
    document = cluster.routing()
    assert document is not None
    assert (document.regions["DN"].ready, document.regions["DN"].ready_endpoints) == (True, 2)
    assert document.regions["HCM"].fallback == ["DN", "HN"]


async def test_should_drop_a_region_whose_service_is_deleted(cluster, operators):
    await three_regions(cluster)
    await operators()
    await eventually(generation_is(cluster, 1), what="the first routing document")
    await cluster.watches_open()

    await cluster.delete(SERVICES, HN)

    await eventually(generation_is(cluster, 2), what="generation 2 after HN's Service went")
    document = cluster.routing()
    assert document is not None
    assert sorted(document.regions) == ["DN", "HCM"]
    assert document.regions["HCM"].fallback == ["DN"]


async def test_should_add_a_region_whose_service_appears(cluster, operators):
    await operators()
    await cluster.watches_open()

    await cluster.create(SERVICES, service("HN"))
    await cluster.create(SLICES, endpoint_slice(HN, 1))

    def hn_ready() -> bool:
        document = cluster.routing()
        return (
            document is not None and "HN" in document.regions and document.ready_regions() == ["HN"]
        )

    await eventually(hn_ready, what="HN in the document, ready")


async def test_should_repair_a_hand_edited_document(cluster, operators):
    await three_regions(cluster)
    await operators()
    await eventually(generation_is(cluster, 1), what="the first routing document")
    original = cluster.routing()
    assert original is not None
    edited = json.loads(original.to_json())
    edited["regions"]["HCM"]["ready"] = False
    edited["generation"] = 7

    await cluster.patch(CONFIGMAPS, ROUTING_CONFIGMAP, {"data": {ROUTING_KEY: json.dumps(edited)}})

    await eventually(generation_is(cluster, 8), what="the edit repaired as generation 8")
    repaired = cluster.routing()
    assert repaired is not None
    assert repaired.regions == original.regions


async def test_should_repair_a_document_broken_by_hand(cluster, operators):
    await three_regions(cluster)
    await operators()
    await eventually(generation_is(cluster, 1), what="the first routing document")

    await cluster.patch(CONFIGMAPS, ROUTING_CONFIGMAP, {"data": {ROUTING_KEY: "not json"}})

    await eventually(generation_is(cluster, 2), what="the broken document rewritten")
    repaired = cluster.routing()
    assert repaired is not None
    assert repaired.ready_regions() == ["DN", "HCM", "HN"]


async def test_should_recreate_a_deleted_configmap_with_a_higher_generation(cluster, operators):
    await three_regions(cluster)
    await operators()
    await eventually(generation_is(cluster, 1), what="the first routing document")

    await cluster.delete(CONFIGMAPS, ROUTING_CONFIGMAP)

    await eventually(generation_is(cluster, 2), what="the ConfigMap recreated")


async def test_should_not_rewrite_when_nothing_changed(cluster, operators):
    await three_regions(cluster)
    operator = await operators()
    await eventually(generation_is(cluster, 1), what="the first routing document")
    await cluster.watches_open()
    writes = cluster.configmap_writes()
    text = cluster.routing_text()
    passes = await operator.metric(
        "warehouse_controller_reconciliations_total", outcome="unchanged"
    )

    # Same number of ready endpoints, different pod: nothing routing-relevant changed.
    moved = endpoint_slice(DN, 1)["endpoints"]
    moved[0]["targetRef"]["name"] = "moved-pod"
    await cluster.patch(SLICES, f"{DN}-abcde", {"endpoints": moved})
    await cluster.patch(SERVICES, HCM, {"metadata": {"annotations": {"note": "irrelevant"}}})

    async def several_unchanged_passes() -> bool:
        value = await operator.metric(
            "warehouse_controller_reconciliations_total", outcome="unchanged"
        )
        return value >= passes + 3

    await eventually(several_unchanged_passes, what="three more reconciliations")
    assert cluster.configmap_writes() == writes
    assert cluster.routing_text() == text


async def test_should_export_metrics_of_the_document(cluster, operators):
    await three_regions(cluster, dn=0)
    operator = await operators()
    await eventually(generation_is(cluster, 1), what="the first routing document")

    async def gauges() -> tuple[float, float, float, float]:
        return (
            await operator.metric("warehouse_controller_routing_generation"),
            await operator.metric("warehouse_controller_ready_regions"),
            await operator.metric("warehouse_controller_reconciliations_total", outcome="created"),
            await operator.metric("warehouse_controller_errors_total"),
        )

    async def exported() -> bool:
        return await gauges() == (1.0, 2.0, 1.0, 0.0)

    await eventually(exported, what="generation 1, 2 ready regions, 1 creation, no errors")


async def test_should_export_per_region_readiness_and_reconcile_durations(cluster, operators):
    await three_regions(cluster)
    operator = await operators()
    await eventually(generation_is(cluster, 1), what="the first routing document")
    await cluster.watches_open()

    async def ready(region: str) -> float:
        return await operator.metric("warehouse_controller_region_ready", region=region)

    async def all_ready() -> bool:
        return [await ready(r) for r in ("HCM", "HN", "DN")] == [1.0, 1.0, 1.0]

    await eventually(all_ready, what="every region's readiness gauge at 1")
    passes = await operator.metric("warehouse_controller_reconcile_duration_seconds_count")
    assert passes >= 1

    await cluster.patch(SLICES, f"{DN}-abcde", {"endpoints": endpoint_slice(DN, 0, 2)["endpoints"]})

    async def dn_not_ready() -> bool:
        return [await ready(r) for r in ("HCM", "HN", "DN")] == [1.0, 1.0, 0.0]

    await eventually(dn_not_ready, what="DN's readiness gauge at 0, the others still 1")
    assert await operator.metric("warehouse_controller_reconcile_duration_seconds_count") > passes
    assert await operator.metric("warehouse_controller_reconcile_duration_seconds_sum") > 0

    await cluster.delete(SERVICES, HN)

    async def hn_gone() -> bool:
        return 'warehouse_controller_region_ready{region="HN"}' not in await operator.text()

    await eventually(hn_gone, what="HN's readiness series removed with its Service")


async def test_should_fill_read_urls_from_the_follower_service_while_it_serves(cluster, operators):
    follower = "orders-follower-hcm"
    await three_regions(cluster)
    await cluster.create(SERVICES, service("HCM", component=COMPONENT_FOLLOWER))
    await cluster.create(SLICES, endpoint_slice(follower, ready=1))
    await operators()

    read_url = f"http://{follower}.{NAMESPACE}.svc:8000"
    await eventually(
        lambda: (d := cluster.routing()) is not None and d.regions["HCM"].read_urls == [read_url],
        what="HCM's follower in readUrls",
    )
    document = cluster.routing()
    assert document is not None
    assert document.regions["HCM"].url == f"http://{HCM}.{NAMESPACE}.svc:8000"
    assert document.regions["HN"].read_urls == [] and document.regions["DN"].read_urls == []

    await cluster.patch(SLICES, f"{follower}-abcde", {"endpoints": []})
    await eventually(
        lambda: (d := cluster.routing()) is not None and d.regions["HCM"].read_urls == [],
        what="a follower without ready endpoints to leave readUrls",
    )
    after = cluster.routing()
    assert after is not None and after.generation > document.generation


async def test_should_publish_https_urls_for_the_charts_tls_services(cluster, operators):
    """The Services the chart renders with tls.enabled (port named https), as the API server
    would return them: the routing document's write and read URLs are https://."""
    rendered = render_chart(
        values={**REPLICATED, **CERT_MANAGER},
        show_only=["templates/warehouse-service.yaml", "templates/follower.yaml"],
    )
    names = []
    for doc in rendered:
        if doc["kind"] != "Service":
            continue
        name = doc["metadata"]["name"]
        meta = {**doc["metadata"], "namespace": NAMESPACE, "resourceVersion": "1", "uid": name}
        await cluster.create(SERVICES, {**doc, "metadata": meta})
        await cluster.create(SLICES, endpoint_slice(name, ready=1))
        names.append(name)
    assert sorted(names) == ["orders-follower-hcm", DN, HCM, HN]
    await operators()

    follower = f"https://orders-follower-hcm.{NAMESPACE}.svc:8000"
    await eventually(
        lambda: (d := cluster.routing()) is not None and d.regions["HCM"].read_urls == [follower],
        what="HCM's https follower in readUrls",
    )
    document = cluster.routing()
    assert document is not None
    assert {region: route.url for region, route in document.regions.items()} == {
        region: f"https://orders-warehouse-{region.lower()}.{NAMESPACE}.svc:8000"
        for region in ("HCM", "HN", "DN")
    }
