"""The fault proxy in front of a real node: it forwards, holds (partition), delays (slow), and
passes "connection refused" through when the node is dead."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from chaos.cluster import ProxyControl
from localmode.processes import ManagedProcess, free_port, wait_until
from tests.conftest import RunningNode


@pytest.fixture
def proxied(node_factory, tmp_path) -> Iterator[tuple[RunningNode, str, ProxyControl]]:
    node = node_factory("HCM")
    listen, control = free_port(), free_port()
    url = f"http://127.0.0.1:{listen}"
    argv = [sys.executable, "-m", "chaos.proxy", "--listen", str(listen)]
    argv += ["--target", node.url.removeprefix("http://"), "--control", str(control)]
    proxy = ManagedProcess("proxy", argv, tmp_path / "proxy.log", ready_url=f"{url}/health")
    proxy.start(ready_timeout=30)
    try:
        yield node, url, ProxyControl(control)
    finally:
        proxy.stop(grace=2)


def order(order_id: str) -> dict[str, str]:
    return {"order_id": order_id, "customer_name": "Proxy Test", "region": "HCM"}


def test_partition_holds_requests_and_delivers_them_when_it_heals(proxied) -> None:
    node, url, control = proxied
    with httpx.Client(base_url=url, timeout=1.0) as client:
        assert client.post("/order", json=order("px-1")).status_code == 201
        assert control.send("drop").startswith("ok drop")
        with pytest.raises(httpx.TimeoutException):  # sent, never answered: in doubt
            client.post("/order", json=order("px-2"))
        with pytest.raises(httpx.TimeoutException):
            client.get("/health")
        with node.client() as direct:
            assert direct.get("/order/px-2").status_code == 404  # held, not delivered
            control.send("pass")
            # the held bytes arrive after the heal, as retransmissions would: stored after all
            wait_until(lambda: direct.get("/order/px-2").status_code == 200, 10, what="px-2")
        assert client.get("/health").status_code == 200


def test_slow_adds_latency_both_ways_and_bad_control_lines_are_refused(proxied) -> None:
    _, url, control = proxied
    with httpx.Client(base_url=url, timeout=5.0) as client:
        started = time.monotonic()
        client.get("/health")
        fast = time.monotonic() - started
        control.send("slow 0.3")
        started = time.monotonic()
        assert client.get("/health").status_code == 200
        assert time.monotonic() - started >= 0.6 > fast
    with pytest.raises(RuntimeError, match="unknown command"):
        control.send("explode")
    with pytest.raises(RuntimeError, match="not a number"):
        control.send("slow soon")


def test_a_dead_node_is_connection_refused_through_the_proxy(proxied) -> None:
    node, url, _ = proxied
    node.process.kill()
    with httpx.Client(base_url=url, timeout=2.0) as client:

        def refused() -> bool:
            try:
                client.get("/health")
            except httpx.ConnectError:
                return True
            except httpx.HTTPError:
                return False
            return False

        # the first connection after the crash is reset; from then on the port refuses
        wait_until(refused, 10, what="connection refused through the proxy")
        node.process.start(ready_timeout=60)
        wait_until(lambda: not refused(), 10, what="the proxy to listen again")
