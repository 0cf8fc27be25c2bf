"""A running node notices losing its database file (issue 16, part 2), on real node processes.

The bar: within 2 s of the fault the node answers writes 503 + Retry-After and health ``down``;
no 201/200 is sent for an order that is not in a file the node (or its operator) will reopen;
the next start refuses rather than serving an empty shard.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import time
from pathlib import Path

import httpx

from localmode.processes import free_port, wait_until
from tests.conftest import NodeFactory, RunningNode
from tests.node.conftest import run_node, seed_order

DETECTION_BAR_SECONDS = 2.0


def health(node: RunningNode) -> dict[str, object]:
    with node.client() as http:
        body: dict[str, object] = http.get("/health").json()
        return body


def tombstone(node: RunningNode) -> dict[str, object]:
    path = node.data_dir / "orders.db.lost"
    return json.loads(path.read_text()) if path.exists() else {}


async def post_until(
    node: RunningNode, stop: asyncio.Event, results: list[tuple[str, int, float]], worker: int
) -> None:
    """POST fresh orders until ``stop``; record (order_id, status, time the answer came)."""
    async with httpx.AsyncClient(base_url=node.url, timeout=30) as http:
        i = 0
        while not stop.is_set():
            order_id = f"w{worker}-{i}"
            i += 1
            try:
                response = await http.post("/order", json=seed_order(order_id))
            except httpx.TransportError:
                continue
            results.append((order_id, response.status_code, time.monotonic()))
            if response.status_code == 503:
                assert response.headers["retry-after"] == "1"


def test_removing_the_data_directory_under_load_acknowledges_nothing_lost(
    node_factory: NodeFactory,
) -> None:
    node = node_factory("HCM")
    results: list[tuple[str, int, float]] = []
    timeline: dict[str, float] = {}

    async def scenario() -> None:
        stop = asyncio.Event()
        workers = [asyncio.create_task(post_until(node, stop, results, w)) for w in range(16)]
        async with httpx.AsyncClient(base_url=node.url, timeout=30) as http:
            while sum(1 for _, status, _ in results if status == 201) < 300:
                await asyncio.sleep(0.05)
            timeline["fault"] = time.monotonic()
            # Renamed away, then deleted: one atomic step for the node to notice (rmtree alone
            # races the node, which re-creates the directory for its tombstone at once).
            gone = node.data_dir.with_name("removed")
            node.data_dir.rename(gone)
            await asyncio.to_thread(shutil.rmtree, gone)
            deadline = time.monotonic() + 60
            while (await http.get("/health")).json()["status"] != "down":
                assert time.monotonic() < deadline, "health never turned down"
                await asyncio.sleep(0.02)
            timeline["down"] = time.monotonic()
            await asyncio.sleep(1.0)  # keep writing at the node after it went down
        stop.set()
        await asyncio.gather(*workers)

    asyncio.run(scenario())
    assert timeline["down"] - timeline["fault"] <= DETECTION_BAR_SECONDS
    after_down = [(o, s) for o, s, at in results if at > timeline["down"]]
    assert after_down and all(s == 503 for _, s in after_down), after_down[:5]
    acknowledged = {o for o, s, _ in results if s in (200, 201)}
    report = health(node)
    assert report["status"] == "down" and "removed" in str(report["database"])
    log = node.log_path.read_text()
    assert "order database lost" in log and "data directory" in log

    # What the lost file held was copied out through the descriptors still open.
    wait_until(lambda: bool(tombstone(node).get("rescued")), 60, what="the rescue copy")
    rescued = Path(str(tombstone(node)["rescued"]))
    node.process.stop(grace=10.0)

    # The next start refuses (one line) instead of serving an empty shard...
    port = str(free_port())
    refused = run_node(
        "--region", "HCM", "--data-dir", str(node.data_dir), "--host", "127.0.0.1", "--port", port
    )  # fmt: skip
    assert refused.returncode == 2 and "lost its order database" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and str(rescued) in refused.stderr

    # ...and every order it ever acknowledged is in the rescued copy: 0 silently lost.
    with sqlite3.connect(rescued) as db:
        stored = {row[0] for row in db.execute("SELECT order_id FROM orders")}
    assert acknowledged and acknowledged <= stored
    rescued.replace(node.data_dir / "orders.db")
    (node.data_dir / "orders.db.lost").unlink()
    node.process.start()
    with node.client() as http:
        assert http.get("/health").json()["orders"] == len(stored)


def test_an_idle_node_notices_its_database_replaced(node_factory: NodeFactory) -> None:
    node = node_factory("HCM")
    with node.client() as http:
        assert http.post("/order", json=seed_order("before-swap")).status_code == 201
    db = node.data_dir / "orders.db"
    shutil.copy(db, node.data_dir / "copy.db")
    swapped = time.monotonic()
    (node.data_dir / "copy.db").replace(db)
    wait_until(lambda: health(node)["status"] == "down", 60, 0.02, what="health down")
    assert time.monotonic() - swapped <= DETECTION_BAR_SECONDS
    assert "replaced" in str(health(node)["database"])
    with node.client() as http:
        refused = http.post("/order", json=seed_order("after-swap"))
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        assert "lost" in refused.json()["detail"][0]["message"]
        assert http.get("/order/before-swap").status_code == 503
