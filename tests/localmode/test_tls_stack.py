"""Local mode over TLS (``orders-demo --tls``, issue 17): a real stack of replicated nodes,
followers, the routing source and Prometheus, all on HTTPS with a throwaway CA.

What can fail: a hop left on plain HTTP (its URL, or a plain request answered), a client that
does not trust the CA (the routing source marking nodes not ready, Prometheus failing its
scrapes, the stress tool committing nothing), or the CA leaking into the environment after
the stack stopped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from localmode.processes import wait_until
from localmode.prometheus import prometheus_available, query
from localmode.stack import LocalStack, local_stack
from order_contracts import envvars, tls
from order_contracts.source import load_routing_document
from tests.stress.conftest import run_cli


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    state = tmp_path_factory.mktemp("tls-stack")
    before = os.environ.get(envvars.ORDER_CA_BUNDLE)
    with local_stack(state, airflow=False, replication=True, tls=True) as running:
        yield running
    assert os.environ.get(envvars.ORDER_CA_BUNDLE) == before


def test_every_hop_is_https_and_the_routing_source_sees_every_region_ready(
    stack: LocalStack,
) -> None:
    assert stack.tls is not None and stack.routing_url.startswith("https://")
    document = load_routing_document(stack.routing_url)  # verified against the stack's CA
    assert sorted(document.ready_regions()) == sorted(stack.node_urls)
    for region, route in document.regions.items():
        assert route.url.startswith("https://") and route.url == stack.node_urls[region]
        assert route.read_urls == [stack.follower_urls[region]]
        assert route.read_urls[0].startswith("https://")
    url = stack.node_urls["HCM"]
    with pytest.raises(httpx.TransportError):
        httpx.get(url.replace("https://", "http://") + "/health", timeout=3)
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{url}/health", timeout=3, verify=True)  # the system store lacks the CA


def test_the_stress_tool_commits_and_verifies_through_the_https_routing_source(
    stack: LocalStack, tmp_path: Path
) -> None:
    assert stack.tls is not None
    run = run_cli(
        *("--target", "nodes", "--routing", stack.routing_url, "--orders", "30"),
        *("--node-token", stack.node_token, "--run-id", "tls-stack", "--verify"),
        report=tmp_path / "report.json",
        env={envvars.ORDER_CA_BUNDLE: str(stack.tls.ca_bundle)},
    )
    assert run.code == 0, run.stdout + run.stderr
    assert run.report is not None
    assert run.report["totals"]["committed"] == 30
    assert run.report["verify"]["found_exactly_once"] == 30


@pytest.mark.skipif(not prometheus_available(), reason="prometheus is not installed")
def test_prometheus_scrapes_every_node_and_follower_over_https(stack: LocalStack) -> None:
    assert stack.prometheus_url
    expected = len(stack.node_urls) + len(stack.follower_urls) + 1  # + the routing source

    def all_up() -> bool:
        samples = query(stack.prometheus_url, "up == 1")
        return len(samples) == expected

    wait_until(all_up, 30, 0.5, f"{expected} targets up over HTTPS")
    verify = tls.httpx_verify({envvars.ORDER_CA_BUNDLE: str(stack.tls.ca_bundle)})  # type: ignore[union-attr]
    answer = httpx.get(f"{stack.node_urls['DN']}/metrics", verify=verify, timeout=5)
    assert answer.status_code == 200 and "warehouse_" in answer.text
