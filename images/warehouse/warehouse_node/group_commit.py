"""The store's writes: group commit (see :mod:`warehouse_node.store` for why), the write probe
that clears a degraded store once it can write again, and what a lost file stops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from order_contracts.orders import Order

from .file_loss import FileWatch
from .records import (
    _COLUMNS,
    _INSERT,
    _LOCK_RETRY_SECONDS,
    _PROBE,
    LOCK_WAIT_SECONDS,
    CreateResult,
    DamagedRecord,
    OrderRecord,
    StoreClosed,
    StoreError,
    StoreLost,
    _Bulk,
    _Pending,
    utc_timestamp,
)
from .store_reads import StoreReads

log = logging.getLogger("warehouse_node.store")


class GroupCommits(StoreReads):
    """Writes of :class:`~warehouse_node.store.OrderStore` (its state is set in its __init__)."""

    max_batch: int
    on_commit: Callable[[float, int], None] | None
    committed: Callable[[], None] | None
    confirm: Callable[[], Awaitable[None]] | None
    probe_interval: float
    probe_failures: int
    commits: int
    committed_rows: int
    _probe: asyncio.Task[None] | None
    _deliveries: set[asyncio.Task[None]]
    _pending: list[_Pending]
    _flusher: asyncio.Task[None] | None
    _writer: sqlite3.Connection | None
    _disk: ThreadPoolExecutor | None
    _count: int
    _last_created_at: str
    _last_error: str | None
    _watch: FileWatch | None
    _rescue: asyncio.Task[None] | None

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

    def _mark_lost(self, reason: str) -> None:
        """Stop acknowledging; defined by OrderStore (tombstone, rescue copy)."""
        raise NotImplementedError
