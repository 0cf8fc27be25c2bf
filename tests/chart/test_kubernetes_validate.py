"""Every rendered document passes `kubernetes-validate --strict` for each supported Kubernetes
version; custom resources it has no schema for are set aside by name and checked here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .helpers import CHART, PROMETHEUS_OPERATOR_APIS, render_chart, run_helm
from .test_replication import REPLICATED
from .test_schema import NON_DEFAULT
from .test_tls import CERT_MANAGER, EXISTING

KUBERNETES_VERSIONS = ["1.30.0", "1.34.0"]
#: API groups kubernetes-validate has no schema for (custom resources), checked structurally
#: (cert-manager's against its own schemas in test_tls.py)
CUSTOM_GROUPS = {"kopf.dev", "monitoring.coreos.com", "cert-manager.io"}
#: TLS on with either certificate source, on the replicated chart (followers too) with the Job
TLS = {"stress": {"enabled": True, "target": "nodes"}}
SCENARIOS = {
    "defaults": None,
    "non-default": NON_DEFAULT,
    "replication": REPLICATED,
    "tls-cert-manager": {**REPLICATED, **CERT_MANAGER, **TLS},
    "tls-existing-secret": {**REPLICATED, **EXISTING, **TLS},
}
VALIDATE = Path(sys.executable).with_name("kubernetes-validate")


def _render_all(kube_version: str) -> list[dict]:
    docs = []
    for values in SCENARIOS.values():
        docs += render_chart(
            values=values,
            include_crds=True,
            api_versions=PROMETHEUS_OPERATOR_APIS,
            kube_version=kube_version,
        )
    return docs


def _group(doc: dict) -> str:
    return doc["apiVersion"].rpartition("/")[0]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_builtin_document_validates_strictly(version, tmp_path):
    docs = _render_all(version)
    builtin = [d for d in docs if _group(d) not in CUSTOM_GROUPS]
    assert {"StatefulSet", "Deployment", "Job", "Pod", "CustomResourceDefinition"} <= {
        d["kind"] for d in builtin
    }
    manifest = tmp_path / "rendered.yaml"
    manifest.write_text(yaml.safe_dump_all(builtin))
    result = subprocess.run(
        [str(VALIDATE), "--strict", "--quiet", "-k", version, str(manifest)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ERROR" not in result.stdout and "WARN" not in result.stdout, result.stdout


def test_custom_resources_are_the_expected_ones_and_well_formed():
    docs = [d for d in _render_all(KUBERNETES_VERSIONS[-1]) if _group(d) in CUSTOM_GROUPS]
    kinds = {(d["apiVersion"], d["kind"]) for d in docs}
    assert kinds == {
        ("kopf.dev/v1", "KopfPeering"),
        ("monitoring.coreos.com/v1", "ServiceMonitor"),
        ("monitoring.coreos.com/v1", "PrometheusRule"),
        ("cert-manager.io/v1", "Certificate"),
        ("cert-manager.io/v1", "Issuer"),
    }
    for doc in docs:
        assert set(doc) <= {"apiVersion", "kind", "metadata", "spec"}
        assert (
            doc["metadata"]["name"]
            and doc["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
        )
        if doc["kind"] == "ServiceMonitor":
            assert doc["spec"]["selector"]["matchLabels"] and doc["spec"]["endpoints"]
        if doc["kind"] == "PrometheusRule":
            assert all(
                rule["expr"] and rule["alert"] for g in doc["spec"]["groups"] for rule in g["rules"]
            )


def test_chart_refuses_kubernetes_older_than_1_30():
    result = run_helm(["template", "orders", str(CHART), "--kube-version", "1.29.9"])
    assert result.returncode != 0
    assert "kubeVersion" in result.stderr or "incompatible" in result.stderr
