"""Durability across kill -9, graceful SIGTERM, restarts, and start-up configuration errors."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import httpx

from tests.conftest import NodeFactory
from tests.node.conftest import run_node, seed_order


def test_order_survives_kill_9_right_after_its_201(node_factory: NodeFactory) -> None:
    node = node_factory("HCM")
    with node.client() as http:
        response = http.post("/order", json=seed_order("durable-1"))
        assert response.status_code == 201
        node.process.kill()  # the instant after the response: no graceful anything
    node.process.start()
    with node.client() as http:
        assert http.get("/order/durable-1").json() == response.json()
        assert http.get("/health").json()["orders"] == 1


def test_a_burst_survives_kill_9_when_the_last_201_arrives(node_factory: NodeFactory) -> None:
    node = node_factory("HN")

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=node.url) as http:
            return await asyncio.gather(
                *(http.post("/order", json=seed_order(f"burst-{i}", "HN")) for i in range(100))
            )

    responses = asyncio.run(burst())
    node.process.kill()
    assert {r.status_code for r in responses} == {201}
    node.process.start()
    with node.client() as http:
        stored = http.get("/orders", params={"limit": 1000}).json()["orders"]
    assert sorted(o["order_id"] for o in stored) == sorted(f"burst-{i}" for i in range(100))


def test_sigterm_finishes_in_flight_orders_and_closes_the_database(
    node_factory: NodeFactory,
) -> None:
    node = node_factory("DN")
    accepted: list[str] = []
    refused: list[int] = []

    async def post_then_terminate() -> None:
        async with httpx.AsyncClient(base_url=node.url, timeout=20) as http:

            async def one(i: int) -> None:
                try:
                    response = await http.post("/order", json=seed_order(f"term-{i}", "DN"))
                except httpx.TransportError:
                    return  # refused after the shutdown began: the client may retry elsewhere
                if response.status_code == 201:
                    accepted.append(f"term-{i}")
                else:
                    refused.append(response.status_code)

            tasks = [asyncio.create_task(one(i)) for i in range(200)]
            # Signal once the first order is through: the rest are in flight or queued.
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            await asyncio.to_thread(node.process.stop, 20.0)
            await asyncio.gather(*tasks)

    asyncio.run(post_then_terminate())
    # uvicorn re-raises the signal once its shutdown is complete: "terminated by SIGTERM".
    assert node.process.proc is not None and node.process.proc.returncode in (0, -15)
    assert refused == []
    assert accepted, "no order got through before the shutdown"
    log = [json.loads(line) for line in node.log_path.read_text().splitlines() if line]
    assert any(e["event"] == "store closed" for e in log)
    # A clean close checkpoints the WAL into the database file.
    wal = Path(node.data_dir / "orders.db-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    with sqlite3.connect(node.data_dir / "orders.db") as db:
        stored = {row[0] for row in db.execute("SELECT order_id FROM orders")}
    assert set(accepted) <= stored


def test_restart_keeps_count_and_serves_the_same_data(node_factory: NodeFactory) -> None:
    node = node_factory("HCM")
    with node.client() as http:
        for i in range(5):
            http.post("/order", json=seed_order(f"restart-{i}"))
    node.restart()
    with node.client() as http:
        assert http.get("/health").json()["orders"] == 5
        assert http.post("/order", json=seed_order("restart-0")).status_code == 200


def test_missing_region_is_a_one_line_error(tmp_path: Path) -> None:
    result = run_node("--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert "NODE_REGION" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_region_outside_order_regions_is_refused(tmp_path: Path) -> None:
    result = run_node("--region", "SG", "--data-dir", str(tmp_path))
    assert result.returncode != 0
    assert "ORDER_REGIONS" in result.stderr
    assert "Traceback" not in result.stderr


def test_unusable_data_dir_is_a_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = run_node("--region", "HCM", "--data-dir", str(blocker / "data"))
    assert result.returncode != 0
    assert "cannot open the order database" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_port_in_the_environment_is_refused(tmp_path: Path) -> None:
    result = run_node("--region", "HCM", "--data-dir", str(tmp_path), env={"PORT": "eighty"})
    assert result.returncode != 0
    assert "PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_database_that_cannot_be_written_gives_503_and_degraded_health(
    node_factory: NodeFactory,
) -> None:
    node = node_factory("HCM")
    with node.client() as http:
        assert http.post("/order", json=seed_order("before-damage")).status_code == 201
        with sqlite3.connect(node.data_dir / "orders.db") as saboteur:
            saboteur.execute("DROP TABLE orders")
        refused = http.post("/order", json=seed_order("after-damage"))
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert refused.json()["detail"][0]["field"] == "node"
        assert "retry" in refused.json()["detail"][0]["message"]
        health = http.get("/health").json()
        assert health["status"] == "degraded"
        assert "orders" in health["database"]
        assert http.get("/order/before-damage").status_code == 503
