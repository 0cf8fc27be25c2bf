"""The DAG's node client over HTTPS: it trusts ORDER_CA_BUNDLE (docs/tls.md)."""

from __future__ import annotations

import httpx
import pytest
from order_workflow_lib import http as dag_http

from order_contracts import envvars
from tests.conftest import RunningNode
from tests.node.conftest import seed_order
from tests.support.certs import TlsFiles


def test_the_dag_client_commits_over_https_only_with_the_bundle(
    tls_node: RunningNode, tls_files: TlsFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(envvars.ORDER_CA_BUNDLE, str(tls_files.ca_bundle))
    with dag_http.client([tls_node.url], base_url=tls_node.url, timeout=10) as http:
        assert http.post("/order", json=seed_order("tls-dag")).status_code == 201
    monkeypatch.delenv(envvars.ORDER_CA_BUNDLE)
    with (
        dag_http.client([tls_node.url], base_url=tls_node.url, timeout=10) as http,
        pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        http.get("/health")


def test_the_dag_client_refuses_a_plain_http_node_once_tls_is_configured(
    node_factory, tls_files: TlsFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = node_factory("HCM")
    monkeypatch.setenv(envvars.ORDER_CA_BUNDLE, str(tls_files.ca_bundle))
    with pytest.raises(envvars.ConfigError, match="never sent over plain HTTP"):
        dag_http.client([plain.url], base_url=plain.url, timeout=10)
    monkeypatch.setenv(envvars.ORDER_REQUIRE_TLS, "false")  # the documented way out
    with dag_http.client([plain.url], base_url=plain.url, timeout=10) as http:
        assert http.post("/order", json=seed_order("plain-ok")).status_code == 201
