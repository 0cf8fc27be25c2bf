"""Restore a missing database from the replica before the node serves (never overwrite one).

A node whose data directory holds no ``orders.db`` (a new volume, a lost disk) would otherwise
start empty and then replicate that emptiness. So with a replica URL set, start-up runs
``litestream restore -if-replica-exists`` into a temporary file, checks it (SQLite quick check,
and that its orders belong to this region), then renames it into place. No replica yet (a new
region) is a normal first start. An existing database is never touched; a damaged one is set
aside (renamed, never deleted) by :func:`set_aside` before a restore.

``warehouse-node --restore-only`` does just this and exits (the chart's init container); a
failure is one line on stderr and exit status 2 (``cli.restore_or_fail``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from .litestream import litestream_binary, write_config
from .settings import NodeSettings

log = logging.getLogger("warehouse_node.restore")

RESTORE_TIMEOUT_SECONDS = 3600
_SIDECARS = ("-wal", "-shm")


class RestoreError(RuntimeError):
    """The replica could not be restored or is not this node's; the message says why."""


@dataclass(frozen=True)
class RestoreOutcome:
    outcome: Literal["present", "restored", "no replica"]
    seconds: float = 0.0
    orders: int = 0


def set_aside(db_path: Path, reason: str) -> Path:
    """Rename ``db_path`` (and its -wal/-shm) to ``<name>.<reason>-<UTC time>``; returns the new
    database path. Never deletes: a person may still want what it holds."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = db_path.with_name(f"{db_path.name}.{reason}-{stamp}")
    for suffix in ("", *_SIDECARS):
        source = Path(f"{db_path}{suffix}")
        if source.exists():
            os.replace(source, f"{target}{suffix}")
    log.warning("database set aside", extra={"path": str(db_path), "moved_to": str(target)})
    return target


def _one_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"


def _check_region(path: Path, region: str) -> int:
    """Orders in the restored file; RestoreError if they were taken by another region's node."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        other = conn.execute(
            "SELECT fulfilled_by FROM orders WHERE fulfilled_by != ? LIMIT 1", (region,)
        ).fetchone()
        count = int(conn.execute("SELECT count(*) FROM orders").fetchone()[0])
    except sqlite3.Error as exc:
        raise RestoreError(f"the restored database is not an order database: {exc}") from None
    finally:
        conn.close()
    if other is not None:
        raise RestoreError(
            f"the replica holds orders taken by region {other[0]}, not {region}: "
            "wrong NODE_REPLICA_URL?"
        )
    return count


def restore_if_missing(settings: NodeSettings) -> RestoreOutcome:
    """Restore ``settings.db_path`` from the replica if (and only if) it does not exist."""
    db = settings.db_path
    if db.exists():
        return RestoreOutcome("present")
    db.parent.mkdir(parents=True, exist_ok=True)
    for suffix in _SIDECARS:  # a WAL without its database would be applied to the restore
        if Path(f"{db}{suffix}").exists():
            set_aside(Path(f"{db}{suffix}"), "orphan")
    staging = db.with_name(f"{db.name}.restoring")
    for suffix in ("", *_SIDECARS, "-txid"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{staging}{suffix}").unlink()
    config = write_config(settings, private=True)
    argv = [
        litestream_binary(settings),
        "restore",
        "-config",
        str(config),
        "-if-replica-exists",
        "-integrity-check",
        "quick",
        "-o",
        str(staging),
        str(settings.replicated_db_path.absolute()),
    ]
    started = time.perf_counter()
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=RESTORE_TIMEOUT_SECONDS,
            check=False,
        )
    except FileNotFoundError:
        raise RestoreError(f"litestream not found ({argv[0]}); set NODE_LITESTREAM_BIN") from None
    except subprocess.TimeoutExpired:
        raise RestoreError(f"restore took over {RESTORE_TIMEOUT_SECONDS}s; gave up") from None
    if done.returncode != 0:
        raise RestoreError(
            f"cannot restore from {settings.replica_url}: {_one_line(done.stderr + done.stdout)}"
        )
    if not staging.exists():
        log.info("no replica yet: starting a new database", extra={"replica": settings.replica_url})
        return RestoreOutcome("no replica")
    try:
        orders = _check_region(staging, settings.region)
    except RestoreError:
        set_aside(staging, "rejected")
        raise
    with contextlib.suppress(FileNotFoundError):
        Path(f"{staging}-txid").unlink()
    for suffix in _SIDECARS:  # the main file last: it is what "a database exists" means
        if Path(f"{staging}{suffix}").exists():
            os.replace(f"{staging}{suffix}", f"{db}{suffix}")
    os.replace(staging, db)
    seconds = time.perf_counter() - started
    log.info(
        "database restored from the replica",
        extra={"replica": settings.replica_url, "seconds": round(seconds, 3), "orders": orders},
    )
    return RestoreOutcome("restored", seconds, orders)
