"""Upgrades keep what is live: the node token and the controller's routing document.

``helm template --dry-run=server`` runs the chart's ``lookup`` calls against an API server;
kmock's Kubernetes emulator plays that server with the objects a previous install left behind.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import aiohttp
import kmock as km
import pytest
import yaml

from order_contracts.labels import ROUTING_CONFIGMAP, ROUTING_KEY
from order_contracts.routing import RoutingDocument

from .helpers import CHART, NAMESPACE, RELEASE, helm_binary, render_chart

VERBS = ["create", "delete", "get", "list", "patch", "watch"]
KEPT_TOKEN = "token-from-the-first-install-0123456789"
LIVE_DOCUMENT = {
    "version": 1,
    "generation": 7,
    "updatedAt": "2026-01-01T00:00:00Z",
    "regions": {
        "HCM": {
            "url": "http://orders-warehouse-hcm:8000",
            "ready": True,
            "readyEndpoints": 1,
            "fallback": [],
        }
    },
}
#: what Helm stamps on the objects of a release (a previous install's objects carry it)
OWNED = {
    "labels": {"app.kubernetes.io/managed-by": "Helm"},
    "annotations": {
        "meta.helm.sh/release-name": RELEASE,
        "meta.helm.sh/release-namespace": NAMESPACE,
    },
}


def _plural(kind: str) -> str:
    return kind.lower()[:-1] + "ies" if kind.endswith("y") else kind.lower() + "s"


def _serve_the_charts_kinds(mock: km.KubernetesEmulator) -> None:
    """Discovery for every kind the chart renders, on a Kubernetes version the chart supports."""
    mock["get /version"] << {"major": "1", "minor": "34", "gitVersion": "v1.34.0"}
    kinds = {(d["apiVersion"], d["kind"]) for d in render_chart(include_crds=True)}
    for api_version, kind in kinds:
        namespaced = kind != "CustomResourceDefinition"
        mock.resources[f"{api_version}/{_plural(kind)}"] = km.ResourceInfo(
            kind=kind, namespaced=namespaced, verbs=set(VERBS)
        )
    # the core group's list, served whole (helm maps kinds to resources from it)
    core = [
        {
            "name": _plural(kind),
            "singularName": kind.lower(),
            "kind": kind,
            "namespaced": True,
            "verbs": VERBS,
        }
        for api_version, kind in sorted(kinds)
        if api_version == "v1"
    ]
    mock["get /api/v1"] << {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": "v1",
        "resources": core,
    }


async def _create(mock: km.KubernetesEmulator, plural: str, body: dict[str, Any]) -> None:
    async with aiohttp.ClientSession(base_url=str(mock.url)) as http:
        url = f"/api/v1/namespaces/{NAMESPACE}/{plural}"
        async with http.post(url, json=body) as response:
            assert response.status < 300, await response.text()


async def _render_against(mock: km.KubernetesEmulator, tmp_path: Path) -> list[dict[str, Any]]:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "kmock", "cluster": {"server": str(mock.url)}}],
                "users": [{"name": "kmock", "user": {"token": "kmock"}}],
                "contexts": [{"name": "kmock", "context": {"cluster": "kmock", "user": "kmock"}}],
                "current-context": "kmock",
            }
        )
    )
    # async: the emulator answers helm from this very event loop
    args = [
        "template",
        RELEASE,
        str(CHART),
        "--namespace",
        NAMESPACE,
        "--dry-run=server",
        "--disable-openapi-validation",
        "--kubeconfig",
        str(kubeconfig),
    ]  # fmt: skip  (no --show-only: a template that renders nothing would be an error)
    home = str(tmp_path)
    process = await asyncio.create_subprocess_exec(
        helm_binary(),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={"HOME": home, "HELM_CACHE_HOME": home, "HELM_CONFIG_HOME": home},
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()
    return [doc for doc in yaml.safe_load_all(out.decode()) if doc]


def _by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (doc,) = [d for d in docs if d["kind"] == kind]
    return doc


def _routing(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == ROUTING_CONFIGMAP
    ]


@pytest.mark.asyncio
async def test_upgrade_keeps_the_token_and_the_routing_document(kmock, tmp_path):
    _serve_the_charts_kinds(kmock)
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": f"{RELEASE}-node-token", "namespace": NAMESPACE, **OWNED},
        "data": {"token": base64.b64encode(KEPT_TOKEN.encode()).decode()},
    }
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": ROUTING_CONFIGMAP, "namespace": NAMESPACE, **OWNED},
        "data": {ROUTING_KEY: json.dumps(LIVE_DOCUMENT)},
    }
    await _create(kmock, "secrets", secret)
    await _create(kmock, "configmaps", configmap)

    docs = await _render_against(kmock, tmp_path)

    token = base64.b64decode(_by_kind(docs, "Secret")["data"]["token"]).decode()
    assert token == KEPT_TOKEN
    # an older chart's install: rendered once more, live content carried over, keep policy added
    (routing,) = _routing(docs)
    document = RoutingDocument.from_json(routing["data"][ROUTING_KEY])
    assert document.generation == 7 and document.ready_regions() == ["HCM"]
    assert routing["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


@pytest.mark.asyncio
async def test_first_install_draws_a_token_and_seeds_an_empty_document(kmock, tmp_path):
    _serve_the_charts_kinds(kmock)

    docs = await _render_against(kmock, tmp_path)

    token = base64.b64decode(_by_kind(docs, "Secret")["data"]["token"]).decode()
    assert len(token) == 48 and token != KEPT_TOKEN
    (routing,) = _routing(docs)
    document = RoutingDocument.from_json(routing["data"][ROUTING_KEY])
    assert document.generation == 0 and document.regions == {}
    # Helm must not delete it when a later upgrade leaves it out of the manifest
    assert routing["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    # the lookups really went to the API server
    fetched = {(r.resource.plural, r.name) for r in kmock if r.resource is not None and r.name}
    assert {("secrets", f"{RELEASE}-node-token"), ("configmaps", ROUTING_CONFIGMAP)} <= fetched


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "metadata",
    [
        pytest.param(
            {
                "labels": OWNED["labels"],
                "annotations": {**OWNED["annotations"], "helm.sh/resource-policy": "keep"},
            },
            id="seeded-by-this-chart",
        ),
        pytest.param({"labels": {"app.kubernetes.io/part-of": "regional-orders"}}, id="controller"),
    ],
)
async def test_upgrade_never_renders_the_controllers_routing_document(kmock, tmp_path, metadata):
    """After the first install the routing document is the controller's: an upgrade leaves it
    out of the manifest, so Helm can neither overwrite nor (keep policy) delete it."""
    _serve_the_charts_kinds(kmock)
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": ROUTING_CONFIGMAP, "namespace": NAMESPACE, **metadata},
        "data": {ROUTING_KEY: json.dumps(LIVE_DOCUMENT)},
    }
    await _create(kmock, "configmaps", configmap)

    docs = await _render_against(kmock, tmp_path)

    assert _routing(docs) == []
    assert [d for d in docs if d["kind"] == "StatefulSet"]  # the rest of the chart did render
