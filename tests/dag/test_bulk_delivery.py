"""The batch path: one POST /orders per assigned node per try, against real nodes.

Tries are run by calling the process task's body (``Runner`` of test_delivery_rules), with the
fault proxy scripting what each bulk request gets. The rules are those of single orders: an
answer lost after the node stored the batch is retried there (replayed, never re-routed); a
batch no request of which reached its dead node moves to the fallback on the last try; one that
may have reached it stays, and its home follower can settle it.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from localmode.processes import free_port
from order_contracts.run_summary import per_order_results
from tests.conftest import NodeFactory, RunningNode
from tests.dag.test_delivery_rules import Runner, urls
from tests.node.test_health_metrics import samples
from tests.support.fault_proxy import FaultProxy
from tests.support.orders import order, stored_ids, write_routing

BULK = 1000


def bulk_requests(node: RunningNode) -> float:
    with node.client() as http:
        metrics = samples(http)
    return metrics.get(("warehouse_bulk_requests_total", (("result", "accepted"),)), 0.0)


def test_a_batch_is_one_bulk_request_per_node_and_lands_once_each(
    tmp_path: Path, three_nodes: dict[str, RunningNode]
) -> None:
    batch = [order(region) for region in ["HCM", "HN", "DN"] * 20]
    routing = write_routing(tmp_path / "r.json", urls(three_nodes))
    runner = Runner({"orders": batch}, routing, bulk_size=BULK)

    outcome = runner.run(1)

    assert outcome.counts == {"committed": 60}
    for region, node in three_nodes.items():
        assert bulk_requests(node) == 1, region
        ids = stored_ids(node)
        assert sorted(ids) == sorted(o["order_id"] for o in batch if o["region"] == region)
    # The XCom names no order of this all-usual run, yet the reader gives each back.
    xcom = outcome.xcom("batch")
    assert xcom["notable"] == {} and xcom["undelivered"] == [] and "orders" not in xcom
    entries = per_order_results(xcom, [(o["order_id"], o["region"]) for o in batch])
    assert {e["status"] for e in entries.values()} == {"committed"} and len(entries) == 60


def test_chunks_follow_the_bulk_size_and_mixed_answers_are_read_per_order(
    tmp_path: Path, three_nodes: dict[str, RunningNode]
) -> None:
    stored, clash = order("HN"), order("HN")
    with three_nodes["HN"].client() as http:
        assert http.post("/order", json=stored).status_code == 201
        assert http.post("/order", json={**clash, "customer_name": "Other"}).status_code == 201
    batch = [stored, clash] + [order("HN") for _ in range(8)]
    routing = write_routing(tmp_path / "r.json", urls(three_nodes))
    runner = Runner({"orders": batch}, routing, max_tries=1, bulk_size=4)

    outcome = runner.run(1)

    assert bulk_requests(three_nodes["HN"]) == 3  # 10 orders, at most 4 per request
    statuses = {r["order_id"]: r["status"] for r in outcome.results}
    assert statuses.pop(stored["order_id"]) == "duplicate"
    assert statuses.pop(clash["order_id"]) == "conflict"
    assert set(statuses.values()) == {"committed"}
    assert len(stored_ids(three_nodes["HN"])) == 10
    # a conflict is final: reported with the refusals, never retried (order_contracts.outcomes)
    [problem] = outcome.rejected
    assert outcome.undelivered == []
    assert clash["order_id"] in problem and "different payload" in problem


def test_a_lost_bulk_answer_is_retried_on_the_same_node_and_replayed(
    tmp_path: Path, three_nodes: dict[str, RunningNode]
) -> None:
    batch = [order("HCM") for _ in range(25)]
    with FaultProxy(three_nodes["HCM"].url, script=["forward_reset"]) as proxy:
        routing = write_routing(tmp_path / "r.json", urls(three_nodes, HCM=proxy.url))
        runner = Runner({"orders": batch}, routing, bulk_size=BULK)
        first = runner.run(1)
        second = runner.run(2)

    assert sorted(first.pending) == sorted(o["order_id"] for o in batch)
    assert proxy.posts == ["forward_reset", "forward"]  # one bulk request per try
    assert second.pending == [] and second.counts == {"duplicate": 25}
    assert sorted(stored_ids(three_nodes["HCM"])) == sorted(o["order_id"] for o in batch)
    assert stored_ids(three_nodes["DN"]) == stored_ids(three_nodes["HN"]) == []
    xcom = second.xcom("batch")
    assert len(xcom["notable"]) == 25  # replayed at the second attempt: not the usual case
    assert {n["attempts"] for n in xcom["notable"].values()} == {2}


def test_on_the_last_try_a_batch_leaves_a_node_no_request_reached(
    tmp_path: Path, three_nodes: dict[str, RunningNode]
) -> None:
    batch = [order("HCM") for _ in range(12)]
    routing = write_routing(tmp_path / "r.json", urls(three_nodes))
    runner = Runner({"orders": batch}, routing, max_tries=2, bulk_size=BULK)
    three_nodes["HCM"].process.stop()

    first = runner.run(1)  # connection refused: provably not delivered
    last = runner.run(2)

    assert len(first.pending) == 12
    assert Counter((r["status"], r["assigned_node"]) for r in last.results) == {
        ("committed", "DN"): 12
    }
    assert sorted(stored_ids(three_nodes["DN"])) == sorted(o["order_id"] for o in batch)
    assert bulk_requests(three_nodes["DN"]) == 1
    entries = per_order_results(last.xcom("batch"), [(o["order_id"], "HCM") for o in batch])
    assert {(e["assigned_node"], e["fallback_used"]) for e in entries.values()} == {("DN", True)}


def test_a_batch_that_may_have_reached_its_dead_home_is_settled_by_its_follower(
    tmp_path: Path, three_nodes: dict[str, RunningNode]
) -> None:
    """The bulk request is forwarded (HCM stores every order), the answer lost, HCM goes down:
    not one order is re-routed; the home follower (the real HCM's reads) places them at home."""
    batch = [order("HCM") for _ in range(15)]
    with FaultProxy(
        three_nodes["HCM"].url, script=["forward_reset"], default="reset", health_down_after=1
    ) as proxy:
        routing = write_routing(
            tmp_path / "r.json",
            urls(three_nodes, HCM=proxy.url),
            read_urls={"HCM": [f"http://127.0.0.1:{free_port()}", three_nodes["HCM"].url]},
        )
        runner = Runner({"orders": batch}, routing, max_tries=2, bulk_size=BULK)
        first = runner.run(1)
        last = runner.run(2)

    assert len(first.pending) == 15
    assert {(r["status"], r["assigned_node"]) for r in last.results} == {("placed_at_home", "HCM")}
    assert proxy.posts == ["forward_reset"]  # nothing sent anywhere once in doubt
    assert stored_ids(three_nodes["DN"]) == stored_ids(three_nodes["HN"]) == []


def test_a_node_that_refuses_the_bulk_as_a_whole_gets_the_orders_one_by_one(
    tmp_path: Path, node_factory: NodeFactory
) -> None:
    node = node_factory("HCM", env={"NODE_MAX_BULK": "5"})
    batch = [order("HCM") for _ in range(8)]
    runner = Runner(
        {"orders": batch}, write_routing(tmp_path / "r.json", {"HCM": node.url}), bulk_size=BULK
    )

    outcome = runner.run(1)

    assert outcome.counts == {"committed": 8}
    assert sorted(stored_ids(node)) == sorted(o["order_id"] for o in batch)
    assert bulk_requests(node) == 0
