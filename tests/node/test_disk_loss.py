"""The disk-loss bar, short: kill -9 mid-load, delete the data directory, restart, count.

The same trial as ``benchmarks/replication_disk_loss.py`` (which runs 20 of them): 32 clients,
a real node with a real Litestream child and a ``file://`` replica, SIGKILL at a random moment,
the data directory deleted, a restart that restores from the replica. Every acknowledged order
must be there exactly once.
"""

from __future__ import annotations

import random
from pathlib import Path

from benchmarks.replication_disk_loss import run_trial


def test_every_acknowledged_order_survives_losing_the_node_and_its_disk(tmp_path: Path) -> None:
    rng = random.Random(11)
    for index in range(2):
        trial = run_trial(tmp_path, index, clients=32, rng=rng)
        assert trial.acknowledged, "no order was acknowledged before the kill"
        assert trial.lost == [] and trial.duplicated == []
        assert trial.damaged_rows == 0  # the restored copy serves every row it holds
        assert trial.restored_orders >= len(trial.acknowledged)
