"""Warehouse shards: one StatefulSet, PVC template and Service per configured region."""

from __future__ import annotations

import jmespath
import pytest

from order_contracts.labels import WAREHOUSE_PORT
from order_contracts.regions import DEFAULT_REGIONS

from .helpers import by_kind, env_of, one, render_chart, render_error

WAREHOUSE_TEMPLATES = [
    "templates/warehouse-statefulset.yaml",
    "templates/warehouse-service.yaml",
]


def test_should_render_one_statefulset_and_service_per_default_region():
    docs = render_chart(show_only=WAREHOUSE_TEMPLATES)
    expected = sorted(f"orders-warehouse-{region.lower()}" for region in DEFAULT_REGIONS)
    assert sorted(d["metadata"]["name"] for d in by_kind(docs, "StatefulSet")) == expected
    assert sorted(d["metadata"]["name"] for d in by_kind(docs, "Service")) == expected


def test_should_follow_the_regions_value():
    docs = render_chart(
        values={"regions": [{"name": "sgn"}, {"name": "HPH"}]}, show_only=WAREHOUSE_TEMPLATES
    )
    names = sorted(d["metadata"]["name"] for d in by_kind(docs, "StatefulSet"))
    assert names == ["orders-warehouse-hph", "orders-warehouse-sgn"]
    sgn = one(docs, "StatefulSet", "orders-warehouse-sgn")
    env = env_of(sgn["spec"]["template"]["spec"]["containers"][0])
    assert env["NODE_REGION"] == "SGN"
    assert env["ORDER_REGIONS"] == "SGN,HPH"


def test_should_give_each_region_a_pvc_template_for_its_sqlite_file():
    docs = render_chart(show_only=["templates/warehouse-statefulset.yaml"])
    for sts in docs:
        claims = sts["spec"]["volumeClaimTemplates"]
        assert [c["metadata"]["name"] for c in claims] == ["data"]
        assert claims[0]["spec"]["resources"]["requests"]["storage"] == "1Gi"
        assert claims[0]["spec"]["accessModes"] == ["ReadWriteOnce"]
        mounts = jmespath.search("spec.template.spec.containers[0].volumeMounts", sts)
        assert {"name": "data", "mountPath": "/data"} in mounts
        assert env_of(sts["spec"]["template"]["spec"]["containers"][0])["DATA_DIR"] == "/data"
        assert sts["spec"]["replicas"] == 1


def test_should_apply_per_region_overrides():
    docs = render_chart(
        values={
            "regions": [
                {"name": "HCM", "storage": {"size": "5Gi", "storageClassName": "fast"}},
                {"name": "HN"},
            ],
        },
        show_only=["templates/warehouse-statefulset.yaml"],
    )
    hcm = one(docs, "StatefulSet", "orders-warehouse-hcm")
    hn = one(docs, "StatefulSet", "orders-warehouse-hn")
    assert jmespath.search("spec.volumeClaimTemplates[0].spec", hcm) == {
        "accessModes": ["ReadWriteOnce"],
        "storageClassName": "fast",
        "resources": {"requests": {"storage": "5Gi"}},
    }
    assert "storageClassName" not in hn["spec"]["volumeClaimTemplates"][0]["spec"]


def test_should_probe_health_on_the_http_port():
    (sts, *_) = render_chart(show_only=["templates/warehouse-statefulset.yaml"])
    container = sts["spec"]["template"]["spec"]["containers"][0]
    assert container["ports"] == [
        {"name": "http", "containerPort": WAREHOUSE_PORT, "protocol": "TCP"}
    ]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": "http"}
    assert env_of(container)["PORT"] == str(WAREHOUSE_PORT)


def test_should_set_requests_limits_and_a_drain_window():
    (sts, *_) = render_chart(show_only=["templates/warehouse-statefulset.yaml"])
    spec = sts["spec"]["template"]["spec"]
    resources = spec["containers"][0]["resources"]
    assert set(resources) == {"requests", "limits"}
    assert {"cpu", "memory"} <= set(resources["requests"])
    assert {"cpu", "memory"} <= set(resources["limits"])
    pause = int(spec["containers"][0]["lifecycle"]["preStop"]["exec"]["command"][1])
    drain = int(env_of(spec["containers"][0])["NODE_SHUTDOWN_GRACE"])
    # preStop pause, then uvicorn's drain, then slack before the kubelet's SIGKILL
    assert (pause, drain, spec["terminationGracePeriodSeconds"]) == (5, 30, 45)


def test_drain_time_follows_the_grace_period():
    (sts, *_) = render_chart(
        values={"warehouse": {"terminationGracePeriodSeconds": 120, "preStopSleepSeconds": 10}},
        show_only=["templates/warehouse-statefulset.yaml"],
    )
    assert env_of(sts["spec"]["template"]["spec"]["containers"][0])["NODE_SHUTDOWN_GRACE"] == "100"


def test_a_grace_period_with_no_room_to_drain_is_refused():
    error = render_error(
        {"warehouse": {"terminationGracePeriodSeconds": 12, "preStopSleepSeconds": 5}}
    )
    assert "must exceed warehouse.preStopSleepSeconds (5) by more than 10 s" in error


def test_should_pin_regions_to_labelled_nodes_only_when_asked():
    default = render_chart(show_only=["templates/warehouse-statefulset.yaml"])
    assert all("nodeSelector" not in d["spec"]["template"]["spec"] for d in default)
    pinned = render_chart(
        values={"regionNodeSelector": True}, show_only=["templates/warehouse-statefulset.yaml"]
    )
    hn = one(pinned, "StatefulSet", "orders-warehouse-hn")
    assert hn["spec"]["template"]["spec"]["nodeSelector"] == {"orders.routing.io/region": "HN"}


def test_should_limit_voluntary_disruption_to_one_warehouse_at_a_time():
    (pdb,) = render_chart(show_only=["templates/warehouse-pdb.yaml"])
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "warehouse"
    sts_docs = render_chart(show_only=["templates/warehouse-statefulset.yaml"])
    for sts in sts_docs:
        pod_labels = sts["spec"]["template"]["metadata"]["labels"]
        assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()


@pytest.mark.parametrize("enabled", [True, False])
def test_should_annotate_pods_for_prometheus_scraping(enabled):
    docs = render_chart(
        values={"monitoring": {"podAnnotations": enabled}},
        show_only=["templates/warehouse-statefulset.yaml", "templates/controller-deployment.yaml"],
    )
    for doc in docs:
        annotations = doc["spec"]["template"]["metadata"].get("annotations") or {}
        if enabled:
            assert annotations["prometheus.io/scrape"] == "true"
            assert annotations["prometheus.io/path"] == "/metrics"
        else:
            assert "prometheus.io/scrape" not in annotations
    sts = one(docs, "StatefulSet", "orders-warehouse-hcm")
    if enabled:
        assert sts["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == str(
            WAREHOUSE_PORT
        )


def test_services_select_exactly_their_regions_pods():
    docs = render_chart(show_only=WAREHOUSE_TEMPLATES)
    for svc in by_kind(docs, "Service"):
        sts = one(docs, "StatefulSet", svc["metadata"]["name"])
        assert sts["spec"]["serviceName"] == svc["metadata"]["name"] + "-pods"  # headless
        pod_labels = sts["spec"]["template"]["metadata"]["labels"]
        assert svc["spec"]["selector"].items() <= pod_labels.items()
        others = [s for s in by_kind(docs, "StatefulSet") if s is not sts]
        for other in others:
            assert (
                not svc["spec"]["selector"].items()
                <= other["spec"]["template"]["metadata"]["labels"].items()
            )
        assert svc["spec"]["ports"] == [
            {"name": "http", "port": WAREHOUSE_PORT, "targetPort": "http", "protocol": "TCP"}
        ]


def test_a_region_can_be_taken_down_with_zero_replicas():
    docs = render_chart(
        values={"regions": [{"name": "HCM", "replicas": 0}, {"name": "HN"}]},
        show_only=["templates/warehouse-statefulset.yaml"],
    )
    assert one(docs, "StatefulSet", "orders-warehouse-hcm")["spec"]["replicas"] == 0
    assert one(docs, "StatefulSet", "orders-warehouse-hn")["spec"]["replicas"] == 1


def test_readiness_drops_a_silent_node_within_3_s():
    """Gray failures (issue 13): the worst case from "stops answering" to "not ready" is one
    period until the next probe, its timeout, and the further misses failureThreshold asks for."""
    (sts, *_) = render_chart(show_only=["templates/warehouse-statefulset.yaml"])
    probe = sts["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    worst = probe["periodSeconds"] * probe["failureThreshold"] + probe["timeoutSeconds"]
    assert worst <= 3, probe
