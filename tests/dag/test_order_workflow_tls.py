"""``dag.test()`` of order_workflow against three HTTPS nodes (issue 17's bar: the DAG completes
against TLS nodes with the CA bundle; without it, nothing is delivered and the run fails).

Real ``warehouse-node`` processes serving HTTPS with a throwaway CA; the DAG's tasks run in this
process, so ``ORDER_CA_BUNDLE`` set here is what they trust.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from order_contracts import envvars, tls
from tests.conftest import NodeFactory, RunningNode
from tests.dag.conftest import run_dag
from tests.support.certs import TlsFiles
from tests.support.orders import order, write_routing

pytestmark = pytest.mark.airflow


@pytest.fixture
def https_nodes(
    node_factory: NodeFactory, tls_files: TlsFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, RunningNode]:
    env = {
        envvars.NODE_TLS_CERT: str(tls_files.cert),
        envvars.NODE_TLS_KEY: str(tls_files.key),
        envvars.ORDER_CA_BUNDLE: str(tls_files.ca_bundle),
    }
    nodes = {region: node_factory(region, env=env) for region in ("HCM", "HN", "DN")}
    assert all(node.url.startswith("https://") for node in nodes.values())
    routing = write_routing(tmp_path / "routing.json", {r: n.url for r, n in nodes.items()})
    monkeypatch.setenv(envvars.ORDER_ROUTING_SOURCE, str(routing))
    return nodes


def client_ids(node: RunningNode, tls_files: TlsFiles) -> list[str]:
    """The node's order ids, read with a plain httpx client trusting the test CA."""
    verify = tls.httpx_verify({envvars.ORDER_CA_BUNDLE: str(tls_files.ca_bundle)})
    with httpx.Client(base_url=node.url, verify=verify, timeout=10) as http:
        page = http.get("/orders", params={"limit": 1000}).raise_for_status().json()
    return [o["order_id"] for o in page["orders"]]


def test_a_batch_is_delivered_over_https_with_the_ca_bundle(
    order_dag: Any,
    https_nodes: dict[str, RunningNode],
    tls_files: TlsFiles,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(envvars.ORDER_CA_BUNDLE, str(tls_files.ca_bundle))
    batch = [order(region) for region in ("HCM", "HN", "DN", "HN")]

    run = run_dag(order_dag, {"orders": batch})

    assert run.state == "success"
    assert {r["status"] for r in run.orders} == {"committed"}
    for region, node in https_nodes.items():
        expected = sorted(o["order_id"] for o in batch if o["region"] == region)
        assert sorted(client_ids(node, tls_files)) == expected


def test_without_the_ca_bundle_nothing_is_delivered_and_the_run_fails(
    order_dag: Any,
    https_nodes: dict[str, RunningNode],
    tls_files: TlsFiles,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(envvars.ORDER_CA_BUNDLE, raising=False)
    payload = order("HN")

    run = run_dag(order_dag, {"order": payload})

    assert run.state == "failed"
    assert run.tasks["process"][0] == "failed"
    assert all(client_ids(n, tls_files) == [] for n in https_nodes.values())
