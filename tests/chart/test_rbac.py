"""RBAC: the controller may do exactly what controller/manifests/rbac.yaml says, in its own
namespace; Airflow workers and the stress Job may only read the routing ConfigMap."""

from __future__ import annotations

from pathlib import Path

import yaml

from order_contracts.labels import ROUTING_CONFIGMAP

from .helpers import ROOT, by_kind, one, render_chart

CONTROLLER_RBAC = ROOT / "controller" / "manifests" / "rbac.yaml"


def _normalized(rules: list[dict]) -> list[tuple]:
    """Rules as comparable tuples: one per (group, resource, name) with its sorted verbs."""
    flat = set()
    for rule in rules:
        for group in rule.get("apiGroups", []):
            for resource in rule["resources"]:
                for name in rule.get("resourceNames", [None]):
                    flat.add((group, resource, name, tuple(sorted(rule["verbs"]))))
    return sorted(flat, key=str)


def _controller_role_rules(path: Path) -> list[dict]:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    (role,) = [d for d in docs if d["kind"] == "Role"]
    return role["rules"]


def test_chart_grants_the_controller_the_same_rules_as_its_own_manifest():
    role = one(render_chart(), "Role", "orders-controller")
    assert _normalized(role["rules"]) == _normalized(_controller_role_rules(CONTROLLER_RBAC))


def test_controller_may_change_only_the_routing_configmap():
    role = one(render_chart(), "Role", "orders-controller")
    writes = [
        r
        for r in role["rules"]
        if "configmaps" in r["resources"] and {"update", "patch", "delete"} & set(r["verbs"])
    ]
    assert writes and all(r["resourceNames"] == [ROUTING_CONFIGMAP] for r in writes)
    assert all("delete" not in r["verbs"] and "*" not in r["verbs"] for r in role["rules"])
    assert all("secrets" not in r["resources"] and "*" not in r["resources"] for r in role["rules"])


def test_controller_rbac_is_namespaced_only():
    docs = render_chart()
    assert by_kind(docs, "ClusterRole") == [] and by_kind(docs, "ClusterRoleBinding") == []
    binding = one(docs, "RoleBinding", "orders-controller")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "orders-controller",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "orders-controller", "namespace": "orders"}
    ]
    deployment = one(docs, "Deployment", "orders-controller")
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "orders-controller"


def test_airflow_workers_may_only_get_the_routing_configmap():
    docs = render_chart()
    role = one(docs, "Role", "orders-routing-reader")
    assert role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["configmaps"],
            "resourceNames": [ROUTING_CONFIGMAP],
            "verbs": ["get"],
        }
    ]
    binding = one(docs, "RoleBinding", "orders-routing-reader")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "airflow-worker", "namespace": "orders"}
    ]


def test_should_bind_workers_in_another_namespace_and_the_stress_job():
    docs = render_chart(values={"airflow": {"namespace": "airflow"}, "stress": {"enabled": True}})
    binding = one(docs, "RoleBinding", "orders-routing-reader")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "airflow-worker", "namespace": "airflow"},
        {"kind": "ServiceAccount", "name": "orders-stress", "namespace": "orders"},
    ]
    job = one(docs, "Job", "orders-stress-1")
    assert job["spec"]["template"]["spec"]["serviceAccountName"] == "orders-stress"
