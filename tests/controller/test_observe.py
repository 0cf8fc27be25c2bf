"""Services and EndpointSlices → region observations (plain functions, no kopf)."""

from __future__ import annotations

from controller.index import ClusterIndex
from controller.observe import service_endpoint, service_port, service_summary, slice_summary
from order_contracts.labels import COMPONENT_FOLLOWER
from order_contracts.routing import RegionObservation
from tests.controller.conftest import NAMESPACE, endpoint_slice, service

HCM = "orders-warehouse-hcm"


def test_should_build_the_url_from_the_port_named_http():
    body = service("HCM")
    body["spec"]["ports"] = [{"name": "metrics", "port": 9100}, {"name": "http", "port": 8080}]
    summary = service_summary(body)
    assert summary is not None
    assert summary.url == f"http://{HCM}.{NAMESPACE}.svc:8080"


def test_should_build_an_https_url_from_the_port_named_https():
    # the chart names the port so with tls.enabled (docs/tls.md#in-the-chart)
    body = service("HCM", port_name="https")
    body["spec"]["ports"].insert(0, {"name": "metrics", "port": 9100})
    summary = service_summary(body)
    assert summary is not None
    assert summary.url == f"https://{HCM}.{NAMESPACE}.svc:8000"
    follower = service_summary(service("HCM", port_name="https", component=COMPONENT_FOLLOWER))
    assert follower is not None
    assert follower.url == f"https://orders-follower-hcm.{NAMESPACE}.svc:8000"


def test_should_prefer_the_https_port_when_both_are_named():
    body = service("HCM")
    body["spec"]["ports"].append({"name": "https", "port": 8443})
    assert service_endpoint(body) == ("https", 8443)
    assert service_port(body) == 8443


def test_should_stay_plain_http_for_a_first_port_of_another_name():
    body = service("HCM", port_name="web")
    assert service_endpoint(body) == ("http", 8000)
    summary = service_summary(body)
    assert summary is not None and summary.url.startswith("http://")


def test_should_use_the_first_port_when_none_is_named_http():
    body = service("HCM", port_name="web")
    body["spec"]["ports"].append({"name": "other", "port": 9000})
    assert service_port(body) == 8000


def test_should_fall_back_to_the_warehouse_port_without_ports():
    body = service("HCM")
    del body["spec"]["ports"]
    assert service_port(body) == 8000


def test_should_normalize_the_region_label():
    summary = service_summary(service("hcm", name=HCM))
    assert summary is not None and summary.region == "HCM"


def test_should_ignore_services_without_the_warehouse_labels():
    body = service("HCM")
    del body["metadata"]["labels"]["app.kubernetes.io/component"]
    assert service_summary(body) is None


def test_should_count_only_ready_endpoints():
    summary = slice_summary(endpoint_slice(HCM, ready=2, not_ready=3))
    assert summary is not None and len(summary.ready) == 2


def test_should_count_an_endpoint_without_a_ready_condition_as_ready():
    body = endpoint_slice(HCM, ready=1)
    del body["endpoints"][0]["conditions"]
    summary = slice_summary(body)
    assert summary is not None and len(summary.ready) == 1


def test_should_count_a_pod_in_two_slices_once():
    index = ClusterIndex()
    index.apply_service("ADDED", service("HCM"))
    first = endpoint_slice(HCM, ready=2)
    second = endpoint_slice(HCM, ready=1)
    second["metadata"]["name"] = f"{HCM}-other"
    index.apply_slice("ADDED", first)
    index.apply_slice("ADDED", second)
    assert index.observations()[0].ready_endpoints == 2


def test_should_add_up_ready_endpoints_across_a_services_slices():
    index = ClusterIndex()
    index.apply_service(None, service("HCM"))
    first = endpoint_slice(HCM, ready=2)
    second = endpoint_slice(HCM, ready=0)
    second["metadata"]["name"] = f"{HCM}-other"
    second["endpoints"] = [
        {"addresses": ["10.0.1.1"], "conditions": {"ready": True}, "targetRef": {"name": "p9"}}
    ]
    index.apply_slice(None, first)
    index.apply_slice(None, second)
    assert index.observations() == [
        RegionObservation("HCM", f"http://{HCM}.{NAMESPACE}.svc:8000", 3)
    ]


def test_should_prefer_the_clusterip_service_over_a_headless_one_for_a_region():
    index = ClusterIndex()
    headless = service("HCM", name="a-headless")
    headless["spec"]["clusterIP"] = "None"
    index.apply_service("ADDED", headless)
    index.apply_service("ADDED", service("HCM", name="z-clusterip"))
    assert index.observations()[0].url.startswith("http://z-clusterip.")


def test_should_report_a_change_only_when_observations_change():
    index = ClusterIndex()
    assert index.apply_service("ADDED", service("HCM")) is True
    assert index.apply_service("MODIFIED", service("HCM")) is False
    assert index.apply_slice("ADDED", endpoint_slice(HCM, ready=1)) is True
    assert index.apply_slice("MODIFIED", endpoint_slice(HCM, ready=1, not_ready=1)) is False


def test_should_forget_a_service_relabelled_out_of_the_warehouse_set():
    index = ClusterIndex()
    index.apply_service("ADDED", service("HCM"))
    relabelled = service("HCM")
    relabelled["metadata"]["labels"] = {}
    assert index.apply_service("MODIFIED", relabelled) is True
    assert index.observations() == []


def test_should_forget_deleted_objects():
    index = ClusterIndex()
    index.apply_service("ADDED", service("HCM"))
    index.apply_slice("ADDED", endpoint_slice(HCM, ready=1))
    index.apply_slice("DELETED", endpoint_slice(HCM, ready=1))
    assert index.observations()[0].ready_endpoints == 0
    index.apply_service("DELETED", service("HCM"))
    assert index.observations() == []


def test_should_drop_what_a_fresh_listing_no_longer_has():
    index = ClusterIndex()
    index.apply_service("ADDED", service("HCM"))
    index.apply_service("ADDED", service("HN"))
    assert index.replace([service("HN")], []) is True
    assert [o.region for o in index.observations()] == ["HN"]


def test_should_keep_events_that_arrive_while_a_listing_is_fetched():
    index = ClusterIndex()
    index.apply_service("ADDED", service("HCM"))
    index.begin_listing()
    index.apply_slice("ADDED", endpoint_slice(HCM, ready=1))  # newer than the listing below
    index.replace([service("HCM")], [])
    assert index.observations()[0].ready_endpoints == 1


def test_should_replay_events_during_a_listing_in_arrival_order():
    index = ClusterIndex()
    index.begin_listing()
    index.apply_slice("MODIFIED", endpoint_slice(HCM, ready=0))
    index.apply_slice("MODIFIED", endpoint_slice(HCM, ready=2))
    index.replace([service("HCM")], [endpoint_slice(HCM, ready=1)])
    assert index.observations()[0].ready_endpoints == 2


FOLLOWER = "orders-follower-hcm"


def test_should_list_a_serving_follower_as_a_read_url_never_as_the_write_url():
    index = ClusterIndex()
    index.apply_service("ADDED", service("HCM"))
    index.apply_slice("ADDED", endpoint_slice(HCM, ready=1))
    index.apply_service("ADDED", service("HCM", component=COMPONENT_FOLLOWER))
    index.apply_service(
        "ADDED", service("HCM", FOLLOWER + "-headless", component=COMPONENT_FOLLOWER, headless=True)
    )
    index.apply_slice("ADDED", endpoint_slice(FOLLOWER, ready=1))
    index.apply_slice("ADDED", endpoint_slice(FOLLOWER + "-headless", ready=1))
    assert index.observations() == [
        RegionObservation(
            "HCM",
            f"http://{HCM}.{NAMESPACE}.svc:8000",
            1,
            (f"http://{FOLLOWER}.{NAMESPACE}.svc:8000",),
        )
    ]


def test_should_leave_out_a_follower_without_ready_endpoints():
    index = ClusterIndex()
    index.apply_service("ADDED", service("HCM"))
    index.apply_service("ADDED", service("HCM", component=COMPONENT_FOLLOWER))
    index.apply_slice("ADDED", endpoint_slice(FOLLOWER, ready=0, not_ready=1))
    assert index.observations()[0].read_urls == ()


def test_should_not_make_a_region_of_a_follower_alone():
    index = ClusterIndex()
    index.apply_service("ADDED", service("HCM", component=COMPONENT_FOLLOWER))
    index.apply_slice("ADDED", endpoint_slice(FOLLOWER, ready=1))
    assert index.observations() == []
