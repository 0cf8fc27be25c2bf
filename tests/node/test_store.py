"""The store on its own (no HTTP): idempotency, group commits, pagination, migrations, failures."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from order_contracts.orders import Order, parse_order
from warehouse_node.migrations import SCHEMA_VERSION, SchemaTooNew
from warehouse_node.seeding import load_orders
from warehouse_node.store import OrderStore, StoreClosed, StoreError, utc_timestamp

REGIONS = ("HCM", "HN", "DN")


def order(order_id: str, region: str = "HCM", name: str = "Tran Thi B") -> Order:
    return parse_order({"order_id": order_id, "customer_name": name, "region": region}, REGIONS)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[OrderStore]:
    opened = OrderStore(tmp_path / "orders.db").open()
    yield opened
    opened.close()


def test_create_replay_conflict(store: OrderStore) -> None:
    async def scenario() -> list[str]:
        first = await store.create(order("s-1"), "HCM")
        again = await store.create(order("s-1"), "HCM")
        clash = await store.create(order("s-1", name="Other"), "HCM")
        assert again.record == first.record == clash.record
        return [first.outcome, again.outcome, clash.outcome]

    assert asyncio.run(scenario()) == ["created", "duplicate", "conflict"]
    assert store.count == 1


def test_concurrent_creates_of_one_id_make_one_row_in_few_commits(store: OrderStore) -> None:
    async def scenario() -> list[str]:
        results = await asyncio.gather(*(store.create(order("same"), "HN") for _ in range(50)))
        return [r.outcome for r in results]

    outcomes = asyncio.run(scenario())
    assert sorted(outcomes) == ["created"] + ["duplicate"] * 49
    assert store.count == 1
    # Everything queued while the first commit ran went into the next group.
    assert store.commits < 50


def test_many_orders_are_grouped_into_few_commits(store: OrderStore) -> None:
    async def scenario() -> None:
        await asyncio.gather(*(store.create(order(f"g-{i}"), "HCM") for i in range(500)))

    asyncio.run(scenario())
    assert store.count == 500
    assert store.committed_rows == 500
    assert store.commits <= 250


def test_results_are_only_given_after_commit(tmp_path: Path) -> None:
    path = tmp_path / "orders.db"
    store = OrderStore(path).open()
    try:
        result = asyncio.run(store.create(order("c-1"), "HCM"))
        # A second connection sees only committed data: the row is there the moment we return.
        with sqlite3.connect(path) as other:
            row = other.execute("SELECT created_at FROM orders WHERE order_id='c-1'").fetchone()
        assert row == (result.record.created_at,)
    finally:
        store.close()


def test_reopen_counts_what_is_stored_and_keeps_fingerprints(tmp_path: Path) -> None:
    path = tmp_path / "orders.db"
    first = OrderStore(path).open()
    asyncio.run(first.create(order("r-1"), "HCM"))
    first.close()
    second = OrderStore(path).open()
    try:
        assert second.count == 1
        assert asyncio.run(second.create(order("r-1"), "HCM")).outcome == "duplicate"
    finally:
        second.close()


def test_pages_are_keyset_ordered_and_filtered(store: OrderStore) -> None:
    async def fill() -> None:
        for i in range(7):
            await store.create(order(f"p-{i}", ("HCM", "DN")[i % 2]), "HCM")

    asyncio.run(fill())
    first = store.list_page(limit=3)
    assert [r.order_id for r in first.records] == ["p-0", "p-1", "p-2"]
    assert first.next_cursor is not None
    second = store.list_page(limit=3, after=first.next_cursor)
    assert [r.order_id for r in second.records] == ["p-3", "p-4", "p-5"]
    assert second.next_cursor is not None
    last = store.list_page(limit=3, after=second.next_cursor)
    assert ([r.order_id for r in last.records], last.next_cursor) == (["p-6"], None)
    dn = store.list_page(limit=10, home_region="DN")
    assert [r.order_id for r in dn.records] == ["p-1", "p-3", "p-5"]
    tomorrow = utc_timestamp(datetime.now(UTC) + timedelta(days=1))
    assert store.list_page(limit=10, since=tomorrow).records == []


def test_record_json_is_the_stored_order_shape(store: OrderStore) -> None:
    rich = parse_order(
        {
            "order_id": "j-1",
            "customer_name": 'Quote "and" backslash \\',
            "region": "hn",
            "items": [{"sku": "A", "quantity": 2, "unit_price": "1.5"}],
        },
        REGIONS,
    )
    record = asyncio.run(store.create(rich, "HCM")).record
    data = record.as_dict()
    assert data["customer_name"] == 'Quote "and" backslash \\'
    assert data["items"] == [{"sku": "A", "quantity": 2, "unit_price": "1.50"}]
    assert (data["home_region"], data["fulfilled_by"], data["status"]) == ("HN", "HCM", "accepted")
    assert data["created_at"].endswith("Z")


def test_load_orders_loads_in_bulk_and_skips_existing(store: OrderStore) -> None:
    now = datetime.now(UTC)
    added = load_orders(store, ((order(f"b-{i}"), "HCM", now) for i in range(1000)))
    assert added == 1000
    assert load_orders(store, [(order("b-0"), "HCM", now)]) == 0
    assert store.count == 1000
    assert asyncio.run(store.create(order("b-5"), "HCM")).outcome == "duplicate"


def test_a_failed_write_is_an_error_and_marks_the_store_unhealthy(store: OrderStore) -> None:
    with sqlite3.connect(store.path) as saboteur:
        saboteur.execute("DROP TABLE orders")
    with pytest.raises(StoreError):
        asyncio.run(store.create(order("f-1"), "HCM"))
    assert store.is_open
    assert not store.healthy
    assert store.last_error and "orders" in store.last_error


def test_close_commits_what_is_queued(tmp_path: Path) -> None:
    path = tmp_path / "orders.db"
    store = OrderStore(path).open()

    async def queue_then_close() -> None:
        pending = [asyncio.ensure_future(store.create(order(f"q-{i}"), "HCM")) for i in range(50)]
        await asyncio.sleep(0)  # the creates are queued now
        await store.aclose()
        assert all(r.outcome == "created" for r in await asyncio.gather(*pending))

    asyncio.run(queue_then_close())
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM orders").fetchone() == (50,)
    with pytest.raises(StoreClosed):
        asyncio.run(store.create(order("late"), "HCM"))


def test_schema_is_migrated_and_versioned(store: OrderStore) -> None:
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "orders.db"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError) as caught:
        OrderStore(path).open()
    assert isinstance(caught.value.__cause__, SchemaTooNew)


def test_created_at_never_decreases_even_when_the_clock_steps_back(tmp_path: Path) -> None:
    path = tmp_path / "orders.db"
    future = datetime.now(UTC) + timedelta(hours=1)  # as if the clock had been ahead, then fixed
    earlier = OrderStore(path).open()
    load_orders(earlier, [(order("from-the-future"), "HCM", future)])
    earlier.close()
    store = OrderStore(path).open()
    try:
        later = asyncio.run(store.create(order("after-the-step"), "HCM")).record
        assert later.created_at >= utc_timestamp(future)
    finally:
        store.close()


def test_since_pages_start_at_the_first_matching_order(store: OrderStore) -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    load_orders(
        store,
        (
            (order(f"t-{i}", ("HCM", "HN")[i % 2]), "HCM", base + timedelta(minutes=i))
            for i in range(10)
        ),
    )
    since = utc_timestamp(base + timedelta(minutes=4))
    first = store.list_page(limit=3, since=since)
    assert [r.order_id for r in first.records] == ["t-4", "t-5", "t-6"]
    assert first.next_cursor is not None
    rest = store.list_page(limit=10, after=first.next_cursor, since=since)
    assert [r.order_id for r in rest.records] == ["t-7", "t-8", "t-9"]
    hn = store.list_page(limit=10, home_region="HN", since=since)
    assert [r.order_id for r in hn.records] == ["t-5", "t-7", "t-9"]
    assert store.list_page(limit=10, since=utc_timestamp(base + timedelta(days=1))).records == []


@pytest.mark.parametrize("checkpoints", [True, False], ids=["own", "left-to-litestream"])
def test_a_store_whose_wal_litestream_replicates_never_checkpoints_it(
    tmp_path: Path, checkpoints: bool
) -> None:
    """Replicated, the node leaves the WAL to Litestream (store.py says why): no automatic
    checkpoint on its connection, none at close."""
    path = tmp_path / "orders.db"
    store = OrderStore(path, checkpoints=checkpoints).open()

    async def write() -> None:
        await asyncio.gather(*(store.create(order(f"c-{i}"), "HCM") for i in range(200)))

    asyncio.run(write())
    assert store._writer is not None
    (autocheckpoint,) = store._writer.execute("PRAGMA wal_autocheckpoint").fetchone()
    # Litestream keeps a connection open: the node's close is then not the last one (the
    # last one to close checkpoints whatever anyone asked)
    litestream = sqlite3.connect(path)
    litestream.execute("SELECT count(*) FROM orders").fetchone()  # opens the file and the WAL
    store.close()
    wal = path.with_name("orders.db-wal")
    if checkpoints:
        assert autocheckpoint == 1000  # SQLite's default
        assert wal.stat().st_size == 0  # TRUNCATE at close
    else:
        assert autocheckpoint == 0
        assert wal.stat().st_size > 0  # the frames wait for Litestream's checkpoint
    litestream.close()
    with sqlite3.connect(path) as reopened:  # and the file is whole either way
        assert reopened.execute("SELECT count(*) FROM orders").fetchone() == (200,)
