"""``orders-stress verify RESULTS.csv``: a finished run checked again against the shards.

Real nodes, the installed script. What can fail: a run whose orders are all stored reported
not ok, an order deleted from its shard afterwards not found lost, a stopped node's orders
counted lost instead of unverified, or a damaged CSV read as a smaller run (it must be one
line and exit 2).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.conftest import RunningNode
from tests.stress.conftest import run_cli


def test_a_finished_run_is_verified_again_later(
    three_nodes: dict[str, RunningNode], routing_file: Path, tmp_path: Path
) -> None:
    table = tmp_path / "orders.csv"
    sent = run_cli(
        *("--target", "nodes", "--routing", str(routing_file), "--orders", "60"),
        *("--run-id", "later", "--csv", str(table)),
    )
    assert sent.code == 0, sent.stderr + sent.stdout

    clean = run_cli("verify", str(table), "--routing", str(routing_file))
    assert clean.code == 0, clean.stderr + clean.stdout
    assert "found exactly once 60" in " ".join(clean.stdout.split())

    hn = three_nodes["HN"]
    hn.process.stop()
    with sqlite3.connect(hn.data_dir / "orders.db") as db:
        (gone,) = db.execute("SELECT order_id FROM orders LIMIT 1").fetchone()
        db.execute("DELETE FROM orders WHERE order_id = ?", (gone,))
    hn.process.start()
    verdict = tmp_path / "verdict.json"
    lost = run_cli("verify", str(table), "--routing", str(routing_file), "--report", str(verdict))
    assert lost.code == 1, lost.stderr + lost.stdout
    body = json.loads(verdict.read_text())
    assert body["run_id"] == "later"
    assert body["verify"]["lost"] == 1 and body["verify"]["samples"]["lost"] == [gone]

    hn.process.stop()
    unread = run_cli("verify", str(table), "--routing", str(routing_file), "--report", str(verdict))
    assert unread.code == 1
    checked = json.loads(verdict.read_text())["verify"]
    assert checked["lost"] == 0 and checked["unverified"] > 0
    assert list(checked["unreadable_nodes"]) == ["HN"]


def test_a_damaged_results_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    table = tmp_path / "orders.csv"
    table.write_text("index,order_id\n1,x-1\n")
    run = run_cli("verify", str(table), "--routing", str(tmp_path / "none.json"))
    assert run.code == 2
    assert run.stderr.strip().startswith("orders-stress: error: ")
    assert "not an orders-stress CSV" in run.stderr and len(run.stderr.strip().splitlines()) == 1
