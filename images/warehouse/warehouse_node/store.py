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
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from order_contracts.orders import Order

from .file_loss import FileWatch, rescue_path, write_tombstone
from .migrations import SchemaTooNew, migrate

log = logging.getLogger("warehouse_node.store")

Outcome = Literal["created", "duplicate", "conflict"]
_COLUMNS = "seq, order_id, fingerprint, home_region, fulfilled_by, status, created_at, payload"
_TEXT_COLUMNS = _COLUMNS.split(", ")[1:]
#: the write probe's row: an upsert, so the table keeps one such row however often it runs
_PROBE = (
    "INSERT INTO shard_meta (key, value) VALUES ('write_probe', ?)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)
_INSERT = (
    "INSERT INTO orders (order_id, fingerprint, home_region, fulfilled_by, status, created_at,"
    " payload) VALUES (?, ?, ?, ?, 'accepted', ?, ?) ON CONFLICT (order_id) DO NOTHING"
)


class StoreError(RuntimeError):
    """The database cannot be opened or written; the message says which file and why."""


class StoreClosed(StoreError):
    """The store is not open (starting up or shutting down)."""


class DamagedRecord(StoreError):
    """A stored row cannot be served (NULL or mistyped column, cut payload): the database is
    damaged there. The message names the row and the column."""


def row_problem(row: tuple[Any, ...]) -> str | None:
    """Why ``row`` (the ``_COLUMNS`` of one order) cannot be served, or None. A few type checks
    per row: a damaged page read back as NULLs must be a named error, not a TypeError later."""
    if len(row) != 8 or not isinstance(row[0], int):
        return "the row has the wrong shape"
    for name, value in zip(_TEXT_COLUMNS, row[1:], strict=True):
        if not isinstance(value, str) or not value:
            kind = "NULL" if value is None else type(value).__name__ if value else "empty"
            return f"column {name} is {kind}"
    payload = row[7]
    if payload[0] != "{" or payload[-1] != "}":
        return "column payload is not a JSON object (cut short?)"
    return None


class StoreLost(StoreError):
    """The database file this store opened is gone or replaced: nothing more is acknowledged."""


def utc_timestamp(moment: datetime | None = None) -> str:
    """Fixed-width ISO-8601 UTC (``2026-01-01T00:00:00.000000Z``): sorts as text like in time."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """One stored order: the canonical order JSON plus what the warehouse added."""

    seq: int
    order_id: str
    fingerprint: str
    home_region: str
    fulfilled_by: str
    status: str
    created_at: str
    payload: str

    def as_dict(self) -> dict[str, Any]:
        """The ``StoredOrder`` shape: the order's fields plus home/fulfilled/status/created."""
        data: dict[str, Any] = json.loads(self.to_json())
        return data

    def to_json(self) -> str:
        """The ``StoredOrder`` JSON, spliced from the stored canonical payload without a parse:
        the added values are region names, a fixed status word and a timestamp (no quoting)."""
        return (
            f'{self.payload[:-1]},"home_region":"{self.home_region}",'
            f'"fulfilled_by":"{self.fulfilled_by}","status":"{self.status}",'
            f'"created_at":"{self.created_at}"}}'
        )

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> OrderRecord:
        return cls(*row)


@dataclass(frozen=True, slots=True)
class CreateResult:
    outcome: Outcome
    record: OrderRecord


@dataclass(frozen=True, slots=True)
class Page:
    records: list[OrderRecord]
    next_cursor: int | None
    damaged: int = 0  # rows of this page skipped because they cannot be served


class _Bulk:
    """The orders of one ``create_many`` call: one future for all of them, not one each
    (a thousand futures and their wake-ups cost more than the thousand inserts)."""

    __slots__ = ("future", "remaining", "results")

    def __init__(self, size: int, future: asyncio.Future[None]):
        self.results: list[CreateResult | StoreError | None] = [None] * size
        self.remaining = size
        self.future = future

    def settle(self, index: int, result: CreateResult | StoreError) -> None:
        self.results[index] = result
        self.remaining -= 1
        if self.remaining == 0 and not self.future.done():
            self.future.set_result(None)


@dataclass(slots=True)
class _Pending:
    """An insert waiting for its group, and who waits for it: a single caller's future, or a
    slot of a bulk call."""

    order_id: str
    fingerprint: str
    home_region: str
    fulfilled_by: str
    payload: str
    future: asyncio.Future[CreateResult] | None
    bulk: _Bulk | None = None
    index: int = 0


def canonical_payload(order: Order) -> str:
    """The order as stored: JSON without unset optionals, amounts as 2-decimal strings."""
    return order.canonical_json()


LOCK_WAIT_SECONDS = 30.0
_LOCK_RETRY_SECONDS = 0.002


def _connect(
    path: Path, synchronous: str, timeout: float = LOCK_WAIT_SECONDS
) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a group is exactly one transaction.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=timeout)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


class OrderStore:
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
    ):
        """``on_commit(seconds, orders)`` is told each group commit's duration and size (the
        metrics layer turns it into a histogram; this module knows nothing of Prometheus).

        Replication hooks (this module knows nothing of Litestream either): ``committed()`` is
        called after each successful COMMIT; with ``confirm``, a group's callers get their
        results only once ``await confirm()`` returned, and its exception (a StoreError) if it
        raised. The next group commits meanwhile, so waits overlap instead of queueing.

        ``probe_interval``: after a failed write, how often the store tries a write of its
        own until one commits (see :meth:`_probe_until_writable`)."""
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError("synchronous must be FULL or NORMAL")
        self.path = path
        self.synchronous = synchronous
        self.max_batch = max_batch
        self.on_commit = on_commit
        self.committed = committed
        self.confirm = confirm
        self.probe_interval = probe_interval
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

    @property
    def read_error(self) -> str | None:
        """The last read failure (damaged row, unreadable page), kept: damage does not heal."""
        return self._read_error

    def _read_failed(self, problem: str) -> None:
        self.read_failures += 1
        if self._read_error is None:
            log.error("order database read failed", extra={"error": problem})
        self._read_error = problem

    def _record(self, row: tuple[Any, ...]) -> OrderRecord:
        """The row as a record, or :class:`DamagedRecord` naming what is wrong with it."""
        problem = row_problem(row)
        if problem is None:
            return OrderRecord(*row)
        where = f"order {row[1]!r}" if len(row) > 1 and isinstance(row[1], str) else "an order"
        message = f"{where} (seq {row[0]}) is damaged in the database: {problem}"
        self._read_failed(message)
        raise DamagedRecord(message)

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

    # -- writes --------------------------------------------------------------------------------

    async def create(self, order: Order, fulfilled_by: str) -> CreateResult:
        """Store ``order`` unless its id exists; resolves after its group's COMMIT returned."""
        if not self._open:
            raise StoreClosed("the order store is not open")
        if self._lost is not None:
            raise StoreLost(f"the order database was lost ({self._lost})")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[CreateResult] = loop.create_future()
        payload, fingerprint = order.stored_form()
        self._pending.append(
            _Pending(order.order_id, fingerprint, order.region, fulfilled_by, payload, future)
        )
        self._start_flusher(loop)
        return await future

    async def create_many(
        self, orders: Sequence[Order], fulfilled_by: str
    ) -> list[CreateResult | StoreError]:
        """Store each of ``orders`` unless its id exists, in request order; resolves after the
        COMMIT of every group holding one of them returned.

        They queue as consecutive entries, so they share one group commit (or a few, past
        ``max_batch``) and an id repeated inside ``orders`` is settled like a replay: the first
        is created, the later ones are duplicates or conflicts of it. A group whose COMMIT fails
        gives its orders a :class:`StoreError` (nothing of that group is stored); orders of the
        other groups keep their results.
        """
        if not self._open:
            raise StoreClosed("the order store is not open")
        if self._lost is not None:
            raise StoreLost(f"the order database was lost ({self._lost})")
        if not orders:
            return []
        loop = asyncio.get_running_loop()
        bulk = _Bulk(len(orders), loop.create_future())
        pending = self._pending
        for index, order in enumerate(orders):
            payload, fingerprint = order.stored_form()
            pending.append(
                _Pending(
                    order.order_id,
                    fingerprint,
                    order.region,
                    fulfilled_by,
                    payload,
                    None,
                    bulk,
                    index,
                )
            )
        self._start_flusher(loop)
        await bulk.future
        return [r for r in bulk.results if r is not None]

    def _start_flusher(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._flusher is None:
            self._flusher = loop.create_task(self._flush(), name="order-group-commit")

    async def _flush(self, probe: bool = False) -> None:
        """Commit groups until nothing is pending: each group is what queued during the last.
        With ``probe``, first the write probe (orders queued meanwhile wait for it: one writer)."""
        try:
            if probe:
                await self._probe_write()
            while self._pending:
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                await self._commit_group(batch)
        finally:
            self._flusher = None

    @staticmethod
    async def _begin(conn: sqlite3.Connection) -> None:
        """BEGIN IMMEDIATE on the event loop: instant when only this node writes (the normal
        case). When another process holds the write lock (a backup, an import), retry without
        blocking the loop, up to ``LOCK_WAIT_SECONDS``."""
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                    raise
            await asyncio.sleep(_LOCK_RETRY_SECONDS)

    async def _commit_group(self, batch: list[_Pending]) -> None:
        assert self._writer is not None and self._disk is not None
        conn, loop = self._writer, asyncio.get_running_loop()
        # created_at never decreases along seq, even if the wall clock steps back: that lets a
        # ``since`` filter start from one index seek instead of sorting what matches.
        now = max(utc_timestamp(), self._last_created_at)
        self._last_created_at = now
        results: list[CreateResult | StoreError] = []
        created = 0
        try:
            if self._lost is not None:
                raise StoreLost(f"the order database was lost ({self._lost})")
            await self._begin(conn)
            for p in batch:
                cur = conn.execute(
                    _INSERT,
                    (p.order_id, p.fingerprint, p.home_region, p.fulfilled_by, now, p.payload),
                )
                if cur.rowcount == 1:
                    created += 1
                    record = OrderRecord(
                        int(cur.lastrowid or 0),
                        p.order_id,
                        p.fingerprint,
                        p.home_region,
                        p.fulfilled_by,
                        "accepted",
                        now,
                        p.payload,
                    )
                    results.append(CreateResult("created", record))
                    continue
                row = conn.execute(
                    f"SELECT {_COLUMNS} FROM orders WHERE order_id = ?", (p.order_id,)
                ).fetchone()
                try:
                    existing = self._record(row)
                except DamagedRecord as exc:
                    results.append(exc)
                    continue
                same = existing.fingerprint == p.fingerprint
                results.append(CreateResult("duplicate" if same else "conflict", existing))
            committing = time.perf_counter()
            await loop.run_in_executor(self._disk, conn.execute, "COMMIT")
            commit_seconds = time.perf_counter() - committing
            # On the loop, not the commit thread: there each system call would hand the GIL
            # back and forth with a busy loop (up to a switch interval each time).
            problem = self._watch.problem() if self._watch is not None else None
            if problem is not None:
                # Committed, but into a file the node will not reopen: acknowledge none of it.
                self._mark_lost(problem)
                raise StoreLost(f"the order database was lost ({problem})")
        except Exception as exc:  # sqlite3.Error mostly; never leave callers waiting
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    log.exception("rollback failed")
            self._last_error = self._last_error if self._lost else str(exc)
            log.error(
                "order write failed",
                exc_info=not isinstance(exc, sqlite3.Error),
                extra={"error": str(exc), "batch": len(batch)},
            )
            error = (
                exc
                if isinstance(exc, StoreLost)
                else StoreError(f"the order database could not be written: {exc}")
            )
            results = [error] * len(batch)
            self._start_probe(loop)
        else:
            self._count += created
            self._last_error = None
            self.commits += 1
            self.committed_rows += len(batch)
            if self.on_commit is not None:
                self.on_commit(commit_seconds, len(batch))
            if self.committed is not None:
                self.committed()
            if self.confirm is not None:
                task = loop.create_task(self._deliver_confirmed(batch, results))
                self._deliveries.add(task)
                task.add_done_callback(self._deliveries.discard)
                return
        self._deliver(batch, results)

    # -- the write probe: a degraded store finds out by itself that it can write again ---------

    def _start_probe(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._probe is None and self._lost is None and self._open:
            self._probe = loop.create_task(self._probe_until_writable(), name="write-probe")

    async def _probe_until_writable(self) -> None:
        """Until a write commits again (or the file is lost, or the store closes).

        Why: a failed write (disk full, an I/O error) makes ``/health`` degraded, and routing
        sends no orders to a degraded node, so no order would ever commit there to say the
        disk has room again: the node would stay out of rotation after the fault is over. So
        the store writes one row of its own (``shard_meta`` key ``write_probe``: the real
        writer connection, the real COMMIT and fsync) every ``probe_interval`` seconds, and a
        commit clears the error. Orders that arrive meanwhile clear it just the same."""
        try:
            while self._open and self._lost is None and self._last_error is not None:
                await asyncio.sleep(self.probe_interval)
                if self._flusher is not None:  # orders are being written: they tell us
                    continue
                self._flusher = asyncio.get_running_loop().create_task(
                    self._flush(probe=True), name="order-group-commit"
                )
                await asyncio.shield(self._flusher)
        finally:
            self._probe = None

    async def _probe_write(self) -> None:
        """One probe commit on the writer connection; clears the write error if it commits."""
        assert self._writer is not None and self._disk is not None
        if self._last_error is None or self._lost is not None:
            return
        conn, loop = self._writer, asyncio.get_running_loop()
        try:
            await self._begin(conn)
            conn.execute(_PROBE, (utc_timestamp(),))
            await loop.run_in_executor(self._disk, conn.execute, "COMMIT")
            problem = self._watch.problem() if self._watch is not None else None
            if problem is not None:  # written into a file the node will not reopen
                self._mark_lost(problem)
                return
        except Exception as exc:  # still failing: stays degraded, the next probe tries again
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            self.probe_failures += 1
            if self.probe_failures == 1:  # once per streak: a full disk can last for hours
                log.warning("write probe failed", extra={"error": str(exc)})
            self._last_error = f"the order database could not be written: {exc}"
            return
        log.info(
            "order database writable again",
            extra={"was": self._last_error, "failed_probes": self.probe_failures},
        )
        self._last_error = None
        self.probe_failures = 0

    async def _deliver_confirmed(
        self, batch: list[_Pending], results: Sequence[CreateResult | StoreError]
    ) -> None:
        """Answer a committed group once ``confirm`` says it is replicated; its error if not."""
        assert self.confirm is not None
        try:
            await self.confirm()
        except StoreError as exc:
            results = [exc] * len(batch)
        except Exception as exc:  # a bug in the hook: never leave callers waiting
            log.exception("replication confirm failed")
            results = [StoreError(f"replication check failed: {exc}")] * len(batch)
        self._deliver(batch, results)

    @staticmethod
    def _deliver(batch: list[_Pending], results: Sequence[CreateResult | StoreError]) -> None:
        for p, result in zip(batch, results, strict=True):
            if p.bulk is not None:
                p.bulk.settle(p.index, result)
                continue
            future = p.future
            if future is None or future.done():  # the caller gave up; the order is stored anyway
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

    def note_rows_added(self, added: int) -> None:
        """Count rows another connection inserted (:mod:`warehouse_node.seeding`)."""
        self._count += added

    # -- reads ---------------------------------------------------------------------------------

    def _reader(self) -> sqlite3.Connection:
        """A read-only connection per thread: WAL readers never wait for the writer."""
        conn: sqlite3.Connection | None = getattr(self._readers, "conn", None)
        if self._lost is not None:
            raise StoreLost(f"the order database was lost ({self._lost})")
        if conn is None:
            if not self._open:
                raise StoreClosed("the order store is not open")
            conn = _connect(self.path, self.synchronous)
            conn.execute("PRAGMA query_only=ON")
            self._readers.conn = conn
            with self._reader_lock:
                self._reader_conns.append(conn)
        return conn

    def get(self, order_id: str) -> OrderRecord | None:
        try:
            row = (
                self._reader()
                .execute(f"SELECT {_COLUMNS} FROM orders WHERE order_id = ?", (order_id,))
                .fetchone()
            )
        except sqlite3.Error as exc:
            self._read_failed(f"the order database could not be read: {exc}")
            raise StoreError(f"the order database could not be read: {exc}") from exc
        return None if row is None else self._record(row)

    def list_page(
        self,
        limit: int,
        after: int = 0,
        home_region: str | None = None,
        fulfilled_by: str | None = None,
        since: str | None = None,
    ) -> Page:
        """Orders with ``seq > after`` in ``seq`` order (keyset pagination: stable under
        concurrent inserts, no OFFSET scans). ``since`` is a :func:`utc_timestamp` string.

        Every page walks an index in ``seq`` order and stops after ``limit`` rows, however big
        the table: ``since`` becomes a starting ``seq`` (created_at never decreases along
        seq), and the ``+created_at`` keeps SQLite from sorting all matches by creation time.
        """
        clauses, params = ["seq > ?"], [after]
        if home_region:
            clauses.append("home_region = ?")
            params.append(home_region)  # type: ignore[arg-type]
        if fulfilled_by:
            clauses.append("fulfilled_by = ?")
            params.append(fulfilled_by)  # type: ignore[arg-type]
        if since:
            clauses.append("+created_at >= ?")
            params.append(since)  # type: ignore[arg-type]
        sql = f"SELECT {_COLUMNS} FROM orders WHERE {' AND '.join(clauses)} ORDER BY seq LIMIT ?"
        try:
            reader = self._reader()
            if since:
                first = reader.execute(
                    "SELECT seq FROM orders WHERE created_at >= ? ORDER BY created_at, seq LIMIT 1",
                    (since,),
                ).fetchone()
                if first is None:
                    return Page([], None)
                params[0] = max(after, int(first[0]) - 1)
            rows = reader.execute(sql, (*params, limit + 1)).fetchall()
        except sqlite3.Error as exc:
            self._read_failed(f"the order database could not be read: {exc}")
            raise StoreError(f"the order database could not be read: {exc}") from exc
        records, damaged = [], 0
        for row in rows[:limit]:
            try:
                records.append(self._record(row))
            except DamagedRecord:  # skipped, counted, logged; health shows it
                damaged += 1
        next_cursor = int(rows[limit - 1][0]) if len(rows) > limit else None
        return Page(records, next_cursor, damaged)
