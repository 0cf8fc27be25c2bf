"""Replication in the chart (issue 11): the Litestream native sidecar, the restore init
container, S3 credentials from a Secret, and a read-only follower per region whose Service the
controller turns into the region's readUrls.

Rendered with the real helm (Airflow chart-test style: exact paths). The config the sidecar runs
is printed by the real ``warehouse-node --print-litestream-config`` from the environment the
chart gives the init container, so the two cannot drift apart; strict validation of these
renders is in test_kubernetes_validate.py (the "replication" scenario).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from controller.observe import observations, service_summary, slice_summary
from order_contracts.labels import COMPONENT_FOLLOWER, COMPONENT_LABEL, REGION_LABEL

from .helpers import NAMESPACE, by_kind, env_of, one, render_chart, render_error

SECRET = "orders-s3"
#: HCM: replicated with a follower; HN: replicated, no follower; DN: not replicated
REPLICATED = {
    "replication": {
        "enabled": True,
        "url": "s3://orders-replicas/prod/",
        "s3": {"endpoint": "http://minio.minio.svc:9000", "existingSecret": SECRET},
    },
    "regions": [
        {"name": "HCM"},
        {"name": "HN", "replication": {"follower": {"enabled": False}}},
        {"name": "DN", "replication": {"enabled": False}},
    ],
}
NODE = Path(sys.executable).with_name("warehouse-node")


def _pod(docs, kind: str, name: str) -> dict:
    return one(docs, kind, name)["spec"]["template"]["spec"]


def _containers(spec: dict) -> dict[str, dict]:
    return {c["name"]: c for c in spec.get("initContainers", []) + spec["containers"]}


def _mounts(container: dict) -> dict[str, str]:
    return {m["name"]: m["mountPath"] for m in container.get("volumeMounts", [])}


def _resolved_env(container: dict) -> dict[str, str]:
    """The container's environment as the kubelet would set it, Secret values made up."""
    env = {}
    for name, value in env_of(container).items():
        if isinstance(value, dict):
            ref = value["secretKeyRef"]
            env[name] = f"{ref['name']}/{ref['key']}"
        else:
            env[name] = value
    return env


def _run_node(container: dict, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], **_resolved_env(container)}
    return subprocess.run(
        [str(NODE), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture(scope="module")
def docs() -> list[dict]:
    return render_chart(values=REPLICATED)


def test_replication_is_off_by_default_and_the_pods_are_unchanged():
    docs = render_chart()
    for region in ("hcm", "hn", "dn"):
        spec = _pod(docs, "StatefulSet", f"orders-warehouse-{region}")
        assert "initContainers" not in spec
        assert not {k for k in env_of(spec["containers"][0]) if k.startswith("NODE_REPLICA")}
        assert {v["name"] for v in spec["volumes"]} == {"tmp"}
    assert not [d for d in docs if d["metadata"]["name"].startswith("orders-follower-")]


def test_the_init_containers_run_config_restore_then_the_native_sidecar(docs):
    spec = _pod(docs, "StatefulSet", "orders-warehouse-hcm")
    assert [c["name"] for c in spec["initContainers"]] == [
        "litestream-config",
        "restore",
        "litestream",
    ]
    config, restore, sidecar = spec["initContainers"]
    # one-shot init containers, then Litestream as a native sidecar (restartPolicy: Always):
    # it starts before the node and is stopped after the node has drained
    assert "restartPolicy" not in config and "restartPolicy" not in restore
    assert sidecar["restartPolicy"] == "Always"
    assert sidecar["command"] == [
        "litestream",
        "replicate",
        "-config",
        "/litestream/litestream.yml",
    ]
    assert config["command"][:2] == ["sh", "-c"]
    assert config["command"][2] == (
        "exec warehouse-node --print-litestream-config > /litestream/litestream.yml"
    )
    # the whole start-up verdict (restores missing or damaged files), before the sidecar starts
    assert restore["command"] == ["warehouse-node", "--check-only"]
    assert _mounts(restore) == {"data": "/data", "tmp": "/tmp"}
    assert _mounts(sidecar) == {"data": "/data", "litestream-config": "/litestream"}
    assert _mounts(config) == {"litestream-config": "/litestream"}
    assert {"name": "litestream-config", "emptyDir": {"sizeLimit": "1Mi"}} in spec["volumes"]
    assert sidecar["startupProbe"]["exec"]["command"] == ["test", "-S", "/data/litestream.sock"]
    for container in spec["initContainers"]:
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["image"] == spec["containers"][0]["image"]


def test_the_node_acknowledges_through_the_sidecars_socket(docs):
    node = _containers(_pod(docs, "StatefulSet", "orders-warehouse-hcm"))["warehouse"]
    env = env_of(node)
    assert env["NODE_REPLICA_URL"] == "s3://orders-replicas/prod/hcm"
    assert env["NODE_REPLICATION"] == "sync"
    assert env["NODE_REPLICATION_TIMEOUT"] == "5"
    assert env["NODE_LITESTREAM"] == "external"
    assert env["NODE_LITESTREAM_SOCKET"] == "/data/litestream.sock"
    assert _mounts(node)["data"] == "/data"


def test_s3_credentials_come_from_the_secret_in_every_container_that_talks_to_s3(docs):
    spec = _pod(docs, "StatefulSet", "orders-warehouse-hcm")
    follower = _pod(docs, "Deployment", "orders-follower-hcm")
    containers = [*spec["initContainers"], spec["containers"][0], follower["containers"][0]]
    for container in containers:
        env = env_of(container)
        assert env["NODE_REPLICA_S3_ENDPOINT"] == "http://minio.minio.svc:9000"
        assert env["NODE_REPLICA_S3_ACCESS_KEY_ID"] == {
            "secretKeyRef": {"name": SECRET, "key": "access-key-id"}
        }
        assert env["NODE_REPLICA_S3_SECRET_ACCESS_KEY"] == {
            "secretKeyRef": {"name": SECRET, "key": "secret-access-key"}
        }
    # no Secret named: no credential variables (the default AWS chain, e.g. IRSA)
    values = {"replication": {**REPLICATED["replication"], "s3": {}}}
    plain = _pod(render_chart(values=values), "StatefulSet", "orders-warehouse-hcm")
    for container in [*plain["initContainers"], plain["containers"][0]]:
        assert not {k for k in env_of(container) if k.startswith("NODE_REPLICA_S3")}, container


def test_the_sidecar_runs_the_config_the_node_prints_for_the_rendered_environment(docs):
    containers = _containers(_pod(docs, "StatefulSet", "orders-warehouse-hcm"))
    printed = _run_node(containers["litestream-config"], "--print-litestream-config")
    assert printed.returncode == 0, printed.stderr
    config = yaml.safe_load(printed.stdout)
    node_env = env_of(containers["warehouse"])
    # the node asks the socket the sidecar opens, on the volume both mount at /data
    assert config["socket"] == {"enabled": True, "path": node_env["NODE_LITESTREAM_SOCKET"]}
    (db,) = config["dbs"]
    assert db["path"] == "/data/orders.db"
    assert db["replica"]["url"] == node_env["NODE_REPLICA_URL"]
    assert db["replica"]["endpoint"] == "http://minio.minio.svc:9000"
    # credentials stay references, expanded by Litestream from the sidecar's own environment
    assert db["replica"]["access-key-id"] == "${NODE_REPLICA_S3_ACCESS_KEY_ID}"
    assert db["replica"]["secret-access-key"] == "${NODE_REPLICA_S3_SECRET_ACCESS_KEY}"
    assert {"NODE_REPLICA_S3_ACCESS_KEY_ID", "NODE_REPLICA_S3_SECRET_ACCESS_KEY"} <= set(
        env_of(containers["litestream"])
    )


def test_regions_can_opt_out_and_name_their_own_replica():
    docs = render_chart(
        values={
            **REPLICATED,
            "regions": [
                {"name": "HCM", "replication": {"url": "s3://other-bucket/hcm-shard"}},
                {"name": "DN", "replication": {"enabled": False}},
            ],
        }
    )
    hcm = _containers(_pod(docs, "StatefulSet", "orders-warehouse-hcm"))
    assert env_of(hcm["warehouse"])["NODE_REPLICA_URL"] == "s3://other-bucket/hcm-shard"
    assert env_of(hcm["restore"])["NODE_REPLICA_URL"] == ("s3://other-bucket/hcm-shard")
    dn = _pod(docs, "StatefulSet", "orders-warehouse-dn")
    assert "initContainers" not in dn
    assert "NODE_REPLICA_URL" not in env_of(dn["containers"][0])
    followers = sorted(d["metadata"]["name"] for d in by_kind(docs, "Deployment"))
    assert followers == ["orders-controller", "orders-follower-hcm"]


def test_one_follower_per_region_that_asks_for_one(docs):
    names = {
        (d["kind"], d["metadata"]["name"])
        for d in docs
        if d["metadata"]["name"].startswith("orders-follower-")
    }
    assert names == {
        (kind, "orders-follower-hcm")
        for kind in ("Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy")
    }


def test_the_follower_follows_the_primarys_replica_and_names_the_primary(docs):
    spec = _pod(docs, "Deployment", "orders-follower-hcm")
    (follower,) = spec["containers"]
    primary = _containers(_pod(docs, "StatefulSet", "orders-warehouse-hcm"))["warehouse"]
    env = env_of(follower)
    assert follower["command"] == ["warehouse-node", "--role", "follower"]
    assert env["NODE_REPLICA_URL"] == env_of(primary)["NODE_REPLICA_URL"]
    assert env["NODE_REGION"] == "HCM"
    assert env["NODE_PRIMARY_URL"] == f"http://orders-warehouse-hcm.{NAMESPACE}.svc:8000"
    assert env["NODE_API_TOKEN"] == {"secretKeyRef": {"name": "orders-node-token", "key": "token"}}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert follower[probe]["httpGet"] == {"path": "/health", "port": "http"}
    assert _mounts(follower) == {"data": "/data", "tmp": "/tmp"}
    assert {"name": "data", "emptyDir": {"sizeLimit": "2Gi"}} in spec["volumes"]
    assert follower["securityContext"]["readOnlyRootFilesystem"] is True
    assert spec["securityContext"]["runAsNonRoot"] is True
    # the rendered environment is one the node accepts as a follower
    started = _run_node(follower, "--print-litestream-config")
    assert started.returncode == 0, started.stderr


def test_follower_objects_select_only_that_regions_follower_pods(docs):
    deployment = one(docs, "Deployment", "orders-follower-hcm")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pod_labels[COMPONENT_LABEL] == COMPONENT_FOLLOWER
    assert pod_labels[REGION_LABEL] == "HCM"
    selectors = [
        one(docs, "Service", "orders-follower-hcm")["spec"]["selector"],
        one(docs, "PodDisruptionBudget", "orders-follower-hcm")["spec"]["selector"]["matchLabels"],
        one(docs, "NetworkPolicy", "orders-follower-hcm")["spec"]["podSelector"]["matchLabels"],
        deployment["spec"]["selector"]["matchLabels"],
    ]
    for selector in selectors:
        assert selector.items() <= pod_labels.items()
        assert selector[COMPONENT_LABEL] == COMPONENT_FOLLOWER and selector[REGION_LABEL] == "HCM"
    # no primary object selects follower pods (they would count as a second shard)
    for kind, name in [
        ("Service", "orders-warehouse-hcm"),
        ("PodDisruptionBudget", "orders-warehouse"),
        ("NetworkPolicy", "orders-warehouse"),
    ]:
        spec = one(docs, kind, name)["spec"]
        selector = spec.get("selector", spec.get("podSelector", {}))
        selector = selector.get("matchLabels", selector)
        assert not selector.items() <= pod_labels.items(), (kind, name)


def test_the_follower_accepts_the_same_callers_as_the_warehouses(docs):
    follower = one(docs, "NetworkPolicy", "orders-follower-hcm")["spec"]
    warehouse = one(docs, "NetworkPolicy", "orders-warehouse")["spec"]
    assert follower["policyTypes"] == ["Ingress"]
    assert follower["ingress"] == warehouse["ingress"]


def test_the_controller_turns_the_follower_service_into_the_regions_read_url(docs):
    services = []
    for svc in by_kind(docs, "Service"):
        svc["metadata"]["namespace"] = NAMESPACE  # as the API server returns it
        if (summary := service_summary(svc)) is not None:
            services.append(summary)

    def ready_slice(service: str) -> dict:
        return {
            "metadata": {"name": f"{service}-x", "labels": {"kubernetes.io/service-name": service}},
            "endpoints": [{"addresses": ["10.0.0.9"], "conditions": {"ready": True}}],
        }

    primaries = ["orders-warehouse-hcm", "orders-warehouse-hn", "orders-warehouse-dn"]
    slices = [slice_summary(ready_slice(name)) for name in [*primaries, "orders-follower-hcm"]]
    by_region = {o.region: o for o in observations(services, [s for s in slices if s])}
    assert by_region["HCM"].url == f"http://orders-warehouse-hcm.{NAMESPACE}.svc:8000"
    assert by_region["HCM"].read_urls == (f"http://orders-follower-hcm.{NAMESPACE}.svc:8000",)
    assert by_region["HN"].read_urls == () and by_region["DN"].read_urls == ()
    # a follower without a ready endpoint is not listed
    unready = observations(services, [s for s in slices[:3] if s])
    assert all(o.read_urls == () for o in unready)


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        (
            {"replication": {"enabled": True}},
            "region HCM: replication is enabled but has no replica",
        ),
        (
            {
                "replication": {"enabled": True, "url": "s3://orders"},
                "regions": [{"name": "HCM", "replication": {"url": "s3://x"}}],
            },
            "url",
        ),
        ({"replication": {"url": "file:///data/replica"}}, "url"),
        ({"replication": {"mode": "eventually"}}, "mode"),
        ({"replication": {"s3": {"endpoint": "minio:9000"}}}, "endpoint"),
        ({"replication": {"s3": {"accessKey": "AKIA"}}}, "accessKey"),
        ({"replication": {"follower": {"replicas": -1}}}, "replicas"),
        ({"regions": [{"name": "HCM", "replication": {"folower": {}}}]}, "folower"),
    ],
    ids=lambda v: str(v)[:60],
)
def test_bad_replication_values_are_refused_with_a_clear_message(values, complaint):
    assert complaint in render_error(values)


def test_helm_test_checks_the_followers_too(docs):
    (pod,) = [d for d in by_kind(docs, "Pod") if d["metadata"]["name"] == "orders-test-health"]
    urls = pod["spec"]["containers"][0]["command"][4:]
    assert urls == [
        "http://orders-warehouse-hcm:8000/health",
        "http://orders-warehouse-hn:8000/health",
        "http://orders-warehouse-dn:8000/health",
        "http://orders-follower-hcm:8000/health",
    ]
