"""``orders-stress --target nodes --bulk N``: bulk requests straight to real nodes, with the
never-twice rules of single orders (a lost bulk answer is re-sent to the same node only)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from rich.console import Console

from stress.config import StressConfig
from stress.run import run_stress
from tests.conftest import RunningNode
from tests.node.test_health_metrics import samples
from tests.stress.conftest import run_cli, stored_orders, write_document
from tests.support.fault_proxy import FaultProxy


def bulk_requests(node: RunningNode) -> float:
    with node.client() as http:
        metrics = samples(http)
    return metrics.get(("warehouse_bulk_requests_total", (("result", "accepted"),)), 0.0)


def test_bulk_units_commit_every_order_once(
    three_nodes: dict[str, RunningNode], routing_file: Path, tmp_path: Path
) -> None:
    run = run_cli(
        *("--target", "nodes", "--routing", str(routing_file), "--run-id", "bulk"),
        *("--orders", "600", "--bulk", "100", "--concurrency", "2", "--invalid-ratio", "0.05"),
        *("--seed", "5", "--verify"),
        report=tmp_path / "report.json",
    )
    assert run.code == 0, run.stderr + run.stdout
    assert run.report is not None
    totals = run.report["totals"]
    assert totals["orders"] == 600 and totals["failed"] == 0
    assert totals["committed"] == totals["valid"]
    assert totals["invalid_rejected"] == totals["invalid"] > 0
    assert (
        run.report["verify"]["ok"]
        and run.report["verify"]["found_exactly_once"] == 600 - (totals["invalid"])
    )
    assert run.report["config"]["bulk"] == 100
    # 6 units of 100, each split by assigned node: at most 3 bulk requests per unit.
    requests = sum(bulk_requests(node) for node in three_nodes.values())
    assert 6 <= requests <= 18
    stored = sum(len(stored_orders(node, "bulk-")) for node in three_nodes.values())
    assert stored == totals["valid"]


def test_a_lost_bulk_answer_is_resent_to_the_same_node_only(
    three_nodes: dict[str, RunningNode], tmp_path: Path
) -> None:
    hcm, dn = three_nodes["HCM"], three_nodes["DN"]
    with FaultProxy(hcm.url, script=["forward_reset", "500"]) as proxy:
        routing = write_document(
            {"HCM": proxy.url, "DN": dn.url}, tmp_path / "routing.json", fallback=True
        )
        config = StressConfig(
            target="nodes",
            orders=40,
            bulk=40,
            concurrency=1,
            region_mix={"HCM": 1.0},
            routing=str(routing),
            run_id="lostbulk",
            verify=True,
            progress=False,
        )
        outcome = asyncio.run(run_stress(config, Console(quiet=True)))
        assert proxy.posts == ["forward_reset", "500", "forward"]
    assert {(r.outcome, r.warehouse, r.attempts) for r in outcome.results} == {
        ("committed", "HCM", 3)
    }
    assert len(stored_orders(hcm, "lostbulk-")) == 40
    assert stored_orders(dn, "lostbulk-") == []
    assert outcome.report["verify"]["duplicated"] == 0


def test_a_refused_connection_sends_the_orders_to_the_fallback(
    three_nodes: dict[str, RunningNode], tmp_path: Path
) -> None:
    hcm, dn = three_nodes["HCM"], three_nodes["DN"]
    hcm.process.stop()
    routing = write_document(
        {"HCM": hcm.url, "DN": dn.url}, tmp_path / "routing.json", fallback=True
    )
    config = StressConfig(
        target="nodes",
        orders=30,
        bulk=30,
        concurrency=1,
        region_mix={"HCM": 1.0},
        routing=str(routing),
        run_id="deadbulk",
        progress=False,
    )
    outcome = asyncio.run(run_stress(config, Console(quiet=True)))
    assert {(r.outcome, r.warehouse, r.fallback) for r in outcome.results} == {
        ("committed", "DN", True)
    }
    assert len(stored_orders(dn, "deadbulk-")) == 30


def test_bulk_is_for_the_nodes_target_only() -> None:
    run = run_cli("--target", "airflow", "--bulk", "10", "--orders", "1")
    assert run.code == 2
    assert "--bulk" in run.stderr and "nodes only" in run.stderr
