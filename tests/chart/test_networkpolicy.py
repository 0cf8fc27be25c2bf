"""NetworkPolicies: only Airflow workers, this release's controller/stress/test pods and
Prometheus reach the warehouses; only Prometheus reaches the controller."""

from __future__ import annotations

import jmespath

from .helpers import one, render_chart

TEMPLATE = ["templates/networkpolicy.yaml"]


def _matches(peer: dict, pod_labels: dict[str, str], same_namespace: bool = True) -> bool:
    """Whether a NetworkPolicyPeer admits a pod (the subset of the semantics the chart uses)."""
    if "namespaceSelector" not in peer and not same_namespace:
        return False
    selector = peer.get("podSelector", {})
    if not selector.get("matchLabels", {}).items() <= pod_labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In"
        if pod_labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def _warehouse_peers(values=None) -> list[dict]:
    policy = one(
        render_chart(values=values, show_only=TEMPLATE), "NetworkPolicy", "orders-warehouse"
    )
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    return rule["from"]


def _own(component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "orders",
        "app.kubernetes.io/instance": "orders",
        "app.kubernetes.io/component": component,
    }


def test_warehouse_policy_selects_the_warehouse_pods():
    policy = one(render_chart(show_only=TEMPLATE), "NetworkPolicy", "orders-warehouse")
    sts = one(
        render_chart(show_only=["templates/warehouse-statefulset.yaml"]),
        "StatefulSet",
        "orders-warehouse-dn",
    )
    assert (
        policy["spec"]["podSelector"]["matchLabels"].items()
        <= sts["spec"]["template"]["metadata"]["labels"].items()
    )


def test_admits_this_releases_controller_stress_and_test_pods_only():
    peers = _warehouse_peers()
    for component in ("controller", "stress", "test"):
        assert any(_matches(p, _own(component)) for p in peers), component
    for component in ("warehouse", "routing"):
        assert not any(_matches(p, _own(component)) for p in peers), component
    stranger = {**_own("controller"), "app.kubernetes.io/instance": "other"}
    assert not any(_matches(p, stranger) for p in peers)


def test_admits_airflow_worker_pods_but_not_other_airflow_pods():
    peers = _warehouse_peers()
    worker = {"tier": "airflow", "component": "worker", "release": "airflow"}
    scheduler = {"tier": "airflow", "component": "scheduler", "release": "airflow"}
    assert any(_matches(p, worker) for p in peers)
    assert not any(_matches(p, scheduler) for p in peers)


def test_admits_prometheus_from_any_namespace():
    peers = _warehouse_peers()
    prometheus = {"app.kubernetes.io/name": "prometheus"}
    assert any(_matches(p, prometheus, same_namespace=False) for p in peers)


def test_should_select_the_airflow_namespace_when_it_differs():
    peers = _warehouse_peers({"airflow": {"namespace": "airflow"}})
    airflow_peer = next(
        p for p in peers if p["podSelector"].get("matchLabels", {}).get("tier") == "airflow"
    )
    assert airflow_peer["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "airflow"}
    }


def test_controller_only_accepts_prometheus_on_the_metrics_port():
    policy = one(render_chart(show_only=TEMPLATE), "NetworkPolicy", "orders-controller")
    assert jmespath.search("spec.ingress[].ports[].port", policy) == ["metrics"]
    peers = jmespath.search("spec.ingress[0].from", policy)
    assert not any(_matches(p, {"tier": "airflow", "component": "worker"}) for p in peers)
    assert any(
        _matches(p, {"app.kubernetes.io/name": "prometheus"}, same_namespace=False) for p in peers
    )


def test_should_render_no_policies_when_disabled():
    docs = render_chart(values={"networkPolicy": {"enabled": False}})
    assert [d for d in docs if d["kind"] == "NetworkPolicy"] == []
