"""The store's reads: a read-only connection per thread (WAL readers never wait for the
writer), and damaged rows reported as :class:`~warehouse_node.records.DamagedRecord` rather than
raised as whatever the bad column causes (docs/storage-integrity.md#reads)."""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

from .records import (
    _COLUMNS,
    DamagedRecord,
    OrderRecord,
    Page,
    StoreClosed,
    StoreError,
    StoreLost,
    _connect,
    row_problem,
)

log = logging.getLogger("warehouse_node.store")


class StoreReads:
    """Reads of :class:`~warehouse_node.store.OrderStore` (its state is set in its __init__)."""

    path: Path
    synchronous: str
    read_failures: int
    _readers: threading.local
    _reader_conns: list[sqlite3.Connection]
    _reader_lock: threading.Lock
    _open: bool
    _lost: str | None
    _read_error: str | None

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
