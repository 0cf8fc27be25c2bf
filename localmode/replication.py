"""Replicas and read followers on one machine: the one home of "where is region R's replica".

Local mode (:func:`localmode.stack.local_stack` with ``replication=True``), the fault campaign
(:mod:`chaos.cluster`, :mod:`chaos.faults`) and the disk-loss benchmark all lay replication out
the same way, so what the demo shows is what the campaign tortures:

- each region's ``file://`` Litestream replica is ``STATE/replica/<region>`` — beside, never
  inside, its data directory ``STATE/data/<region>``, so "the disk is lost" leaves it;
- each region's read follower (``warehouse-node --role follower``) restores that replica into
  its own ``STATE/followers/<region>``, on its own port, logging to
  ``STATE/logs/follower-<region>.log``;
- a node that restored at start logs ``database restored from the replica`` with the restore's
  ``seconds`` and ``orders``; :func:`last_restore` reads it back from the node's JSON log.
"""

from __future__ import annotations

import functools
import json
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .nodes import node_process
from .processes import ManagedProcess, wait_until

#: the event the node logs after a restore (warehouse_node/restore.py), with ``seconds``
RESTORED_EVENT = "database restored from the replica"


def data_dir(state_dir: Path, region: str) -> Path:
    """A primary's data directory (its ``orders.db``)."""
    return state_dir / "data" / region.lower()


def replica_dir(state_dir: Path, region: str) -> Path:
    """Where ``region``'s Litestream replica lives: outside its data directory."""
    return state_dir / "replica" / region.lower()


def replica_url(state_dir: Path, region: str) -> str:
    return replica_dir(state_dir, region).resolve().as_uri()


def replica_args(state_dir: Path, region: str, mode: str = "sync") -> list[str]:
    """The node flags that replicate ``region``'s shard (``sync``: acknowledged once held)."""
    return ["--replica-url", replica_url(state_dir, region), "--replication", mode]


def replica_args_by_region(state_dir: Path, regions: Iterable[str]) -> dict[str, list[str]]:
    """:func:`replica_args` per region, as :func:`localmode.stack.start_nodes` takes them."""
    return {region: replica_args(state_dir, region) for region in regions}


def replica_written(state_dir: Path, region: str) -> bool:
    """Whether the primary has put anything on its replica yet (a follower restores from it)."""
    root = replica_dir(state_dir, region)
    return root.is_dir() and any(p.is_file() for p in root.rglob("*"))


def empty_directory(path: Path) -> None:
    """Delete everything in ``path`` and keep ``path`` (it may be a mount point): a lost disk."""
    for entry in path.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def follower_process(
    region: str,
    state_dir: Path,
    log_dir: Path,
    env: Mapping[str, str],
    primary_url: str,
) -> tuple[ManagedProcess, str]:
    """A (not yet started) read follower of ``region``'s replica, and its base URL.

    Its ``/health`` is 503 (down) until it has restored the replica, and ``start`` waits for
    200: start it once :func:`replica_written` holds, or it waits for the primary's first copy.
    """
    follower_env = {**env, "NODE_ROLE": "follower", "NODE_PRIMARY_URL": primary_url}
    return node_process(
        region,
        state_dir / "followers" / region.lower(),
        log_dir,
        env=follower_env,
        extra_args=["--replica-url", replica_url(state_dir, region)],
        name="follower",
    )


def start_followers(
    state_dir: Path,
    log_dir: Path,
    env: Mapping[str, str],
    primaries: Mapping[str, str],
    timeout: float = 60.0,
) -> dict[str, tuple[ManagedProcess, str]]:
    """One follower per primary (``region → primary URL``), each started once its primary has
    written the replica; returns them ready (their ``/health`` 200), with their URLs."""
    followers = {
        region: follower_process(region, state_dir, log_dir, env, url)
        for region, url in primaries.items()
    }
    for region, (process, _) in followers.items():
        wait_until(
            functools.partial(replica_written, state_dir, region),
            timeout,
            0.05,
            f"the {region} primary's first copy on its replica",
        )
        ready_url, process.ready_url = process.ready_url, None
        process.start()  # all restore in parallel; then wait for each
        process.ready_url = ready_url
    for process, _ in followers.values():
        process.wait_ready(timeout)
    return followers


def json_events(lines: Iterable[str], event: str | None = None) -> list[dict[str, Any]]:
    """The node's JSON log records among ``lines`` (only those of ``event`` when given); other
    lines (a traceback, Litestream's stderr before the node re-logs it) are skipped."""
    found = []
    for line in lines:
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and (event is None or record.get("event") == event):
            found.append(record)
    return found


@dataclass(frozen=True)
class Restore:
    """A restore as the node logged it: the restore alone, and the orders in the copy."""

    seconds: float
    orders: int


def last_restore(log_path: Path, offset: int = 0) -> Restore | None:
    """The node's last restore logged after byte ``offset`` of its log (None: none there)."""
    try:
        with log_path.open("rb") as log:
            log.seek(offset)
            lines = log.read().decode(errors="replace").splitlines()
    except OSError:
        return None
    events = json_events(lines, RESTORED_EVENT)
    if not events:
        return None
    return Restore(float(events[-1]["seconds"]), int(events[-1]["orders"]))


def log_size(log_path: Path) -> int:
    """Bytes in the log now: pass it as ``offset`` to read only what a restart logs."""
    try:
        return log_path.stat().st_size
    except OSError:
        return 0
