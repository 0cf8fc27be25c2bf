"""What the order store is made of and answers with: rows, records, results, errors, and the
SQL and connection settings every part of the store shares (:mod:`warehouse_node.store`)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from order_contracts.orders import Order

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
