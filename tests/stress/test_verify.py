"""``--verify`` reads every shard back: it passes on a clean run and fails when an order is gone."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from rich.console import Console

from stress.config import StressConfig
from stress.orders import OrderGenerator
from stress.results import OrderResult
from stress.run import EXIT_FAILED, run_stress
from stress.verify import check, verify
from tests.conftest import NodeFactory, RunningNode
from tests.stress.conftest import damage, post_all


def test_verify_fails_when_an_acknowledged_order_was_deleted_from_its_shard(
    three_nodes: dict[str, RunningNode], routing_file: Path, tmp_path: Path
) -> None:
    hn = three_nodes["HN"]
    deleted: list[str] = []

    async def delete_one_hn_order() -> None:
        # Stop the node, delete a row straight in its SQLite file, start it again.
        def tamper() -> None:
            hn.process.stop()
            with sqlite3.connect(hn.data_dir / "orders.db") as db:
                (order_id,) = db.execute("SELECT order_id FROM orders LIMIT 1").fetchone()
                db.execute("DELETE FROM orders WHERE order_id = ?", (order_id,))
            deleted.append(order_id)
            hn.process.start()

        await asyncio.to_thread(tamper)

    config = StressConfig(
        target="nodes",
        orders=60,
        concurrency=4,
        routing=str(routing_file),
        run_id="tamper",
        verify=True,
        progress=False,
        report=tmp_path / "report.json",
    )
    outcome = asyncio.run(
        run_stress(config, Console(quiet=True), before_verify=delete_one_hn_order)
    )
    assert outcome.report["totals"]["committed"] == 60  # every order was acknowledged ...
    assert outcome.verification is not None
    assert outcome.verification.lost == deleted  # ... and verify noticed the one now missing
    assert outcome.report["verify"]["lost"] == 1
    assert outcome.report["verify"]["ok"] is False
    assert outcome.report["passed"] is False
    assert outcome.exit_code == EXIT_FAILED


def _result(order_id: str, outcome: str = "committed", warehouse: str = "HCM") -> OrderResult:
    order = OrderGenerator("v", {"HCM": 1.0}).next_order()
    result = OrderResult.of(order, 0.0, 0.1, outcome, warehouse=warehouse)  # type: ignore[arg-type]
    result.order_id = order_id
    return result


def test_check_counts_duplicates_across_shards_and_refused_orders_that_were_stored() -> None:
    results = [_result("a"), _result("b"), _result("c", "rejected", warehouse="")]
    stored = {
        "HCM": [{"order_id": "a", "fulfilled_by": "HCM"}, {"order_id": "c", "fulfilled_by": "HCM"}],
        "DN": [{"order_id": "a", "fulfilled_by": "DN"}, {"order_id": "b", "fulfilled_by": "DN"}],
    }
    verification = check(results, stored, {})
    assert verification.duplicated == ["a"]
    assert verification.refused_but_stored == ["c"]
    assert verification.misplaced == ["b"]  # acknowledged by HCM, found on DN
    assert verification.lost == []
    assert verification.found_once == 1
    assert not verification.ok


def test_check_fails_when_a_shard_cannot_be_read() -> None:
    verification = check([_result("a")], {"HCM": [{"order_id": "a"}]}, {"DN": "refused"})
    assert verification.lost == []
    assert not verification.ok


def test_a_node_that_cannot_be_read_makes_its_orders_unverified_not_lost(
    three_nodes: dict[str, RunningNode], routing_file: Path, tmp_path: Path
) -> None:
    hn = three_nodes["HN"]

    async def stop_hn() -> None:
        await asyncio.to_thread(hn.process.stop)

    config = StressConfig(
        target="nodes",
        orders=60,
        concurrency=4,
        routing=str(routing_file),
        run_id="unread",
        verify=True,
        progress=False,
    )
    outcome = asyncio.run(run_stress(config, Console(quiet=True), before_verify=stop_hn))
    on_hn = outcome.report["per_warehouse"]["HN"]
    verify = outcome.report["verify"]
    assert on_hn > 0
    assert (verify["lost"], verify["unverified"]) == (0, on_hn)
    assert list(verify["unreadable_nodes"]) == ["HN"]
    assert verify["found_exactly_once"] == 60 - on_hn
    assert verify["ok"] is False and outcome.exit_code == EXIT_FAILED


def test_check_counts_an_order_another_shard_holds_even_when_its_own_is_unreadable() -> None:
    results = [_result("a", warehouse="DN"), _result("b", warehouse="DN"), _result("c")]
    stored = {"HCM": [{"order_id": "a", "fulfilled_by": "HCM"}]}
    verification = check(results, stored, {"DN": "refused"})
    assert verification.unverified == ["b"]  # DN said it has it; nobody can check
    assert verification.lost == ["c"]  # HCM was read and does not have it
    assert verification.misplaced == ["a"]


def test_verify_reports_the_rows_a_shard_skipped_as_damaged_and_counts_their_orders_lost(
    node_factory: NodeFactory,
) -> None:
    hcm = node_factory("HCM")
    ids = [f"dmg-{i}" for i in range(5)]
    post_all(hcm, ids)
    damage(hcm, ids[1:3])
    verification = asyncio.run(verify([_result(i) for i in ids], {"HCM": hcm.url}, "dmg", None))
    assert verification.lost == ids[1:3]  # stored, but the shard cannot serve them
    assert verification.damaged_rows == {"HCM": 2}
    assert verification.to_json()["damaged_rows_per_node"] == {"HCM": 2}
    assert verification.stored_per_node == {"HCM": 3}
