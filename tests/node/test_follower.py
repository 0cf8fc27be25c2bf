"""Read followers (``--role follower``): a real primary, a real follower, one ``file://`` replica.

What can fail: a follower that serves before it restored anything (and so answers 404 for
orders the primary has), one that never sees new orders (SQLite's cache over a file Litestream
rewrites), one that takes a write, one that stops answering when its primary dies.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from localmode.processes import wait_until
from tests.conftest import NodeFactory, RunningNode
from tests.node.conftest import seed_order
from tests.node.test_lifecycle import run_node


def _pair(node_factory: NodeFactory, tmp_path: Path) -> tuple[RunningNode, RunningNode]:
    url = f"file://{tmp_path / 'replica'}"
    primary = node_factory("HN", env={"NODE_REPLICA_URL": url})
    follower = node_factory(
        "HN",
        env={"NODE_REPLICA_URL": url, "NODE_ROLE": "follower", "NODE_PRIMARY_URL": primary.url},
    )
    return primary, follower


def _visible(follower: RunningNode, order_id: str) -> bool:
    return httpx.get(f"{follower.url}/order/{order_id}", timeout=5).status_code == 200


def test_a_follower_serves_what_the_primary_took_and_keeps_up(
    node_factory: NodeFactory, tmp_path: Path
) -> None:
    primary, follower = _pair(node_factory, tmp_path)
    with primary.client() as http:
        stored = http.post("/order", json=seed_order("f-1", "HN")).json()
    wait_until(lambda: _visible(follower, "f-1"), 30, what="f-1 on the follower")
    with follower.client() as http:
        assert http.get("/order/f-1").json() == stored
        # New orders keep arriving on the same (reconnecting) reader connections.
        with primary.client() as writer:
            for i in range(2, 12):
                assert writer.post("/order", json=seed_order(f"f-{i}", "HN")).status_code == 201
        wait_until(lambda: _visible(follower, "f-11"), 30, what="f-11 on the follower")
        page = http.get("/orders", params={"limit": 100}).json()
        assert [o["order_id"] for o in page["orders"]] == [f"f-{i}" for i in range(1, 12)]
        report = http.get("/health").json()
        assert report["role"] == "follower" and report["status"] == "ok"
        wait_until(
            lambda: http.get("/health").json()["orders"] == 11, 30, what="the follower's count"
        )
        replication = http.get("/health").json()["replication"]
        assert replication["mode"] == "follower" and replication["txid"] > 0
        assert {"lag_seconds", "lag_transactions", "replica_txid"} <= set(replication)
        assert "warehouse_replication_lag_seconds" in http.get("/metrics").text


def test_a_follower_refuses_writes_naming_its_primary(
    node_factory: NodeFactory, tmp_path: Path
) -> None:
    primary, follower = _pair(node_factory, tmp_path)
    with follower.client() as http:
        for path, body in (("/order", seed_order("w-1", "HN")), ("/orders", [seed_order("w-2")])):
            refused = http.post(path, json=body)
            assert refused.status_code == 421
            assert refused.json()["primary"] == primary.url
            assert primary.url in refused.json()["detail"][0]["message"]
    with primary.client() as http:
        assert http.get("/order/w-1").status_code == 404  # nothing was forwarded or stored


def test_a_follower_is_down_until_it_restored_then_serves_with_its_primary_dead(
    node_factory: NodeFactory, tmp_path: Path
) -> None:
    url = f"file://{tmp_path / 'replica'}"
    follower = node_factory(
        "DN", env={"NODE_REPLICA_URL": url, "NODE_ROLE": "follower"}, wait=False
    )
    # No replica exists yet: the follower answers /health with 503 (down), never a 404 lie.
    wait_until(
        lambda: _status(follower) == 503, 60, what="the follower answering 503 before restore"
    )
    primary = node_factory("DN", env={"NODE_REPLICA_URL": url})
    with primary.client() as http:
        assert http.post("/order", json=seed_order("dead-1", "DN")).status_code == 201
    follower.process.wait_ready(60)
    wait_until(lambda: _visible(follower, "dead-1"), 30, what="dead-1 on the follower")
    primary.process.kill()
    with follower.client() as http:
        assert http.get("/order/dead-1").status_code == 200
        assert http.get("/health").status_code == 200


def _status(node: RunningNode) -> int:
    try:
        return httpx.get(f"{node.url}/health", timeout=2).status_code
    except httpx.HTTPError:
        return 0


def test_a_follower_without_a_replica_url_is_a_one_line_error(tmp_path: Path) -> None:
    result = run_node("--region", "HCM", "--data-dir", str(tmp_path), "--role", "follower")
    assert result.returncode == 2
    assert "NODE_ROLE=follower needs NODE_REPLICA_URL" in result.stderr
    assert "Traceback" not in result.stderr
