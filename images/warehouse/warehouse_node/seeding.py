"""Loading orders into a shard outside the request path: the benchmarks' prefill and the
tests' fixtures (an old shard of 100k orders, orders with chosen timestamps).

Kept out of :class:`~warehouse_node.store.OrderStore` so the class holds only what serving
needs: these loads bypass group commit, replication and the idempotency answers, which is right
for building a fixture and wrong for anything a client sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from order_contracts.orders import Order

from .records import _INSERT, StoreClosed, _connect, canonical_payload, utc_timestamp
from .store import OrderStore

#: ``(order_id, fingerprint, home_region, fulfilled_by, created_at, payload)``
Row = tuple[str, str, str, str, str, str]


def load_rows(store: OrderStore, rows: Iterable[Row]) -> int:
    """Insert pre-serialized rows in one transaction on a private connection (the store's own
    writer belongs to its group commits); existing ids are skipped. Returns the rows added."""
    if not store.is_open:
        raise StoreClosed("the order store is not open")
    conn = _connect(store.path, store.synchronous)
    try:
        before = conn.total_changes
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(_INSERT, rows)
        conn.execute("COMMIT")
        added = conn.total_changes - before
    finally:
        conn.close()
    store.note_rows_added(added)
    return added


def load_orders(store: OrderStore, records: Iterable[tuple[Order, str, datetime]]) -> int:
    """Insert ``(order, fulfilled_by, created_at)`` records, serialized as the store does."""
    return load_rows(
        store,
        (
            (
                order.order_id,
                order.fingerprint(),
                order.region,
                fulfilled_by,
                utc_timestamp(created_at),
                canonical_payload(order),
            )
            for order, fulfilled_by, created_at in records
        ),
    )
