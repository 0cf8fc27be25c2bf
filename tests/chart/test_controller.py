"""The controller: two peered replicas, its configuration, the peering CRD and object."""

from __future__ import annotations

import yaml
from kopf._cogs.structs.references import NAMESPACED_PEERINGS_K

from .helpers import CHART, ROOT, env_of, one, render_chart

CONTROLLER_CRD = ROOT / "controller" / "manifests" / "peering-crd.yaml"
CHART_CRD = CHART / "crds" / "kopfpeering.yaml"


def test_should_run_two_replicas_spread_over_nodes():
    deployment = one(render_chart(), "Deployment", "orders-controller")
    assert deployment["spec"]["replicas"] == 2
    affinity = deployment["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    term = affinity["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
    assert term["topologyKey"] == "kubernetes.io/hostname"


def test_should_configure_the_controller_through_its_environment():
    deployment = one(render_chart(), "Deployment", "orders-controller")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["warehouse-controller"]
    env = env_of(container)
    assert env["CONTROLLER_NAMESPACE"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert env["ORDER_PROXIMITY"] == "HCM=DN,HN;HN=DN,HCM;DN=HN,HCM"
    assert env["METRICS_PORT"] == "9090"
    assert env["CONTROLLER_LIVENESS"] == "http://0.0.0.0:8080/healthz"
    # no fixed priority: each replica draws its own, so exactly one of them leads
    assert "CONTROLLER_PRIORITY" not in env
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"metrics": 9090, "health": 8080}


def test_should_pass_a_fixed_priority_when_given():
    deployment = one(
        render_chart(values={"controller": {"priority": 100}}), "Deployment", "orders-controller"
    )
    assert (
        env_of(deployment["spec"]["template"]["spec"]["containers"][0])["CONTROLLER_PRIORITY"]
        == "100"
    )


def test_peering_object_is_the_one_the_controller_is_told_to_use():
    docs = render_chart()
    peering = one(docs, "KopfPeering", "orders-controller")
    assert peering["apiVersion"] == f"{NAMESPACED_PEERINGS_K.group}/{NAMESPACED_PEERINGS_K.version}"
    deployment = one(docs, "Deployment", "orders-controller")
    assert (
        env_of(deployment["spec"]["template"]["spec"]["containers"][0])["CONTROLLER_PEERING"]
        == "orders-controller"
    )


def test_chart_crd_is_the_controllers_crd():
    assert yaml.safe_load(CHART_CRD.read_text()) == yaml.safe_load(CONTROLLER_CRD.read_text())


def test_crd_defines_the_resource_kopf_looks_for():
    (crd,) = [d for d in render_chart(include_crds=True) if d["kind"] == "CustomResourceDefinition"]
    spec = crd["spec"]
    assert spec["group"] == NAMESPACED_PEERINGS_K.group
    assert spec["names"]["plural"] == NAMESPACED_PEERINGS_K.any_name
    assert spec["scope"] == "Namespaced"
    assert [v["name"] for v in spec["versions"] if v["served"] and v["storage"]] == [
        NAMESPACED_PEERINGS_K.version
    ]


def test_controller_keeps_one_replica_during_drains():
    pdb = one(render_chart(), "PodDisruptionBudget", "orders-controller")
    assert pdb["spec"]["minAvailable"] == 1


def test_should_render_no_controller_objects_when_disabled():
    docs = render_chart(values={"controller": {"enabled": False}})
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert not [k for k in kinds if "controller" in k[1]]
