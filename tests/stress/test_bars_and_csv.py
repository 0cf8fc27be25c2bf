"""``--max-p99`` and ``--max-failed`` fail a run that meets ``--min-success``; ``--csv`` rows.

Real nodes, the installed ``orders-stress``. What can fail: a bar that is not enforced (exit 0
although p99 or the failed count is over it), a passing bar reported as missed, the report not
saying which bar failed, or a CSV that lacks orders or disagrees with the report.
"""

from __future__ import annotations

import csv
from pathlib import Path

from localmode.processes import free_port
from tests.conftest import NodeFactory
from tests.stress.conftest import run_cli, write_document


def test_bars_fail_a_run_the_success_rate_passes_and_the_csv_has_every_order(
    node_factory: NodeFactory, tmp_path: Path
) -> None:
    hn = node_factory("HN")
    # HCM points at a closed port with no fallback: its orders fail; HN's are committed.
    routing = write_document(
        {"HCM": f"http://127.0.0.1:{free_port()}", "HN": hn.url}, tmp_path / "routing.json"
    )
    table = tmp_path / "orders.csv"
    common = ("--target", "nodes", "--routing", str(routing), "--orders", "40", "--seed", "4")
    run = run_cli(
        *common,
        *("--regions", "HCM=1,HN=9", "--min-success", "0.5", "--max-failed", "0"),
        *("--max-p99", "60000", "--csv", str(table)),
        report=tmp_path / "report.json",
    )
    assert run.code == 1, run.stderr + run.stdout
    report = run.report
    assert report is not None and report["passed"] is False
    assert report["success_rate"] >= 0.5  # the success rate alone would have passed
    bars = {bar["name"]: bar for bar in report["thresholds"]}
    assert bars["failed_orders"] == {
        "name": "failed_orders",
        "limit": 0,
        "value": report["totals"]["failed"],
        "ok": False,
    }
    assert bars["p99_latency_ms"]["ok"] is True
    assert "failed_orders" in run.stdout and "MISSED" in run.stdout

    with table.open() as rows:
        records = list(csv.DictReader(rows))
    assert len(records) == 40
    assert [int(r["index"]) for r in records] == sorted(int(r["index"]) for r in records)
    outcomes = [r["outcome"] for r in records]
    assert outcomes.count("committed") == report["totals"]["committed"]
    assert outcomes.count("failed") == report["totals"]["failed"] > 0
    assert {r["warehouse"] for r in records if r["outcome"] == "committed"} == {"HN"}
    assert all(float(r["latency_ms"]) >= 0 for r in records)


def test_a_p99_bar_below_the_run_s_p99_fails_it(node_factory: NodeFactory, tmp_path: Path) -> None:
    hn = node_factory("HN")
    routing = write_document({"HN": hn.url}, tmp_path / "routing.json")
    run = run_cli(
        *("--target", "nodes", "--routing", str(routing), "--orders", "20", "--regions", "HN=1"),
        *("--max-p99", "0", "--max-failed", "0"),
        report=tmp_path / "report.json",
    )
    assert run.code == 1, run.stderr + run.stdout
    assert run.report is not None
    bars = {bar["name"]: bar["ok"] for bar in run.report["thresholds"]}
    assert bars == {"p99_latency_ms": False, "failed_orders": True}
    assert run.report["totals"]["committed"] == 20
