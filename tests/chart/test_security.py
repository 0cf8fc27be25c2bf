"""Every pod meets the "restricted" Pod Security Standard and has a read-only root filesystem;
the node API token lives in a Secret."""

from __future__ import annotations

import base64

import pytest

from .helpers import by_kind, env_of, one, pod_specs, render_chart
from .test_replication import REPLICATED

# replication on too: its init containers, native sidecar and follower pods are checked as well
ALL_PODS = {
    **REPLICATED,
    "stress": {"enabled": True, "airflowCredentialsSecret": "airflow-login"},
}


@pytest.fixture(scope="module")
def pods():
    specs = pod_specs(render_chart(values=ALL_PODS))
    kinds = {label.split("/")[0] for label, _ in specs}
    assert kinds == {"StatefulSet", "Deployment", "Job", "Pod"}
    return specs


def test_pods_run_as_non_root_with_runtime_default_seccomp(pods):
    for label, spec in pods:
        context = spec["securityContext"]
        assert context["runAsNonRoot"] is True, label
        assert context["runAsUser"] != 0, label
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}, label


def test_containers_drop_everything_and_cannot_escalate(pods):
    for label, spec in pods:
        for container in spec["containers"] + spec.get("initContainers", []):
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, label
            assert context["capabilities"] == {"drop": ["ALL"]}, label
            assert context["readOnlyRootFilesystem"] is True, label
            assert context.get("privileged", False) is False, label


def test_no_pod_uses_host_namespaces_or_host_paths(pods):
    for label, spec in pods:
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            assert not spec.get(key, False), label
        assert all("hostPath" not in volume for volume in spec.get("volumes", [])), label


def test_long_running_pods_get_a_writable_tmp(pods):
    for label, spec in pods:
        if label.startswith("Pod/"):
            continue  # the helm test pod only runs urllib
        mounts = {m["mountPath"]: m["name"] for m in spec["containers"][0]["volumeMounts"]}
        assert "/tmp" in mounts, label
        volume = next(v for v in spec["volumes"] if v["name"] == mounts["/tmp"])
        assert "emptyDir" in volume, label


def test_nodes_do_not_get_a_kubernetes_api_token():
    for sts in render_chart(show_only=["templates/warehouse-statefulset.yaml"]):
        assert sts["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


def test_should_generate_a_random_token_secret_when_none_is_given():
    first = render_chart(show_only=["templates/token-secret.yaml"], cached=False)[0]
    second = render_chart(show_only=["templates/token-secret.yaml"], cached=False)[0]
    token = base64.b64decode(first["data"]["token"]).decode()
    assert len(token) == 48 and token.isalnum()
    # without a cluster there is nothing to look up, so each render draws anew
    assert first["data"]["token"] != second["data"]["token"]


def test_should_use_the_given_token():
    (secret,) = render_chart(
        values={"nodeApi": {"token": "s3cret-token-of-my-own"}},
        show_only=["templates/token-secret.yaml"],
    )
    assert base64.b64decode(secret["data"]["token"]).decode() == "s3cret-token-of-my-own"
    assert secret["metadata"]["name"] == "orders-node-token"


def test_nodes_and_stress_read_the_token_from_the_secret():
    docs = render_chart(values=ALL_PODS)
    for doc in by_kind(docs, "StatefulSet") + by_kind(docs, "Job"):
        env = env_of(doc["spec"]["template"]["spec"]["containers"][0])
        assert env["NODE_API_TOKEN"] == {
            "secretKeyRef": {"name": "orders-node-token", "key": "token"}
        }
    one(docs, "Secret", "orders-node-token")


def test_should_reference_an_existing_secret_instead_of_creating_one():
    docs = render_chart(values={"nodeApi": {"existingSecret": "vault-synced"}})
    assert by_kind(docs, "Secret") == []
    sts = by_kind(docs, "StatefulSet")[0]
    env = env_of(sts["spec"]["template"]["spec"]["containers"][0])
    assert env["NODE_API_TOKEN"] == {"secretKeyRef": {"name": "vault-synced", "key": "token"}}
