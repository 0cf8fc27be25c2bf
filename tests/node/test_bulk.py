"""POST /orders against real node processes: per-order statuses, whole-body refusals, metrics,
logs, and that every acknowledged order survives a kill -9."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from localmode.processes import wait_until
from tests.conftest import NodeFactory
from tests.node.conftest import seed_order
from tests.node.test_bad_input import stored_count
from tests.node.test_health_metrics import samples


def post_bulk(client: httpx.Client, orders: list[Any]) -> list[dict[str, Any]]:
    response = client.post("/orders", json={"orders": orders})
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    assert len(results) == len(orders)
    return results


def test_a_mixed_batch_gets_the_exact_status_of_each_order(
    client: httpx.Client, order_id: str
) -> None:
    stored_before = client.post("/order", json=seed_order(f"{order_id}-old")).json()
    batch: list[Any] = [
        seed_order(f"{order_id}-new"),  # 201
        seed_order(f"{order_id}-old"),  # 200: stored by POST /order before
        {**seed_order(f"{order_id}-old"), "customer_name": "Someone Else"},  # 409
        seed_order(f"{order_id}-bad", region="SG"),  # 422 on region
        seed_order(f"{order_id}-twice", region="DN"),  # 201 ...
        seed_order(f"{order_id}-twice", region="dn"),  # ... 200: the same order, respelled
        {**seed_order(f"{order_id}-twice", region="DN"), "customer_name": "Other"},  # 409
        "not an order",  # 422 on body
    ]
    count = stored_count(client)
    results = post_bulk(client, batch)
    assert [r["status"] for r in results] == [201, 200, 409, 422, 201, 200, 409, 422]
    assert [r["order_id"] for r in results] == [
        f"{order_id}-new",
        f"{order_id}-old",
        f"{order_id}-old",
        f"{order_id}-bad",
        f"{order_id}-twice",
        f"{order_id}-twice",
        f"{order_id}-twice",
        None,
    ]
    assert results[1]["order"] == stored_before
    assert results[2]["stored"] == stored_before
    assert results[2]["detail"][0]["field"] == "order_id"
    assert results[3]["detail"][0]["field"] == "region"
    assert results[7]["detail"][0]["field"] == "body"
    assert results[5]["order"] == results[4]["order"]
    assert results[4]["order"]["fulfilled_by"] == "HCM"
    assert results[4]["order"]["home_region"] == "DN"
    # Exactly the two new valid orders were written, and each reads back as answered.
    assert stored_count(client) == count + 2
    for result in (results[0], results[4]):
        assert client.get(f"/order/{result['order_id']}").json() == result["order"]
    assert client.get(f"/order/{order_id}-bad").status_code == 404


def test_the_bodies_match_what_post_order_answers(client: httpx.Client, order_id: str) -> None:
    """A bulk result carries the very body POST /order gives for the same order."""
    payload = seed_order(order_id, items=[{"sku": "A", "quantity": 2, "unit_price": "1.5"}])
    [bulk] = post_bulk(client, [payload])
    single = client.post("/order", json=payload)
    assert (bulk["status"], single.status_code) == (201, 200)
    assert bulk["order"] == single.json()
    clash = {**payload, "customer_name": "Other"}
    [bulk_clash] = post_bulk(client, [clash])
    single_clash = client.post("/order", json=clash).json()
    assert bulk_clash["detail"] == single_clash["detail"]
    assert bulk_clash["stored"] == single_clash["stored"]
    bad = {**payload, "order_id": f"{order_id}-x", "total": "-1"}
    [bulk_bad] = post_bulk(client, [bad])
    assert bulk_bad["detail"] == client.post("/order", json=bad).json()["detail"]


WHOLE_BODY_CASES: list[tuple[str, bytes, str]] = [
    ("malformed JSON", b'{"orders": [', "body"),
    ("empty body", b"", "body"),
    ("a list, not an object", b"[]", "body"),
    ("no orders field", b"{}", "orders"),
    ("orders not a list", b'{"orders": {"order_id": "x"}}', "orders"),
    ("empty list", b'{"orders": []}', "orders"),
    ("unknown field", b'{"orders": [], "dry_run": true}', "dry_run"),
    ("invalid UTF-8", b'{"orders": ["\xff"]}', "body"),
]


@pytest.mark.parametrize(
    ("case", "body", "field"), WHOLE_BODY_CASES, ids=[c[0] for c in WHOLE_BODY_CASES]
)
def test_a_malformed_body_is_refused_as_a_whole(
    client: httpx.Client, case: str, body: bytes, field: str
) -> None:
    count = stored_count(client)
    response = client.post("/orders", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["detail"]] == [field]
    assert stored_count(client) == count


def test_too_many_orders_or_too_many_bytes_write_nothing(node_factory: NodeFactory) -> None:
    node = node_factory("HN", env={"NODE_MAX_BULK": "3", "NODE_MAX_BULK_BODY_BYTES": "4096"})
    with node.client() as http:
        four = [seed_order(f"limit-{i}", "HN") for i in range(4)]
        response = http.post("/orders", json={"orders": four})
        assert response.status_code == 422
        [error] = response.json()["detail"]
        assert error["field"] == "orders" and "between 1 and 3" in error["message"]
        big = [seed_order("big-1", "HN", customer_name="x" * 5000)]
        assert http.post("/orders", json={"orders": big}).status_code == 413
        # The bulk limit is its own: POST /order keeps the 64 KiB one.
        assert http.post("/order", json=big[0]).status_code == 422  # name too long, not 413
        assert stored_count(http) == 0
        assert [r["status"] for r in post_bulk(http, four[:3])] == [201, 201, 201]
        metrics = samples(http)
    assert metrics[("warehouse_bulk_requests_total", (("result", "refused"),))] == 1
    assert metrics[("warehouse_bulk_requests_total", (("result", "accepted"),))] == 1


def test_metrics_count_bulk_requests_and_each_order(node_factory: NodeFactory) -> None:
    node = node_factory("DN")
    with node.client() as http:
        post_bulk(
            http,
            [
                seed_order("m-1", "DN"),
                seed_order("m-1", "DN"),
                seed_order("m-2", "HCM"),
                seed_order("m-3", "SG"),
            ],
        )
        metrics = samples(http)
    bulk = "warehouse_bulk_orders_total"
    every = "warehouse_orders_total"
    for name in (bulk, every):
        assert metrics[(name, (("home_region", "DN"), ("outcome", "created")))] == 1
        assert metrics[(name, (("home_region", "DN"), ("outcome", "duplicate")))] == 1
        assert metrics[(name, (("home_region", "HCM"), ("outcome", "created")))] == 1
        assert metrics[(name, (("home_region", "unknown"), ("outcome", "rejected")))] == 1
    assert metrics[("warehouse_bulk_request_orders_count", ())] == 1
    assert metrics[("warehouse_bulk_request_orders_sum", ())] == 4


def test_one_log_line_names_every_stored_id(node_factory: NodeFactory) -> None:
    node = node_factory("HN")
    with node.client() as http:
        post_bulk(
            http,
            [
                seed_order("log-a", "HN"),
                seed_order("log-a", "HN"),
                {**seed_order("log-a", "HN"), "customer_name": "Other"},
                seed_order("log-b", "DN"),
                seed_order("log-c", "XX"),
            ],
        )
    node.process.stop()
    events = [json.loads(line) for line in node.log_path.read_text().splitlines() if line]
    [stored] = [e for e in events if e["event"] == "bulk stored"]
    assert stored["created_ids"] == ["log-a", "log-b"]
    assert stored["duplicate_ids"] == ["log-a"]
    assert stored["outcomes"] == {"created": 2, "duplicate": 1, "conflict": 1, "rejected": 1}
    assert stored["fallback"] == 1  # log-b belongs to DN
    conflict = [e for e in events if e["event"] == "order conflict"]
    assert conflict and conflict[0]["order_id"] == "log-a" and conflict[0]["level"] == "warning"
    assert [e["order_id"] for e in events if e["event"] == "order rejected"] == ["log-c"]


def test_every_acknowledged_order_survives_kill_9_during_bulk_requests(
    node_factory: NodeFactory,
) -> None:
    """Senders keep bulk requests going; the node is killed the instant the first answer
    arrives, others still in flight. Every order answered 201/200 must be there after restart."""
    node = node_factory("HCM")
    acknowledged: list[dict[str, Any]] = []
    first_answer = threading.Event()
    lock = threading.Lock()

    def sender(worker: int) -> None:
        with httpx.Client(base_url=node.url, timeout=30.0) as http:
            for round_ in range(50):
                orders = [seed_order(f"k9-{worker}-{round_}-{i}") for i in range(200)]
                try:
                    response = http.post("/orders", json={"orders": orders})
                except httpx.HTTPError:
                    return  # the node is gone: whatever was in flight is in doubt
                with lock:
                    acknowledged.extend(
                        r["order"] for r in response.json()["results"] if r["status"] in (200, 201)
                    )
                first_answer.set()

    threads = [threading.Thread(target=sender, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    assert first_answer.wait(60.0), "no bulk answer within 60 s"
    node.process.kill()
    for thread in threads:
        thread.join(60.0)
    with lock:
        answered = list(acknowledged)
    assert answered
    node.process.start()
    with node.client() as http:
        stored: dict[str, Any] = {}
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
            page = http.get("/orders", params=params).json()
            stored.update((o["order_id"], o) for o in page["orders"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
    missing = [o["order_id"] for o in answered if stored.get(o["order_id"]) != o]
    assert not missing, f"{len(missing)} acknowledged orders lost, e.g. {missing[:3]}"


def test_a_bulk_the_replica_did_not_confirm_is_504_per_order_then_replays(
    node_factory: NodeFactory, tmp_path: Path
) -> None:
    """Committed locally, not acknowledged by the replica: 504 (in doubt: retry here only),
    not 503 (which says "not stored" and would let a sender take the order elsewhere)."""
    from tests.node.test_replication import break_replica, mend_replica, replicated_node
    from tests.support.replica import replica_order_ids

    node, url, replica_dir = replicated_node(node_factory, tmp_path, NODE_REPLICATION_TIMEOUT="2")
    batch = [seed_order("rb-1"), seed_order("rb-2")]
    with node.client(timeout=30) as http:
        hidden = break_replica(replica_dir)
        refused = post_bulk(http, batch)
        assert [r["status"] for r in refused] == [504, 504]
        assert "not acknowledged by the replica" in refused[0]["detail"][0]["message"]
        mend_replica(replica_dir, hidden)
        wait_until(
            lambda: http.get("/health").json()["status"] == "ok", 30, what="replication back"
        )
        assert [r["status"] for r in post_bulk(http, batch)] == [200, 200]
    assert sorted(replica_order_ids(url, tmp_path / "check")) == ["rb-1", "rb-2"]
