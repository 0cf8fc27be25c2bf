"""Reads never 500 on a damaged database (issue 16, part 3), on a real node process.

Rows are damaged under the running node the ways a bad page reads back: a NULL payload (what
the issue found after a cut page), a payload cut short, a column of the wrong type.
"""

from __future__ import annotations

import sqlite3

from tests.conftest import NodeFactory
from tests.node.conftest import seed_order


def damage(db: str) -> None:
    """NULL payload for ``b``, cut payload for ``c``, a BLOB region for ``d``.

    The NOT NULL constraint is dropped first through ``writable_schema`` (SQLite's documented
    way to edit a schema in place): a damaged page is not bound by constraints either.
    """
    with sqlite3.connect(db, isolation_level=None) as conn:
        conn.execute("PRAGMA writable_schema = ON")
        conn.execute(
            "UPDATE sqlite_master SET sql = replace(sql, 'payload      TEXT NOT NULL', "
            "'payload TEXT') WHERE name = 'orders'"
        )
    with sqlite3.connect(db, isolation_level=None) as conn:
        conn.execute("UPDATE orders SET payload = NULL WHERE order_id = 'b'")
        conn.execute("UPDATE orders SET payload = substr(payload, 1, 20) WHERE order_id = 'c'")
        conn.execute("UPDATE orders SET home_region = X'00ff' WHERE order_id = 'd'")


def test_damaged_rows_get_a_named_5xx_or_are_skipped_and_counted(
    node_factory: NodeFactory,
) -> None:
    node = node_factory("HCM")
    with node.client() as http:
        for order_id in "abcde":
            assert http.post("/order", json=seed_order(order_id)).status_code == 201
        damage(str(node.data_dir / "orders.db"))

        for order_id, problem in (
            ("b", "payload is NULL"),
            ("c", "not a JSON object"),
            ("d", "home_region is bytes"),
        ):
            response = http.get(f"/order/{order_id}")
            assert response.status_code == 503, response.text
            [error] = response.json()["detail"]
            assert error["field"] == "node"
            assert f"order {order_id!r}" in error["message"] and problem in error["message"]
        assert http.get("/order/a").status_code == 200

        page = http.get("/orders", params={"limit": 2})
        assert page.status_code == 200 and page.headers["x-damaged-rows"] == "1"
        assert [o["order_id"] for o in page.json()["orders"]] == ["a"]
        rest = http.get("/orders", params={"cursor": page.json()["next_cursor"]})
        assert [o["order_id"] for o in rest.json()["orders"]] == ["e"]
        assert rest.headers["x-damaged-rows"] == "2"

        replay = http.post("/order", json=seed_order("b"))
        assert replay.status_code == 503
        assert "payload is NULL" in replay.json()["detail"][0]["message"]

        health = http.get("/health").json()
        assert health["status"] == "degraded" and "damaged" in health["database"]
        metrics = http.get("/metrics").text
        failures = [
            float(line.split()[-1])
            for line in metrics.splitlines()
            if line.startswith("warehouse_db_read_failures_total")
        ]
        assert failures and failures[0] >= 7
    assert "order database read failed" in node.log_path.read_text()
