"""Short real campaigns: every fault kind once, the self-check, and Ctrl-C in the middle.

Each runs the installed ``orders-chaos`` command, which starts its own nodes, proxies and
routing source in ``tmp_path`` and stops them again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from chaos.faults import replication_supported
from localmode.processes import console_script

pytestmark = pytest.mark.slow

#: a campaign's own bound: it must finish (or fail) well inside this
CAMPAIGN_TIMEOUT_S = 300


def orders_chaos(*args: str) -> list[str]:
    return [*console_script("orders-chaos", "chaos.cli"), *args]


def run(tmp_path: Path, *args: str) -> tuple[int, dict, str]:
    report = tmp_path / "report.json"
    argv = orders_chaos(*args, "--state-dir", str(tmp_path / "state"), "--report", str(report))
    done = subprocess.run(argv, capture_output=True, text=True, timeout=CAMPAIGN_TIMEOUT_S)
    assert report.exists(), done.stderr[-3000:]
    return done.returncode, json.loads(report.read_text()), done.stderr


def mounts_under(path: Path) -> list[str]:
    text = Path("/proc/mounts").read_text()
    return [line for line in text.splitlines() if str(path.resolve()) in line]


def check_campaign(report: dict, faults: str) -> None:
    assert report["passed"] is True
    rows = {row["kind"]: row for row in report["faults"]}
    assert set(rows) == set(faults.split(","))
    verification = report["verification"]
    assert verification["lost"] == verification["duplicated"] == 0
    assert verification["refused_but_stored"] == 0
    assert verification["acknowledged"] > 500
    for trial in report["trials"]:
        assert trial["status"] in ("done", "unsupported"), trial
    # gray failures are detected and routed around (issue 13's bars: 3 s and 5 s)
    for kind in ("freeze", "partition"):
        if kind in rows:
            assert rows[kind]["detected"] == 1, rows[kind]
            assert rows[kind]["detection_s_max"] <= 3.0, rows[kind]
            assert rows[kind]["fallback_s_max"] is not None, f"no order fell back: {rows[kind]}"
            assert rows[kind]["fallback_s_max"] <= 5.0, rows[kind]


@pytest.mark.skipif(os.geteuid() != 0, reason="disk-full mounts a tmpfs (root)")
def test_every_fault_kind_once_loses_nothing(tmp_path: Path) -> None:
    """Without replication (disk-loss is then reported unsupported): the faults of processes,
    packets and disks, and the routing source."""
    faults = "kill,freeze,partition,slow,disk-full,disk-loss,routing-kill"
    code, report, err = run(
        tmp_path,
        *("--trials", "7", "--faults", faults, "--seed", "3", "--rate", "40"),
        *("--window", "3-4", "--lead", "0.5-1", "--replication", "off"),
        *("--plot", str(tmp_path / "timeline.png")),
    )
    assert code == 0, err[-3000:]
    check_campaign(report, faults)
    assert report["config"]["replication"] is False
    assert {row["kind"]: row for row in report["faults"]}["disk-loss"]["statuses"] == {
        "unsupported": 1
    }
    assert (tmp_path / "timeline.png").stat().st_size > 10_000
    assert mounts_under(tmp_path) == []


def test_disk_loss_with_replication_loses_nothing(tmp_path: Path) -> None:
    """Sync replication under load, a lost disk restored from the replica and a freeze: nothing
    lost, nothing stored twice (docs/chaos.md#findings, finding 1)."""
    if not replication_supported():
        pytest.skip("the node has no replication (NODE_REPLICA_URL)")
    faults = "disk-loss,freeze"
    code, report, err = run(
        tmp_path,
        *("--trials", "2", "--faults", faults, "--seed", "5", "--rate", "40"),
        # a freeze of 2-3 s left too little time after detection (up to ~2 s when sync
        # replication loads both cores) for any order to fall back
        *("--window", "4-5", "--lead", "0.5-1", "--replication", "on"),
    )
    assert code == 0, err[-3000:]
    check_campaign(report, faults)
    assert report["config"]["replication"] is True
    # the finding this used to xfail on: an order committed on a node whose replica had not
    # confirmed it was answered 503 ("did not reach"), rerouted and stored twice
    assert report["verification"]["duplicated"] == 0


def test_self_check_reports_the_orders_a_lost_disk_took(tmp_path: Path) -> None:
    code, report, err = run(
        tmp_path, "--self-check", "--trials", "1", "--rate", "40", "--lead", "2", "--window", "1"
    )
    assert code == 1, err[-3000:]
    assert report["passed"] is False
    assert report["verification"]["lost"] > 0
    (trial,) = report["trials"]
    assert trial["kind"] == "disk-loss" and trial["lost"] > 0
    assert "lost orders after disk-loss" in err


@pytest.mark.skipif(os.geteuid() != 0, reason="disk-full mounts a tmpfs (root)")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupt_heals_the_fault_in_place_and_still_checks(
    tmp_path: Path, signum: signal.Signals
) -> None:
    report = tmp_path / "report.json"
    argv = orders_chaos(
        *("--faults", "disk-full", "--trials", "1", "--window", "120", "--lead", "0.5"),
        *("--rate", "30", "--state-dir", str(tmp_path / "state"), "--report", str(report)),
    )
    log = tmp_path / "stderr.log"
    with log.open("w") as err:
        process = subprocess.Popen(argv, stderr=err, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + CAMPAIGN_TIMEOUT_S
        while "trial 1/1: disk-full" not in log.read_text():
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the fault never started"
            time.sleep(0.2)
        assert mounts_under(tmp_path)  # the tmpfs is there, full
        process.send_signal(signum)
        assert process.wait(120) == 130, log.read_text()[-3000:]
    finally:
        if process.poll() is None:
            process.kill()
    data = json.loads(report.read_text())
    assert data["interrupted"] is True
    assert data["verification"]["lost"] == 0
    assert data["restore_errors"] == []
    assert mounts_under(tmp_path) == []
