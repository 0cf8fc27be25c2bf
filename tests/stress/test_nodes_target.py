"""``orders-stress --target nodes`` against three real warehouse-node processes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from order_contracts.orders import parse_order
from stress.config import parse_region_mix
from stress.orders import INVALID_KINDS, OrderGenerator
from tests.conftest import RunningNode
from tests.stress.conftest import run_cli, stored_orders


def nodes_args(routing: Path, run_id: str, *extra: str) -> list[str]:
    return ["--target", "nodes", "--routing", str(routing), "--run-id", run_id, *extra]


def test_closed_loop_commits_every_order_once_on_its_home_warehouse(
    three_nodes: dict[str, RunningNode], routing_file: Path, tmp_path: Path
) -> None:
    mix = "HCM=0.5,HN=0.3,DN=0.2"
    run = run_cli(
        *nodes_args(routing_file, "closed", "--orders", "300", "--concurrency", "8"),
        *("--regions", mix, "--seed", "7", "--verify"),
        report=tmp_path / "report.json",
    )
    assert run.code == 0, run.stderr + run.stdout
    assert run.report is not None
    totals = run.report["totals"]
    assert (totals["orders"], totals["committed"], totals["failed"]) == (300, 300, 0)
    # The same seed generates the same orders, so the home regions are known in advance ...
    expected = Counter(
        o.region for o in OrderGenerator("closed", parse_region_mix(mix), 0, 7).take(300)
    )
    assert run.report["per_home_region"] == dict(expected)
    # ... and with every node healthy, each order lands on its home warehouse, exactly once.
    stored = {region: stored_orders(node, "closed-") for region, node in three_nodes.items()}
    assert {r: len(o) for r, o in stored.items() if o} == dict(expected)
    assert run.report["per_warehouse"] == dict(expected)
    assert all(o["fulfilled_by"] == region for region, os_ in stored.items() for o in os_)
    assert run.report["fallbacks"]["count"] == 0
    assert run.report["verify"]["ok"] is True
    assert run.report["verify"]["found_exactly_once"] == 300
    assert "found exactly once 300" in " ".join(run.stdout.split())


def test_open_loop_sends_rate_times_duration_on_schedule(
    three_nodes: dict[str, RunningNode], routing_file: Path, tmp_path: Path
) -> None:
    run = run_cli(
        *nodes_args(routing_file, "open", "--rate", "150/s", "--duration", "1s"),
        report=tmp_path / "report.json",
    )
    assert run.code == 0, run.stderr + run.stdout
    assert run.report is not None
    assert run.report["mode"] == "open"
    assert run.report["totals"]["orders"] == 150
    assert run.report["totals"]["committed"] == 150
    # paced over the second (the last order is due at 149/150 s), not sent in one burst
    assert run.report["duration_s"] >= 0.95
    assert sum(len(stored_orders(node, "open-")) for node in three_nodes.values()) == 150


def test_invalid_orders_are_refused_by_the_nodes_and_not_counted_lost(
    three_nodes: dict[str, RunningNode], routing_file: Path, tmp_path: Path
) -> None:
    run = run_cli(
        *nodes_args(routing_file, "bad", "--orders", "280", "--invalid-ratio", "0.25"),
        *("--seed", "3", "--verify"),
        report=tmp_path / "report.json",
    )
    assert run.code == 0, run.stderr + run.stdout
    assert run.report is not None
    totals = run.report["totals"]
    assert totals["invalid"] > 0
    assert totals["invalid_rejected"] == totals["invalid"]
    assert totals["invalid_accepted"] == 0
    assert totals["committed"] == totals["valid"]
    assert run.report["success_rate"] == 1.0
    # every kind of bad order was sent, and every one was refused
    kinds = run.report["invalid_by_kind"]
    assert set(kinds) == set(INVALID_KINDS)
    assert all(k["sent"] == k["rejected"] > 0 for k in kinds.values())
    verify = run.report["verify"]
    assert (verify["lost"], verify["refused_but_stored"], verify["ok"]) == (0, 0, True)
    stored = sum(len(stored_orders(node, "bad-")) for node in three_nodes.values())
    assert stored == totals["valid"]


def test_generated_orders_agree_with_the_shared_schema() -> None:
    """Valid orders pass the node's own validation; each invalid kind fails it."""
    generator = OrderGenerator("schema", parse_region_mix(None), invalid_ratio=0.5, seed=11)
    orders = generator.take(400)
    for order in orders:
        if order.valid:
            assert parse_order(order.payload).order_id == order.order_id
        else:
            try:
                parse_order(order.payload)
            except ValueError:
                continue
            raise AssertionError(f"{order.invalid_kind} order passed validation: {order.payload}")
    assert {o.invalid_kind for o in orders if not o.valid} == set(INVALID_KINDS)
