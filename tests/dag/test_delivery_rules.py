"""The process task's rules, tried by calling its body directly against real nodes.

Each call of ``run`` is one try of the task (what Airflow does after a retry delay), with a
dict as the task state store — fast, and the same code the DAG runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from order_workflow_lib.assignment import MemoProbe, plan
from order_workflow_lib.delivery import post_order
from order_workflow_lib.intake import read_conf
from order_workflow_lib.outcome import TryOutcome
from order_workflow_lib.processing import LEDGER_KEY, process
from order_workflow_lib.settings import WorkflowSettings

from localmode.nodes import node_process
from localmode.processes import free_port
from order_contracts.outcomes import Delivery
from order_contracts.source import load_routing_document
from tests.conftest import BASE_NODE_ENV, READY_TIMEOUT, NodeFactory, RunningNode
from tests.support.fault_proxy import FaultProxy
from tests.support.orders import order, stored_ids, write_routing


class DictStore(dict[str, Any]):
    """The task state store's get/set, kept in memory between tries."""

    def set(self, key: str, value: Any) -> None:
        self[key] = value


class Runner:
    """Tries of one process task instance: ``run(try_number)``."""

    def __init__(
        self,
        conf: dict[str, Any],
        routing: Path,
        max_tries: int = 4,
        concurrency: int = 4,
        bulk_size: int = 1,
        node_timeout: float = 5.0,
    ):
        # bulk_size=1: one POST /order per order, which the fault scripts here address one by
        # one; the batch path's bulk requests are tried in test_bulk_delivery.py.
        self.settings = WorkflowSettings(
            node_timeout=node_timeout,
            health_timeout=1.0,
            node_concurrency=concurrency,
            bulk_size=bulk_size,
        )
        self.intake = read_conf(conf, 2000)
        self.source = str(routing)
        with MemoProbe(1.0) as probe:
            self.decisions = plan(load_routing_document(self.source), self.intake["orders"], probe)
        self.store = DictStore()
        self.max_tries = max_tries

    def run(self, try_number: int, max_tries: int | None = None) -> TryOutcome:
        return process(
            self.intake,
            self.decisions,
            self.store,
            try_number=try_number,
            max_tries=max_tries or self.max_tries,
            settings=self.settings,
            token=None,
            load_document=lambda: load_routing_document(self.source),
        )


@pytest.fixture(scope="module")
def shared_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    """One HCM node for the classification tests (each sends its own order)."""
    base = tmp_path_factory.mktemp("classify")
    process, url = node_process("HCM", base / "data", base / "logs", env=BASE_NODE_ENV)
    process.start(READY_TIMEOUT)
    try:
        yield RunningNode("HCM", url, process, base / "data", dict(BASE_NODE_ENV))
    finally:
        process.stop(grace=10.0)


def urls(nodes: dict[str, RunningNode], **override: str) -> dict[str, str]:
    return {r: n.url for r, n in nodes.items()} | override


def test_refused_connections_prove_the_order_never_arrived() -> None:
    with httpx.Client(timeout=2.0) as client:
        attempt = post_order(client, "HCM", f"http://127.0.0.1:{free_port()}", order(), {}, 1)

    assert attempt["outcome"] == Delivery.DID_NOT_REACH


@pytest.mark.parametrize(
    ("script", "outcome"),
    [
        ("forward", Delivery.COMMITTED),
        ("503", Delivery.DID_NOT_REACH),  # with Retry-After, as the node answers it
        ("503-bare", Delivery.MAY_HAVE_REACHED),  # a proxy's 503 proves nothing
        ("429", Delivery.DID_NOT_REACH),
        ("421", Delivery.DID_NOT_REACH),
        ("500", Delivery.MAY_HAVE_REACHED),
        ("reset", Delivery.MAY_HAVE_REACHED),
        ("forward_reset", Delivery.MAY_HAVE_REACHED),
        ("409", Delivery.CONFLICT),
        ("422", Delivery.REJECTED),
        ("404", Delivery.REJECTED),
    ],
)
def test_each_answer_is_classified_by_what_it_proves(
    shared_node: RunningNode, script: str, outcome: Delivery
) -> None:
    with FaultProxy(shared_node.url, script=[script]) as proxy, httpx.Client(timeout=5.0) as client:
        attempt = post_order(client, "HCM", proxy.url, order(), {}, 1)

    assert attempt["outcome"] == outcome


def test_a_retried_batch_sends_only_the_orders_not_yet_committed(
    tmp_path: Path, three_nodes: dict[str, RunningNode]
) -> None:
    batch = [order("HCM") for _ in range(20)]
    with FaultProxy(three_nodes["HCM"].url, script=["500"] * 5) as proxy:
        routing = write_routing(tmp_path / "r.json", urls(three_nodes, HCM=proxy.url))
        runner = Runner({"orders": batch}, routing)

        first = runner.run(1)
        second = runner.run(2)

    assert len(first.pending) == 5
    assert second.pending == [] and second.counts == {"committed": 20}
    assert len(proxy.posts) == 25  # 20, then only the 5 that got a 500
    ids = stored_ids(three_nodes["HCM"])
    assert sorted(ids) == sorted(o["order_id"] for o in batch)


def test_a_rejected_order_is_reported_and_never_retried(
    tmp_path: Path, three_nodes: dict[str, RunningNode]
) -> None:
    good, bad = order("HN"), order("HN")
    with FaultProxy(three_nodes["HN"].url, script=["forward", "422"]) as proxy:
        routing = write_routing(tmp_path / "r.json", urls(three_nodes, HN=proxy.url))
        runner = Runner({"orders": [good, bad]}, routing, concurrency=1)

        outcome = runner.run(1)

    statuses = {r["order_id"]: r["status"] for r in outcome.results}
    assert statuses == {good["order_id"]: "committed", bad["order_id"]: "rejected"}
    assert outcome.pending == [] and outcome.undelivered == []
    assert len(outcome.rejected) == 1 and bad["order_id"] in outcome.rejected[0]


def test_a_conflict_is_final_and_never_sent_again(
    tmp_path: Path, three_nodes: dict[str, RunningNode]
) -> None:
    """The real node holds the id with other content (409): no try, no re-run resends it."""
    payload = order("HCM")
    with three_nodes["HCM"].client() as client:
        taken = client.post("/order", json=payload | {"customer_name": "Someone Else"})
        assert taken.status_code == 201
    with FaultProxy(three_nodes["HCM"].url) as proxy:
        routing = write_routing(tmp_path / "r.json", urls(three_nodes, HCM=proxy.url))
        runner = Runner({"order": payload}, routing, max_tries=3)

        first = runner.run(1)
        rerun = runner.run(4, max_tries=6)  # an operator clears the task: still not resent

    assert proxy.posts == ["forward"]
    assert (first.results[0]["status"], first.pending, first.undelivered) == ("conflict", [], [])
    assert len(first.rejected) == 1 and payload["order_id"] in first.rejected[0]
    assert rerun.results[0]["status"] == "conflict"
    assert stored_ids(three_nodes["HCM"]) == [payload["order_id"]]
    assert stored_ids(three_nodes["DN"]) == stored_ids(three_nodes["HN"]) == []


def test_a_try_that_left_no_record_keeps_the_order_on_its_node(
    tmp_path: Path, three_nodes: dict[str, RunningNode]
) -> None:
    routing = write_routing(tmp_path / "r.json", urls(three_nodes))
    runner = Runner({"order": order("HCM")}, routing, max_tries=2)
    three_nodes["HCM"].process.stop()

    # Try 1 died before saving its ledger; try 2 is the last and HCM is down.
    outcome = runner.run(2)

    assert outcome.results[0]["status"] == "ambiguous"
    assert outcome.results[0]["assigned_node"] == "HCM"
    assert "left no record" in outcome.undelivered[0]
    assert stored_ids(three_nodes["DN"]) == stored_ids(three_nodes["HN"]) == []


def test_a_recorded_refusal_lets_the_last_try_move_the_order(
    tmp_path: Path, three_nodes: dict[str, RunningNode]
) -> None:
    routing = write_routing(tmp_path / "r.json", urls(three_nodes))
    payload = order("HCM")
    runner = Runner({"order": payload}, routing, max_tries=2)
    three_nodes["HCM"].process.stop()

    first = runner.run(1)  # connection refused: recorded as not delivered
    last = runner.run(2)

    assert first.pending == [payload["order_id"]]
    result = last.results[0]
    assert (result["status"], result["assigned_node"], result["fallback_used"]) == (
        "committed",
        "DN",
        True,
    )
    assert stored_ids(three_nodes["DN"]) == [payload["order_id"]]


def test_a_rerun_after_an_ambiguous_failure_resends_to_the_same_node_only(
    tmp_path: Path, three_nodes: dict[str, RunningNode]
) -> None:
    payload = order("HCM")
    with FaultProxy(
        three_nodes["HCM"].url, script=["forward_reset"], default="503", health_down_after=1
    ) as proxy:
        routing = write_routing(tmp_path / "r.json", urls(three_nodes, HCM=proxy.url))
        runner = Runner({"order": payload}, routing, max_tries=2)
        runner.run(1)
        failed = runner.run(2)
        # HCM is back; an operator clears the task (Airflow adds the retries to max_tries).
        proxy.default, proxy.health_down_after = "forward", None
        rerun = runner.run(3, max_tries=5)

    assert failed.results[0]["status"] == "ambiguous"
    assert rerun.results[0]["status"] == "duplicate"  # the node had it since try 1
    assert rerun.results[0]["assigned_node"] == "HCM"
    assert stored_ids(three_nodes["HCM"]) == [payload["order_id"]]
    assert stored_ids(three_nodes["DN"]) == []
    assert LEDGER_KEY in runner.store


def test_tls_is_prepared_only_when_a_node_url_is_https() -> None:
    from order_workflow_lib.http import needs_tls

    assert not needs_tls(["http://127.0.0.1:8000", None])
    assert needs_tls(["http://a:8000", "HTTPS://b:8443"])


def test_an_order_no_warehouse_could_take_is_assigned_on_a_later_try(
    tmp_path: Path, node_factory: NodeFactory
) -> None:
    node = node_factory("HCM")
    node.process.stop()
    routing = write_routing(tmp_path / "r.json", {"HCM": node.url})
    payload = order("HCM")
    runner = Runner({"order": payload}, routing, max_tries=3)
    assert runner.decisions["HCM"]["region"] is None  # assign found nobody

    first = runner.run(1)
    node.process.start(READY_TIMEOUT)
    second = runner.run(2)

    assert first.pending == [payload["order_id"]]
    assert (second.results[0]["status"], second.results[0]["assigned_node"]) == ("committed", "HCM")
    assert "assigned on a retry" in second.results[0]["reason"]
    assert stored_ids(node) == [payload["order_id"]]


def test_an_in_doubt_order_its_home_follower_holds_is_placed_at_home_not_rerouted(
    tmp_path: Path, three_nodes: dict[str, RunningNode]
) -> None:
    """HCM stores the order, the answer is lost, HCM stays down: its follower settles it.

    The real HCM node answers the follower's reads here (what a follower restored from HCM's
    replica would hold); the proxy in front of it is HCM's write URL and goes down.
    """
    held, lost = order("HCM"), order("HCM")
    with FaultProxy(
        three_nodes["HCM"].url, script=["forward_reset", "reset"], default="reset"
    ) as proxy:
        proxy.health_down_after = 2
        routing = write_routing(
            tmp_path / "r.json",
            urls(three_nodes, HCM=proxy.url),
            read_urls={"HCM": [f"http://127.0.0.1:{free_port()}", three_nodes["HCM"].url]},
        )
        runner = Runner({"orders": [held, lost]}, routing, max_tries=2, concurrency=1)
        first = runner.run(1)
        last = runner.run(2)

    assert sorted(first.pending) == sorted([held["order_id"], lost["order_id"]])
    results = {r["order_id"]: r for r in last.results}
    placed = results[held["order_id"]]
    assert (placed["status"], placed["assigned_node"], placed["fallback_used"]) == (
        "placed_at_home",
        "HCM",
        False,
    )
    assert "placed at home" in placed["detail"] and three_nodes["HCM"].url in placed["detail"]
    # Not on the follower: still in doubt, kept on HCM (never re-routed), reported ambiguous.
    doubt = results[lost["order_id"]]
    assert (doubt["status"], doubt["assigned_node"]) == ("ambiguous", "HCM")
    assert last.undelivered and lost["order_id"] in last.undelivered[0]
    assert stored_ids(three_nodes["HCM"]) == [held["order_id"]]
    assert stored_ids(three_nodes["DN"]) == stored_ids(three_nodes["HN"]) == []
