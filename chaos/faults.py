"""The faults, each real: signals to processes, bytes held by the proxy, a full filesystem.

``inject`` does the damage and returns the heal; the heal is also registered with the
cluster's :class:`~chaos.cluster.Restorer`, so Ctrl-C in the middle of a fault still undoes it.
Every function here blocks (process start-up waits for readiness); the campaign calls them in
a worker thread so the load keeps its schedule.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

from localmode.nodes import node_command

from .cluster import ChaosCluster, ClusterError
from .plan import CampaignOptions, Trial

#: undoes one fault (its return value, if any, is ignored)
Heal = Callable[[], object]
FILLER = ".chaos-filler"


def replication_supported() -> bool:
    """Whether this node build can replicate its shard (``NODE_REPLICA_URL`` in its help)."""
    try:
        result = subprocess.run(
            [*node_command(), "--help"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "NODE_REPLICA_URL" in result.stdout


def fill_disk(directory: Path) -> Path:
    """Write zeros into ``directory`` until the filesystem says ENOSPC; the filler's path."""
    filler = directory / FILLER
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (1 << 20, 1 << 12, 1):
            block = b"\0" * size
            while True:
                try:
                    os.write(fd, block)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    finally:
        os.close(fd)
    return filler


def _region(trial: Trial) -> str:
    assert trial.region is not None, f"{trial.kind} needs a region"
    return trial.region


def kill(cluster: ChaosCluster, trial: Trial, options: CampaignOptions) -> Heal:
    region = _region(trial)
    cluster.node(region).kill()
    return lambda: cluster.ensure_node_running(region)


def freeze(cluster: ChaosCluster, trial: Trial, options: CampaignOptions) -> Heal:
    region = _region(trial)
    cluster.signal_node(region, signal.SIGSTOP)
    return lambda: cluster.signal_node(region, signal.SIGCONT)


def partition(cluster: ChaosCluster, trial: Trial, options: CampaignOptions) -> Heal:
    control = cluster.controls[_region(trial)]
    control.send("drop")
    return lambda: control.send("pass")


def slow(cluster: ChaosCluster, trial: Trial, options: CampaignOptions) -> Heal:
    control = cluster.controls[_region(trial)]
    control.send(f"slow {options.slow_s}")
    return lambda: control.send("pass")


def disk_full(cluster: ChaosCluster, trial: Trial, options: CampaignOptions) -> Heal:
    region = _region(trial)
    if region not in cluster.mounts:
        raise ClusterError("disk-full needs the nodes' data directories on tmpfs")
    filler = fill_disk(cluster.mounts[region])
    return lambda: filler.unlink(missing_ok=True)


def disk_loss(cluster: ChaosCluster, trial: Trial, options: CampaignOptions) -> Heal:
    region = _region(trial)
    cluster.stack.lose_node_disk(region)  # the data directory may be a mount point: kept
    return lambda: cluster.ensure_node_running(region)


def routing_kill(cluster: ChaosCluster, trial: Trial, options: CampaignOptions) -> Heal:
    routing = cluster.stack.routing
    assert routing is not None
    routing.kill()

    def heal() -> None:
        if not routing.running():
            routing.start(ready_timeout=30)

    return heal


def scheduler_kill(cluster: ChaosCluster, trial: Trial, options: CampaignOptions) -> Heal:
    airflow = cluster.stack.airflow
    if airflow is None:
        raise ClusterError("scheduler-kill needs --target airflow")
    scheduler = airflow.processes["scheduler"]
    scheduler.kill()

    def heal() -> None:
        if not scheduler.running():
            scheduler.start()

    return heal


FAULTS: dict[str, Callable[[ChaosCluster, Trial, CampaignOptions], Heal]] = {
    "kill": kill,
    "freeze": freeze,
    "partition": partition,
    "slow": slow,
    "disk-full": disk_full,
    "disk-loss": disk_loss,
    "routing-kill": routing_kill,
    "scheduler-kill": scheduler_kill,
}


def inject(cluster: ChaosCluster, trial: Trial, options: CampaignOptions) -> Callable[[], None]:
    """Do ``trial``'s damage; the returned heal undoes it once (later calls do nothing)."""
    heal = FAULTS[trial.kind](cluster, trial, options)
    token = cluster.restorer.push(heal)

    def heal_once() -> None:
        if token in cluster.restorer.pending:
            cluster.restorer.done(token)
            with contextlib.suppress(ProcessLookupError):
                heal()

    return heal_once
