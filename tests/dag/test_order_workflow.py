"""``dag.test()`` of order_workflow against three real ``warehouse-node`` processes."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from order_contracts.tracing import trace_id_for
from tests.conftest import NodeFactory, RunningNode
from tests.dag.conftest import run_dag
from tests.node.test_health_metrics import samples
from tests.node.test_tracing import logged
from tests.support.fault_proxy import FaultProxy
from tests.support.orders import order, stored_ids, write_routing

pytestmark = pytest.mark.airflow


def test_an_order_lands_on_its_home_node(
    order_dag: Any, routing_file: Path, three_nodes: dict[str, RunningNode]
) -> None:
    payload = order("HN")

    run = run_dag(order_dag, {"order": payload})

    assert run.state == "success"
    result = run.only_order()
    assert (result["status"], result["assigned_node"], result["fallback_used"]) == (
        "committed",
        "HN",
        False,
    )
    assert result["attempts"] == 1
    assert stored_ids(three_nodes["HN"]) == [payload["order_id"]]
    assert stored_ids(three_nodes["HCM"]) == stored_ids(three_nodes["DN"]) == []
    # the node's line for the order names the run and its trace (order_contracts.tracing)
    line = logged(three_nodes["HN"].log_path, payload["order_id"])
    assert (line["run_id"], line["trace_id"]) == (run.run_id, trace_id_for(run.run_id))


def test_with_the_home_node_stopped_the_order_lands_on_the_nearest_healthy_fallback(
    order_dag: Any, routing_file: Path, three_nodes: dict[str, RunningNode]
) -> None:
    three_nodes["HCM"].process.stop()
    payload = order("HCM")

    run = run_dag(order_dag, {"order": payload})

    assert run.state == "success"
    result = run.only_order()
    # From HCM, DN is the nearest region (ORDER_PROXIMITY default HCM=DN,HN).
    assert (result["assigned_node"], result["fallback_used"], result["status"]) == (
        "DN",
        True,
        "committed",
    )
    assert "HCM unreachable" in result["reason"]
    assert stored_ids(three_nodes["DN"]) == [payload["order_id"]]
    assert stored_ids(three_nodes["HN"]) == []


def test_a_node_answering_500_twice_is_retried_and_the_order_exists_once(
    order_dag: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    three_nodes: dict[str, RunningNode],
) -> None:
    with FaultProxy(three_nodes["HCM"].url, script=["500", "500"]) as proxy:
        urls = {r: n.url for r, n in three_nodes.items()} | {"HCM": proxy.url}
        monkeypatch.setenv("ORDER_ROUTING_SOURCE", str(write_routing(tmp_path / "r.json", urls)))
        payload = order("HCM")

        run = run_dag(order_dag, {"order": payload})

    assert run.state == "success"
    assert run.tasks["process"] == ("success", 3)  # two failed tries, then the commit
    result = run.only_order()
    assert (result["status"], result["attempts"], result["assigned_node"]) == (
        "committed",
        3,
        "HCM",
    )
    assert proxy.posts == ["500", "500", "forward"]
    assert stored_ids(three_nodes["HCM"]) == [payload["order_id"]]


def test_a_batch_of_200_mixed_orders_lands_once_each_on_the_right_nodes(
    order_dag: Any, routing_file: Path, three_nodes: dict[str, RunningNode]
) -> None:
    rng = random.Random(4)
    batch = [order(rng.choice(["HCM", "HN", "DN"])) for _ in range(200)]
    expected = Counter(o["region"] for o in batch)

    run = run_dag(order_dag, {"orders": batch})

    assert run.state == "success"
    assert run.xcom is not None and run.xcom["counts"] == {"committed": 200}
    # Counts and undelivered orders only: no per-order list in a batch's XCom.
    assert run.xcom["undelivered"] == [] and "orders" not in run.xcom
    assert {r: n["orders"] for r, n in run.xcom["nodes"].items()} == dict(expected)
    for region, node in three_nodes.items():
        ids = stored_ids(node)
        assert len(ids) == len(set(ids)) == expected[region], region
        assert set(ids) == {o["order_id"] for o in batch if o["region"] == region}
        with node.client() as http:  # one POST /orders per node, not one POST per order
            metrics = samples(http)
        assert metrics[("warehouse_bulk_requests_total", (("result", "accepted"),))] == 1


def test_an_invalid_order_fails_the_run_at_ingest_without_retries(
    order_dag: Any, routing_file: Path, three_nodes: dict[str, RunningNode]
) -> None:
    run = run_dag(order_dag, {"order": {**order("HCM"), "region": "Saigon"}})

    assert run.state == "failed"
    assert run.tasks["ingest"] == ("failed", 1)
    assert run.tasks["process"][0] == "upstream_failed"
    assert all(stored_ids(node) == [] for node in three_nodes.values())


def test_a_batch_reports_invalid_orders_and_delivers_the_valid_ones(
    order_dag: Any, routing_file: Path, three_nodes: dict[str, RunningNode]
) -> None:
    good = order("DN")
    bad = order("DN", customer_name="")

    run = run_dag(order_dag, {"orders": [good, bad]})

    assert run.state == "success"
    by_id = {o["order_id"]: o for o in run.orders}
    assert by_id[good["order_id"]]["status"] == "committed"
    assert by_id[bad["order_id"]]["status"] == "invalid"
    assert "customer_name" in by_id[bad["order_id"]]["detail"]
    assert stored_ids(three_nodes["DN"]) == [good["order_id"]]


def test_on_the_last_try_an_order_leaves_a_node_that_never_got_it(
    order_dag: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    three_nodes: dict[str, RunningNode],
) -> None:
    # HCM looks healthy at assign time, then refuses every POST (503) and reports itself down.
    with FaultProxy(three_nodes["HCM"].url, default="503", health_down_after=1) as proxy:
        urls = {r: n.url for r, n in three_nodes.items()} | {"HCM": proxy.url}
        monkeypatch.setenv("ORDER_ROUTING_SOURCE", str(write_routing(tmp_path / "r.json", urls)))
        payload = order("HCM")

        run = run_dag(order_dag, {"order": payload})

    assert run.state == "success"
    result = run.only_order()
    assert (result["assigned_node"], result["fallback_used"], result["attempts"]) == ("DN", True, 4)
    assert "re-assign" in result["reason"] or "last try" in result["reason"]
    assert proxy.posts == ["503", "503", "503"]  # the fourth try went to DN
    assert stored_ids(three_nodes["DN"]) == [payload["order_id"]]
    assert stored_ids(three_nodes["HCM"]) == []


def test_an_order_that_may_have_reached_a_dead_node_is_not_sent_elsewhere(
    order_dag: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    three_nodes: dict[str, RunningNode],
) -> None:
    # The first POST is stored on HCM but its answer is lost; then HCM is down for good.
    with FaultProxy(
        three_nodes["HCM"].url, script=["forward_reset"], default="503", health_down_after=1
    ) as proxy:
        urls = {r: n.url for r, n in three_nodes.items()} | {"HCM": proxy.url}
        monkeypatch.setenv("ORDER_ROUTING_SOURCE", str(write_routing(tmp_path / "r.json", urls)))
        payload = order("HCM")

        run = run_dag(order_dag, {"order": payload})

    assert run.state == "failed"
    assert run.tasks["process"] == ("failed", 4)
    result = run.only_order()
    assert (result["status"], result["assigned_node"]) == ("ambiguous", "HCM")
    assert len(proxy.posts) == 4
    assert stored_ids(three_nodes["HCM"]) == [payload["order_id"]]
    assert stored_ids(three_nodes["DN"]) == stored_ids(three_nodes["HN"]) == []


def test_a_401_is_retried_as_not_stored_and_ends_failed_naming_the_token(
    order_dag: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    node_factory: NodeFactory,
) -> None:
    # The node wants a token the workflow does not have (NODE_API_TOKEN is empty in tests): 401.
    # Authentication comes before the order is read, so nothing was stored: a retry is safe (and
    # succeeds once the token is fixed); not a verdict on the order (order_contracts.outcomes).
    guarded = node_factory("HCM", env={"NODE_API_TOKEN": "s3cret-token"})
    routing = write_routing(tmp_path / "r.json", {"HCM": guarded.url})
    monkeypatch.setenv("ORDER_ROUTING_SOURCE", str(routing))

    run = run_dag(order_dag, {"order": order("HCM")})

    assert run.state == "failed"
    assert run.tasks["process"] == ("failed", 4)
    result = run.only_order()
    assert (result["status"], result["attempts"]) == ("failed", 4)
    assert "bearer token" in result["detail"]


def test_the_node_token_comes_from_the_warehouse_api_connection(
    order_dag: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    node_factory: NodeFactory,
) -> None:
    guarded = node_factory("HCM", env={"NODE_API_TOKEN": "s3cret-token"})
    routing = write_routing(tmp_path / "r.json", {"HCM": guarded.url})
    monkeypatch.setenv("ORDER_ROUTING_SOURCE", str(routing))
    monkeypatch.delenv("NODE_API_TOKEN")  # no env token: the connection is read
    monkeypatch.setenv(
        "AIRFLOW_CONN_WAREHOUSE_API", json.dumps({"conn_type": "http", "password": "s3cret-token"})
    )
    payload = order("HCM")

    run = run_dag(order_dag, {"order": payload})

    assert run.state == "success"
    assert run.only_order()["status"] == "committed"
    assert stored_ids(guarded, token="s3cret-token") == [payload["order_id"]]
