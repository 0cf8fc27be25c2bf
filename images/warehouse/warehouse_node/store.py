"""Durable order storage: SQLite in WAL mode, written in groups ("group commit").

Why groups: a commit's cost is mostly its fsync, and SQLite has one writer at a time anyway.
Orders that arrive while a COMMIT is running wait in a list; when it returns, all of them go
into the next transaction and share the next fsync. A caller's awaitable resolves only after
its group's COMMIT returned, so an HTTP 201/200 is never sent for an order that a ``kill -9``
(or, with ``synchronous=FULL``, a power cut) could still lose.

Where the work runs: BEGIN and the INSERTs of a group run on the event loop (microseconds each,
page cache only); the COMMIT, which waits for the disk, runs on one dedicated thread. One thread
hand-off per group instead of a writer thread touching every order: with the GIL, per-order
hand-offs between a writer thread and the event loop cost more CPU than the inserts, and each
hand-off can wait a GIL switch interval.

Concurrent creates of the same ``order_id`` meet in the same sequence of groups: the first
inserts, the rest find the row and compare fingerprints (duplicate → same order, else conflict).

This module knows nothing about HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .file_loss import FileWatch, rescue_path, write_tombstone
from .group_commit import GroupCommits
from .migrations import SchemaTooNew, migrate
from .records import (
    LOCK_WAIT_SECONDS,
    CreateResult,
    DamagedRecord,
    OrderRecord,
    Outcome,
    Page,
    StoreClosed,
    StoreError,
    StoreLost,
    _connect,
    _Pending,
    canonical_payload,
    utc_timestamp,
)

__all__ = [
    "LOCK_WAIT_SECONDS",
    "CreateResult",
    "DamagedRecord",
    "OrderRecord",
    "OrderStore",
    "Outcome",
    "Page",
    "StoreClosed",
    "StoreError",
    "StoreLost",
    "canonical_payload",
    "utc_timestamp",
]

log = logging.getLogger("warehouse_node.store")


class OrderStore(GroupCommits):
    """Orders of one shard in ``path``: ``open()``, then ``create`` on one event loop, then
    ``aclose()`` on that loop (or ``close()`` when nothing is pending)."""

    def __init__(
        self,
        path: Path,
        synchronous: str = "FULL",
        max_batch: int = 512,
        on_commit: Callable[[float, int], None] | None = None,
        committed: Callable[[], None] | None = None,
        confirm: Callable[[], Awaitable[None]] | None = None,
        probe_interval: float = 1.0,
        checkpoints: bool = True,
    ):
        """``on_commit(seconds, orders)`` is told each group commit's duration and size (the
        metrics layer turns it into a histogram; this module knows nothing of Prometheus).

        Replication hooks (this module knows nothing of Litestream either): ``committed()`` is
        called after each successful COMMIT; with ``confirm``, a group's callers get their
        results only once ``await confirm()`` returned, and its exception (a StoreError) if it
        raised. The next group commits meanwhile, so waits overlap instead of queueing.

        ``probe_interval``: after a failed write, how often the store tries a write of its
        own until one commits (see :meth:`_probe_until_writable`).

        ``checkpoints=False`` when Litestream replicates the file: the node then never
        checkpoints the WAL (no autocheckpoint, none at close) and leaves it to Litestream,
        which checkpoints on its own schedule after it has copied the frames. Litestream's
        guidance is to turn application checkpoints off under write load; a checkpoint racing
        Litestream's copy is a suspect in restores that fail the integrity check (upstream
        benbjohnson/litestream#1164; docs/replication.md#restores-that-fail-the-integrity-check)."""
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError("synchronous must be FULL or NORMAL")
        self.path = path
        self.synchronous = synchronous
        self.max_batch = max_batch
        self.on_commit = on_commit
        self.committed = committed
        self.confirm = confirm
        self.probe_interval = probe_interval
        self.checkpoints = checkpoints
        self.probe_failures = 0  # failed write probes since the last successful write
        self._probe: asyncio.Task[None] | None = None
        self._deliveries: set[asyncio.Task[None]] = set()
        self._pending: list[_Pending] = []
        self._flusher: asyncio.Task[None] | None = None
        self._writer: sqlite3.Connection | None = None
        self._disk: ThreadPoolExecutor | None = None
        self._readers = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._reader_lock = threading.Lock()
        self._open = False
        self._count = 0
        self._last_created_at = ""
        self._last_error: str | None = None
        self._lost: str | None = None
        self._read_error: str | None = None
        self.read_failures = 0  # rows or reads that failed, since start (a metric)
        self._watch: FileWatch | None = None
        self._rescue: asyncio.Task[None] | None = None
        # Group commit statistics, read by the metrics layer (plain ints: no lock needed).
        self.commits = 0
        self.committed_rows = 0

    # -- lifecycle -----------------------------------------------------------------------------

    def open(self) -> OrderStore:
        """Create/migrate the database and count its orders once."""
        conn: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # No busy wait on the group-commit connection: its BEGIN runs on the event loop and
            # waits for a foreign writer's lock by retrying asynchronously (see _begin).
            conn = _connect(self.path, self.synchronous, timeout=0.0)
            if not self.checkpoints:
                conn.execute("PRAGMA wal_autocheckpoint=0")
            migrate(conn)
            self._count = int(conn.execute("SELECT count(*) FROM orders").fetchone()[0])
            latest = conn.execute("SELECT max(created_at) FROM orders").fetchone()[0]
            self._last_created_at = str(latest or "")
            self._watch = FileWatch(self.path)
        except (OSError, sqlite3.Error, SchemaTooNew) as exc:
            if conn is not None:
                conn.close()
            raise StoreError(f"cannot open the order database {self.path}: {exc}") from exc
        self._writer = conn
        self._disk = ThreadPoolExecutor(1, thread_name_prefix="order-commit")
        self._open = True
        log.info("store opened", extra={"path": str(self.path), "orders": self._count})
        return self

    async def aclose(self, before_close: Callable[[], Awaitable[object]] | None = None) -> None:
        """Stop taking orders, commit what is pending, answer every caller, run
        ``before_close`` (a last replica sync), then :meth:`close`."""
        self._open = False
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
        for task in (self._flusher, self._rescue):
            if task is None:
                continue
            try:
                await asyncio.shield(task)
            except Exception:  # already answered to its callers; closing must still happen
                log.exception("group commit or rescue failed while closing")
        await self.drain_deliveries()
        if before_close is not None:
            await before_close()
        await asyncio.to_thread(self.close)

    async def drain_deliveries(self) -> None:
        """Wait until every committed group's callers have their answer (sync replication)."""
        while self._deliveries:
            await asyncio.gather(*self._deliveries, return_exceptions=True)

    def close(self) -> None:
        """Checkpoint the WAL and close the file (orders still pending are not waited for:
        use :meth:`aclose` from the event loop that creates orders)."""
        if self._writer is None:
            return
        self._open = False
        if self._disk is not None:
            self._disk.shutdown(wait=True)  # a COMMIT in progress completes
            self._disk = None
        with self._reader_lock:
            for conn in self._reader_conns:
                conn.close()
            self._reader_conns.clear()
        self._readers = threading.local()
        try:
            if self.checkpoints:
                self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:  # a busy reader elsewhere: the WAL stays, still valid
            log.warning("checkpoint at close failed", extra={"error": str(exc)})
        self._writer.close()
        self._writer = None
        if self._watch is not None:
            self._watch.close()
            self._watch = None
        log.info("store closed", extra={"path": str(self.path), "orders": self._count})

    # -- state read by health and metrics (no queries: these are on every probe) --------------

    @property
    def is_open(self) -> bool:
        return self._open

    @property
    def healthy(self) -> bool:
        """Open, the last write succeeded, and no read has found damage."""
        return (
            self.is_open
            and self._last_error is None
            and self._lost is None
            and self._read_error is None
        )

    # -- a lost file: stop acknowledging, leave marks, rescue what it held -------------------

    @property
    def lost(self) -> str | None:
        """Why the database file can no longer be trusted (removed, replaced...), or None."""
        return self._lost

    def check_file(self) -> str | None:
        """Is the open file still the one at ``path``? Marks the store lost when not (call it
        on the store's event loop: the group commits and a watchdog do)."""
        if self._lost is None and self._watch is not None:
            problem = self._watch.problem()
            if problem is not None:
                self._mark_lost(problem)
        return self._lost

    def _mark_lost(self, reason: str) -> None:
        """Stop acknowledging at once; leave a tombstone so the next start refuses, and a
        copy of what the lost file held (read through the descriptors still open)."""
        if self._lost is not None:
            return
        self._lost = reason
        self._last_error = f"database lost: {reason}"
        log.error("order database lost; refusing writes", extra={"reason": reason})
        try:
            write_tombstone(self.path, reason, self._count, None)
        except OSError as exc:
            log.error("cannot write the tombstone", extra={"error": str(exc)})
        with contextlib.suppress(RuntimeError):  # no running loop: nothing to rescue with
            self._rescue = asyncio.get_running_loop().create_task(self._rescue_copy(reason))

    async def _rescue_copy(self, reason: str) -> None:
        """SQLite's online backup from the writer connection (it still reads the lost inode)
        into ``orders.db.rescued-<time>``, after the group in progress, on the commit thread."""
        if self._flusher is not None:  # no new group starts once lost: this one is the last
            await asyncio.wait([self._flusher])
        if self._writer is None or self._disk is None:
            return
        target = rescue_path(self.path)
        writer = self._writer

        def copy() -> None:
            out = sqlite3.connect(target)
            try:
                writer.backup(out)
            finally:
                out.close()

        try:
            await asyncio.get_running_loop().run_in_executor(self._disk, copy)
            write_tombstone(self.path, reason, self._count, target)
        except (OSError, sqlite3.Error) as exc:
            log.error("rescue copy of the lost database failed", extra={"error": str(exc)})
            return
        log.error("lost database rescued", extra={"rescued": str(target), "orders": self._count})

    @property
    def last_error(self) -> str | None:
        return self._last_error

    @property
    def count(self) -> int:
        """Orders stored: counted once at open, then kept up to date by each commit."""
        return self._count

    def size_bytes(self) -> int:
        """Database plus WAL file size on disk."""
        total = 0
        for suffix in ("", "-wal"):
            with contextlib.suppress(OSError):
                total += Path(f"{self.path}{suffix}").stat().st_size
        return total

    def note_rows_added(self, added: int) -> None:
        """Count rows another connection inserted (:mod:`warehouse_node.seeding`)."""
        self._count += added
