"""Building the routing document and deciding with it."""

from datetime import UTC, datetime

import pytest

from order_contracts.health import Health
from order_contracts.regions import parse_proximity
from order_contracts.routing import (
    NoWarehouseAvailable,
    RegionObservation,
    RoutingDocument,
    assign_warehouse,
    build_routing_document,
)

PROXIMITY = parse_proximity("HCM=DN,HN;HN=DN,HCM;DN=HN+HCM")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def observe(**ready: int) -> list[RegionObservation]:
    return [RegionObservation(r, f"http://{r.lower()}:8000", n) for r, n in ready.items()]


def health(region: str, status: str = "ok", load: float = 0.0) -> Health:
    return Health(
        status=status,
        region=region,
        orders=0,
        in_flight=0,
        recent_rps=0.0,
        load=load,
        version="test",
    )


def probe_from(table: dict[str, Health | None]):
    return lambda region, url: table.get(region)


def test_document_has_the_design_shape():
    doc = build_routing_document(observe(HCM=1, HN=1, DN=1), PROXIMITY, now=T0)
    data = __import__("json").loads(doc.to_json())
    assert data["version"] == 1
    assert data["generation"] == 1
    assert data["regions"]["HCM"] == {
        "url": "http://hcm:8000",
        "ready": True,
        "readyEndpoints": 1,
        "fallback": ["DN", "HN"],
        "proximityRank": {"DN": 1, "HN": 2},
        "readUrls": [],
    }
    assert RoutingDocument.from_json(doc.to_json()) == doc


def test_generation_moves_only_when_content_changes():
    first = build_routing_document(observe(HCM=1, HN=1, DN=1), PROXIMITY, now=T0)
    same = build_routing_document(observe(HCM=1, HN=1, DN=1), PROXIMITY, previous=first)
    changed = build_routing_document(observe(HCM=1, HN=1, DN=0), PROXIMITY, previous=first)
    assert same is first
    assert changed.generation == 2
    assert changed.regions["DN"].ready is False


def test_fallback_lists_ready_regions_first():
    doc = build_routing_document(observe(HCM=1, HN=1, DN=0), PROXIMITY, now=T0)
    assert doc.regions["HCM"].fallback == ["HN", "DN"]


def test_home_region_wins_when_healthy():
    doc = build_routing_document(observe(HCM=1, HN=1, DN=1), PROXIMITY, now=T0)
    a = assign_warehouse(doc, "hcm", probe_from({"HCM": health("HCM")}))
    assert (a.region, a.fallback_used) == ("HCM", False)


def test_unreachable_home_falls_back_to_nearest_healthy():
    doc = build_routing_document(observe(HCM=1, HN=1, DN=1), PROXIMITY, now=T0)
    a = assign_warehouse(doc, "HCM", probe_from({"HN": health("HN"), "DN": health("DN")}))
    assert (a.region, a.fallback_used) == ("DN", True)
    assert "HCM unreachable" in a.reason


def test_equally_near_fallbacks_are_chosen_by_load():
    doc = build_routing_document(observe(HCM=1, HN=1, DN=1), PROXIMITY, now=T0)
    probe = probe_from(
        {"DN": health("DN", "down"), "HN": health("HN", load=0.9), "HCM": health("HCM", load=0.1)}
    )
    assert assign_warehouse(doc, "DN", probe).region == "HCM"


def test_degraded_node_is_the_last_resort():
    doc = build_routing_document(observe(HCM=1, HN=0, DN=0), PROXIMITY, now=T0)
    a = assign_warehouse(doc, "HCM", probe_from({"HCM": health("HCM", "degraded")}))
    assert a.region == "HCM"
    assert "degraded" in a.reason


def test_no_warehouse_names_every_region():
    doc = build_routing_document(observe(HCM=0, HN=1, DN=1), PROXIMITY, now=T0)
    with pytest.raises(NoWarehouseAvailable, match=r"HCM not ready.*DN unreachable"):
        assign_warehouse(doc, "HCM", probe_from({}))
    with pytest.raises(NoWarehouseAvailable, match="not in the routing document"):
        assign_warehouse(doc, "SG", probe_from({}))
