"""A full disk, for real (a small tmpfs filled to ENOSPC), and the node's way back by itself.

What can fail here: an order answered 201 that is not stored, a 503 for an order that *is*
stored (a sender would put it elsewhere too), and the finding of the fault campaign
(docs/chaos.md#findings): a node that stays ``degraded`` after the disk has room again,
because routing sends a degraded node no orders and only an order's commit cleared it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chaos.cluster import mount_tmpfs, unmount
from chaos.faults import fill_disk
from localmode.processes import wait_until
from tests.conftest import NodeFactory
from tests.node.conftest import seed_order

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounts a tmpfs (root)")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs (listed before ``node_factory``, so it is unmounted after the node)."""
    path = tmp_path / "small-disk"
    path.mkdir()
    mount_tmpfs(path, "16m")
    try:
        yield path
    finally:
        unmount(path)


def status(http: httpx.Client) -> str:
    return str(http.get("/health").json()["status"])


def post_until_refused(http: httpx.Client) -> str:
    """POST orders to a node whose disk is full until one is refused; that order's id. The WAL
    may still have room for a few, so the first answers can be 201s."""
    for i in range(50):
        order_id = f"full-{i}"
        answer = http.post("/order", json=seed_order(order_id, customer_name="x" * 200))
        assert answer.status_code in (201, 503), answer.text
        if answer.status_code == 503:
            assert "retry-after" in answer.headers  # rolled back: "did not reach"
            return order_id
    raise AssertionError("the full disk never refused an order")


def test_a_node_leaves_degraded_by_itself_once_the_disk_has_room(
    small_disk: Path, node_factory: NodeFactory
) -> None:
    node = node_factory("HCM", data_dir=small_disk, env={"NODE_WRITE_PROBE_INTERVAL": "0.2"})
    with node.client(timeout=30) as http:
        assert http.post("/order", json=seed_order("before")).status_code == 201
        filler = fill_disk(small_disk)
        refused = post_until_refused(http)
        assert status(http) == "degraded"

        filler.unlink()
        # No order is sent meanwhile (routing would send none to a degraded node).
        wait_until(lambda: status(http) == "ok", 30, what="the node healthy again by itself")
        assert "order database writable again" in node.log_path.read_text()
        assert http.post("/order", json=seed_order("after")).status_code == 201
        assert http.get(f"/order/{refused}").status_code == 404  # the 503 stored nothing
        assert http.get("/order/before").status_code == 200


def test_the_probe_keeps_trying_while_the_disk_stays_full(
    small_disk: Path, node_factory: NodeFactory
) -> None:
    node = node_factory("HCM", data_dir=small_disk, env={"NODE_WRITE_PROBE_INTERVAL": "0.2"})
    with node.client(timeout=30) as http:
        assert http.post("/order", json=seed_order("before")).status_code == 201
        filler = fill_disk(small_disk)
        post_until_refused(http)
        assert status(http) == "degraded"
        # Several probe intervals later, still full: still degraded (a probe must really write).
        wait_until(
            lambda: '"write probe failed"' in node.log_path.read_text(),
            30,
            what="a failed write probe",
        )
        assert status(http) == "degraded"
        assert "could not be written" in str(http.get("/health").json()["database"])
        filler.unlink()
        wait_until(lambda: status(http) == "ok", 30, what="the node healthy again by itself")
