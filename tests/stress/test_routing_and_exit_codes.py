"""Fallback as the DAG does it, and the exit codes that let the tool gate CI or a Job."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from localmode.processes import free_port, wait_until
from stress.cli import main
from tests.conftest import NodeFactory, RunningNode
from tests.stress.conftest import CLEAN_ENV, STRESS, run_cli, stored_orders, write_document


def test_orders_of_a_dead_home_node_fall_back_to_the_nearest_region(
    three_nodes: dict[str, RunningNode], routing_file: Path, tmp_path: Path
) -> None:
    # The document still says HCM is ready (the controller has not noticed yet); the node is gone.
    three_nodes["HCM"].process.kill()
    run = run_cli(
        *("--target", "nodes", "--routing", str(routing_file), "--run-id", "fb"),
        *("--orders", "120", "--regions", "HCM=1,HN=1", "--seed", "5"),
        report=tmp_path / "report.json",
    )
    assert run.code == 0, run.stderr + run.stdout
    assert run.report is not None
    hcm_orders = run.report["per_home_region"]["HCM"]
    assert run.report["totals"]["committed"] == 120
    # From HCM, DN is the nearest region (ORDER_PROXIMITY default HCM=DN,HN).
    assert run.report["fallbacks"] == {"count": hcm_orders, "routes": {"HCM->DN": hcm_orders}}
    assert len(stored_orders(three_nodes["DN"], "fb-")) == hcm_orders


@pytest.mark.parametrize(("min_success", "code"), [("0.99", 1), ("0.2", 0)])
def test_exit_code_says_whether_the_success_rate_reached_the_minimum(
    node_factory: NodeFactory, tmp_path: Path, min_success: str, code: int
) -> None:
    hn = node_factory("HN")
    # HCM points at a closed port and has no fallback: its orders cannot be placed anywhere.
    routing = write_document(
        {"HCM": f"http://127.0.0.1:{free_port()}", "HN": hn.url}, tmp_path / "routing.json"
    )
    run = run_cli(
        *("--target", "nodes", "--routing", str(routing), "--orders", "60"),
        *("--regions", "HCM=1,HN=1", "--min-success", min_success),
        report=tmp_path / "report.json",
    )
    assert run.code == code, run.stderr + run.stdout
    assert run.report is not None
    totals = run.report["totals"]
    assert totals["failed"] == run.report["per_home_region"]["HCM"] > 0
    assert totals["committed"] == run.report["per_home_region"]["HN"]
    assert any("no warehouse available" in cause for cause in run.report["errors"])
    assert run.report["passed"] is (code == 0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--concurrency", "0"], "--concurrency"),
        (["--rate", "20/x"], "--rate"),
        (["--duration", "soon"], "--duration"),
        (["--regions", "PARIS=1"], "PARIS"),
        (["--regions", "HCM"], "REGION=WEIGHT"),
        (["--invalid-ratio", "1.5"], "--invalid-ratio"),
        (["--target", "mars"], "--target"),
        (["--target", "nodes", "--batch-size", "5"], "--batch-size"),
        (["--no-such-flag"], "--no-such-flag"),
        (["--target", "nodes", "--routing", "/nonexistent/routing.json"], "routing document"),
        (["--verify", "--routing", "/nonexistent/routing.json"], "--verify needs"),
        (["--plot", "latency.jpg"], "--plot"),
    ],
)
def test_bad_flags_give_one_line_and_exit_code_2(
    args: list[str], message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    # In process, through the same ``main`` the console script calls (the script itself is
    # run in the test below): each start of the installed script costs seconds of imports.
    for name, value in CLEAN_ENV.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exited:
        main(args)
    stderr = capsys.readouterr().err
    assert exited.value.code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("orders-stress: error: ")
    assert message in lines[0]
    assert "Traceback" not in stderr


def test_the_installed_script_reports_a_bad_flag_in_one_line() -> None:
    run = run_cli("--no-such-flag")
    assert run.code == 2
    assert run.stderr.strip() == "orders-stress: error: No such option: --no-such-flag"


def test_unreachable_airflow_is_a_one_line_error() -> None:
    run = run_cli("--endpoint", f"http://127.0.0.1:{free_port()}", "--orders", "1")
    assert run.code == 2
    assert run.stderr.startswith("orders-stress: error: cannot reach Airflow at http://127.0.0.1:")
    assert len(run.stderr.strip().splitlines()) == 1


def test_report_dash_writes_only_the_json_to_stdout_and_the_tables_to_stderr(
    node_factory: NodeFactory, tmp_path: Path
) -> None:
    hn = node_factory("HN")
    routing = write_document({"HN": hn.url}, tmp_path / "routing.json")
    table = tmp_path / "orders.csv"
    run = run_cli(
        *("--target", "nodes", "--routing", str(routing), "--orders", "20", "--regions", "HN=1"),
        *("--report", "-", "--csv", str(table)),
    )
    assert run.code == 0, run.stderr + run.stdout
    report = json.loads(run.stdout)  # the whole of stdout parses: a pipe into jq works
    assert report["totals"]["committed"] == 20
    assert "committed on a warehouse" in run.stderr
    assert f"csv: {table}" in run.stderr  # where each file went
    assert table.exists()


def test_ctrl_c_stops_sending_and_still_reports_what_was_sent(
    three_nodes: dict[str, RunningNode], routing_file: Path, tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    argv = [str(STRESS), "--target", "nodes", "--routing", str(routing_file), "--run-id", "int"]
    argv += ["--rate", "50/s", "--duration", "60s", "--report", str(report)]
    process = subprocess.Popen(
        argv, env=os.environ | CLEAN_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_until(
            lambda: sum(len(stored_orders(n, "int-")) for n in three_nodes.values()) >= 20,
            timeout=30,
            what="the first orders to be stored",
        )
        process.send_signal(signal.SIGINT)
        stdout, _ = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130
    result = json.loads(report.read_text())
    assert result["interrupted"] is True and result["passed"] is False
    assert 20 <= result["totals"]["orders"] < 3000  # stopped long before the 60 s schedule ended
    assert result["totals"]["committed"] == result["totals"]["orders"]  # in-flight ones finished
    stored = sum(len(stored_orders(n, "int-")) for n in three_nodes.values())
    assert stored == result["totals"]["committed"]
    assert "interrupted" in stdout
