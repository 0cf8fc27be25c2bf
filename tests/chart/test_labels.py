"""The chart's names are the contracts package's names (dags/order_contracts/labels.py).

The chart hardcodes them in templates/_helpers.tpl; these tests fail when either side changes
alone, which would otherwise silently detach the controller or the DAG from the warehouses.
"""

from __future__ import annotations

from order_contracts.labels import (
    COMPONENT_LABEL,
    COMPONENT_WAREHOUSE,
    PART_OF,
    PART_OF_LABEL,
    REGION_LABEL,
    ROUTING_CONFIGMAP,
    ROUTING_KEY,
    WAREHOUSE_PORT,
    WAREHOUSE_SELECTOR,
)
from order_contracts.routing import RoutingDocument

from .helpers import by_kind, render_chart


def _selector(text: str) -> dict[str, str]:
    """Kubernetes equality selector syntax ``a=b,c=d`` as a dict."""
    return dict(part.split("=", 1) for part in text.split(","))


def test_warehouse_services_carry_the_component_and_region_labels():
    docs = render_chart(show_only=["templates/warehouse-service.yaml"])
    assert docs
    for svc in docs:
        labels = svc["metadata"]["labels"]
        assert labels[COMPONENT_LABEL] == COMPONENT_WAREHOUSE
        assert labels[REGION_LABEL] == svc["metadata"]["name"].rsplit("-", 1)[1].upper()
        assert labels[PART_OF_LABEL] == PART_OF
        assert svc["spec"]["ports"][0]["port"] == WAREHOUSE_PORT


def test_the_controllers_selector_finds_exactly_the_warehouse_services():
    docs = render_chart()
    selector = _selector(WAREHOUSE_SELECTOR)
    matched = [
        svc["metadata"]["name"]
        for svc in by_kind(docs, "Service")
        if selector.items() <= svc["metadata"]["labels"].items()
    ]
    assert sorted(matched) == ["orders-warehouse-dn", "orders-warehouse-hcm", "orders-warehouse-hn"]


def test_routing_configmap_has_the_contract_name_and_key():
    (configmap,) = render_chart(show_only=["templates/routing-configmap.yaml"])
    assert configmap["metadata"]["name"] == ROUTING_CONFIGMAP
    assert list(configmap["data"]) == [ROUTING_KEY]


def test_initial_routing_document_is_valid_and_has_no_ready_region():
    (configmap,) = render_chart(show_only=["templates/routing-configmap.yaml"])
    document = RoutingDocument.from_json(configmap["data"][ROUTING_KEY])
    assert document.generation == 0
    assert document.ready_regions() == []


def test_controller_is_told_the_contract_configmap_name():
    (deployment,) = render_chart(show_only=["templates/controller-deployment.yaml"])
    env = {
        e["name"]: e.get("value")
        for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["ROUTING_CONFIGMAP"] == ROUTING_CONFIGMAP


def test_the_controllers_own_parser_reads_one_region_per_warehouse_service():
    from controller.observe import observations, service_summary

    # the API server fills in the namespace the release is installed into
    services = [
        {**svc, "metadata": {**svc["metadata"], "namespace": "orders"}}
        for svc in by_kind(render_chart(), "Service")
    ]
    summaries = [s for s in map(service_summary, services) if s is not None]
    found = {obs.region: obs.url for obs in observations(summaries, [])}
    assert found == {
        region: f"http://orders-warehouse-{region.lower()}.orders.svc:{WAREHOUSE_PORT}"
        for region in ("HCM", "HN", "DN")
    }
