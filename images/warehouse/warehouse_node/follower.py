"""``NODE_ROLE=follower``: a read-only copy of a region's replica that serves reads.

``litestream restore -f`` (follow mode) restores the replica into ``DATA_DIR/follower.db`` and
then applies each new transaction as it reaches the replica; the node serves ``GET /order/{id}``,
``GET /orders`` and ``/health`` from that file and refuses writes with 421 naming the primary.
So a region's orders stay readable while its primary is down, and an order whose answer was
lost in a crash can be looked up (``order_contracts/in_doubt.py``).

The copy is derived data: at start the follower discards any old copy and restores afresh (a
resume can fail when the replica was compacted meanwhile, and a fresh restore always works).

Litestream writes the pages of ``follower.db`` in place, outside SQLite's locking, so an open
SQLite connection cannot tell that the file changed. Readers therefore reopen their connection
whenever the applied transaction id (``follower.db-txid``, written by Litestream after each
apply) moves, and open the file ``immutable`` (no -shm, no locks) in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .litestream import Supervised, follow_argv, litestream_binary, write_config
from .replica_url import file_replica_dir
from .settings import NodeSettings
from .store import OrderStore, StoreClosed

log = logging.getLogger("warehouse_node.follower")

POLL_SECONDS = 0.5
HEAD_POLL_SECONDS = 2.0


def read_txid(path: Path) -> int:
    """The transaction Litestream last applied (hex in ``<db>-txid``), 0 before the first."""
    try:
        return int(path.read_text().strip() or "0", 16)
    except (OSError, ValueError):
        return 0


class FollowerStore(OrderStore):
    """The order store's reads, over a file that Litestream rewrites underneath."""

    def __init__(self, path: Path):
        super().__init__(path)
        self.txid_path = Path(f"{path}-txid")
        self._generation = -1
        self._thread_generation = threading.local()

    def open(self) -> FollowerStore:
        """Nothing to create or migrate: the file is Litestream's. Open means restored."""
        self._open = True
        return self

    def refresh(self) -> bool:
        """Notice a new applied transaction: readers reconnect, the count is redone. True if
        something changed. Runs in a worker thread (count(*) reads the whole index)."""
        txid = read_txid(self.txid_path)
        if txid == self._generation or not self.path.exists():
            return False
        self._generation = txid
        try:
            conn = self._connect_ro()
            try:
                self._count = int(conn.execute("SELECT count(*) FROM orders").fetchone()[0])
            finally:
                conn.close()
            self._last_error = None
        except sqlite3.Error as exc:  # mid-apply, or not restored yet: next poll
            self._last_error = str(exc)
            self._generation = -1
        return True

    def _connect_ro(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            f"file:{self.path}?mode=ro&immutable=1", uri=True, check_same_thread=False
        )
        conn.execute("PRAGMA query_only=ON")
        return conn

    def _reader(self) -> sqlite3.Connection:
        if not self._open:
            raise StoreClosed("the follower has not restored the replica yet")
        conn: sqlite3.Connection | None = getattr(self._readers, "conn", None)
        if conn is not None and getattr(self._thread_generation, "value", None) == (
            self._generation
        ):
            return conn
        if conn is not None:
            conn.close()
            with self._reader_lock, contextlib.suppress(ValueError):
                self._reader_conns.remove(conn)
        conn = self._connect_ro()
        self._readers.conn = conn
        self._thread_generation.value = self._generation
        with self._reader_lock:
            self._reader_conns.append(conn)
        return conn

    def close(self) -> None:
        self._open = False
        with self._reader_lock:
            for conn in self._reader_conns:
                conn.close()
            self._reader_conns.clear()

    async def aclose(self, before_close: object = None) -> None:
        self.close()


@dataclass
class Head:
    """The newest transaction on the replica, and when each newer-than-applied one arrived."""

    txid: int = 0
    oldest_unapplied_at: float | None = None  # wall clock (the replica's file times)


def file_replica_head(replica_dir: str, applied: int) -> Head:
    """Read a ``file://`` replica's level-0 directory (names are ``<min>-<max>.ltx``)."""
    head = Head()
    with contextlib.suppress(OSError), os.scandir(Path(replica_dir) / "ltx" / "0") as entries:
        for entry in entries:
            name = entry.name
            if not name.endswith(".ltx") or "-" not in name:
                continue
            try:
                top = int(name[:-4].split("-")[1], 16)
            except ValueError:
                continue
            head.txid = max(head.txid, top)
            if top > applied:
                mtime = entry.stat().st_mtime
                if head.oldest_unapplied_at is None or mtime < head.oldest_unapplied_at:
                    head.oldest_unapplied_at = mtime
    return head


async def command_replica_head(settings: NodeSettings, config: Path, applied: int) -> Head:
    """Any replica kind: ``litestream ltx -json`` (a LIST on S3; polled every few seconds)."""
    proc = await asyncio.create_subprocess_exec(
        litestream_binary(settings),
        "ltx",
        "-json",
        "-config",
        str(config),
        str(settings.replicated_db_path.absolute()),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await proc.communicate()
    head = Head()
    with contextlib.suppress(ValueError, TypeError, KeyError):
        for item in json.loads(out or b"[]"):
            top = int(item["max_txid"], 16)
            head.txid = max(head.txid, top)
            if top > applied:
                at = datetime.fromisoformat(item["timestamp"].replace("Z", "+00:00")).timestamp()
                if head.oldest_unapplied_at is None or at < head.oldest_unapplied_at:
                    head.oldest_unapplied_at = at
    return head


class FollowerReplication:
    """Litestream's follow mode as a supervised child, and the state ``/health`` reports."""

    def __init__(self, settings: NodeSettings, store: FollowerStore):
        self.settings = settings
        self.store = store
        self.config = write_config(settings, settings.data_dir.absolute() / "follower.sock")
        self.child = Supervised(
            "litestream follow", follow_argv(settings, self.config), on_exit=self._exited
        )
        self.applied = 0
        self.head = Head()
        self.last_error: str | None = None
        self.errors = 0
        self.healthy = False
        self._tasks: list[asyncio.Task[None]] = []

    def _exited(self, reason: str) -> None:
        """Before the first restore an exit is mostly "no replica yet" (the primary has not
        written one): that is waiting, not an error. After it, it is an error."""
        if self.store.is_open:
            self.errors += 1
        self.healthy = False
        self.last_error = reason
        self._discard_copy()  # the restart restores afresh (and waits for a replica to exist)

    def _discard_copy(self) -> None:
        self.store._open = False
        for suffix in ("", "-wal", "-shm", "-txid"):
            with contextlib.suppress(FileNotFoundError):
                Path(f"{self.settings.db_path}{suffix}").unlink()

    @property
    def lag_transactions(self) -> int:
        return max(0, self.head.txid - self.applied)

    @property
    def lag_seconds(self) -> float:
        if self.head.oldest_unapplied_at is None or self.lag_transactions == 0:
            return 0.0
        return max(0.0, time.time() - self.head.oldest_unapplied_at)

    def report(self) -> dict[str, object]:
        state = "restoring" if not self.store.is_open else ("ok" if self.healthy else "failing")
        if state == "ok" and self.lag_transactions:
            state = "behind"
        return {
            "mode": "follower",
            "state": state,
            "replica": self.settings.replica_url,
            "primary": self.settings.primary_url or None,
            "txid": self.applied,
            "replica_txid": self.head.txid,
            "lag_transactions": self.lag_transactions,
            "lag_seconds": round(self.lag_seconds, 3),
            "errors": self.errors,
            "last_error": self.last_error,
        }

    async def start(self) -> None:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self._discard_copy()
        await self.child.start()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._watch_copy(), name="follower-copy"),
            loop.create_task(self._watch_head(), name="follower-head"),
        ]
        log.info(
            "follower started",
            extra={"replica": self.settings.replica_url, "copy": str(self.settings.db_path)},
        )

    async def _watch_copy(self) -> None:
        while True:
            txid = read_txid(self.store.txid_path)
            if txid and txid != self.applied:
                await asyncio.to_thread(self.store.refresh)
                if self.store.last_error is None:
                    if not self.store.is_open:
                        log.info("replica restored; serving reads", extra={"txid": txid})
                    self.store.open()
                    self.applied = txid
                    self.healthy, self.last_error = True, None
            await asyncio.sleep(POLL_SECONDS)

    async def _watch_head(self) -> None:
        replica_dir = file_replica_dir(self.settings.replica_url)
        while True:
            try:
                if replica_dir is not None:
                    self.head = await asyncio.to_thread(
                        file_replica_head, replica_dir, self.applied
                    )
                else:
                    self.head = await command_replica_head(self.settings, self.config, self.applied)
            except OSError as exc:
                log.warning("replica head unknown", extra={"error": str(exc)})
            await asyncio.sleep(HEAD_POLL_SECONDS)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.child.stop(grace=5.0)
        self.store.close()
