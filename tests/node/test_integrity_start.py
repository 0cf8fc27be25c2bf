"""Start-up refuses a database it cannot trust (issue 16, part 1), on real node processes.

Each case damages a database the way operators' accidents do, then starts ``warehouse-node``
on it: it must exit non-zero with one line naming the file and the cause, and no traceback.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from localmode.nodes import node_process
from localmode.processes import free_port
from order_contracts.orders import Order
from tests.conftest import BASE_NODE_ENV, READY_TIMEOUT, NodeFactory
from tests.node.conftest import run_node, seed_order
from warehouse_node.integrity import DatabaseRefused, NothingToRestore, verify_at_start
from warehouse_node.seeding import load_orders
from warehouse_node.store import OrderStore

ORDERS = 5000


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory a real HCM node created and served, then holding ``ORDERS`` orders."""
    base = tmp_path_factory.mktemp("populated")
    data = base / "data"
    process, _ = node_process("HCM", data, base / "logs", env=BASE_NODE_ENV)
    process.start(READY_TIMEOUT)
    process.stop(grace=10.0)
    store = OrderStore(data / "orders.db").open()
    created = datetime(2026, 1, 1, tzinfo=UTC)
    load_orders(
        store,
        ((Order.model_validate(seed_order(f"old-{i}")), "HCM", created) for i in range(ORDERS)),
    )
    store.close()
    return data


def damaged(populated: Path, tmp_path: Path, damage: Callable[[Path], None]) -> Path:
    data = tmp_path / "data"
    shutil.copytree(populated, data)
    damage(data / "orders.db")
    return data


def assert_refused(data: Path, *words: str, region: str = "HCM") -> str:
    port = str(free_port())
    result = run_node(
        "--region", region, "--data-dir", str(data), "--host", "127.0.0.1", "--port", port
    )
    line = result.stderr.strip()
    assert result.returncode == 2, result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    assert len(line.splitlines()) == 1, line
    for word in words:
        assert word in line
    return line


def page_of(db: Path, index: str) -> tuple[int, int]:
    with sqlite3.connect(db) as conn:
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (index,))
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        return int(root.fetchone()[0]), int(page_size)


def test_a_deleted_database_is_refused_not_recreated_empty(populated: Path, tmp_path: Path) -> None:
    data = damaged(populated, tmp_path, lambda db: db.unlink())
    assert_refused(data, "orders.db is missing", "shard.json", "HCM")
    assert not (data / "orders.db").exists()


def test_a_database_truncated_to_zero_bytes_is_refused(populated: Path, tmp_path: Path) -> None:
    data = damaged(populated, tmp_path, lambda db: os.truncate(db, 0))
    assert_refused(data, "empty (0 bytes)")
    assert (data / "orders.db").stat().st_size == 0  # left as found, for whoever investigates


def test_a_database_whose_last_page_lost_1000_bytes_is_refused(
    populated: Path, tmp_path: Path
) -> None:
    data = damaged(populated, tmp_path, lambda db: os.truncate(db, db.stat().st_size - 1000))
    assert_refused(data, "cut short", "pages")


def test_a_scribbled_index_page_fails_quick_check(populated: Path, tmp_path: Path) -> None:
    def scribble(db: Path) -> None:
        page, page_size = page_of(db, "orders_home_region")
        with db.open("r+b") as f:
            f.seek((page - 1) * page_size)
            f.write(b"\xa5" * page_size)

    data = damaged(populated, tmp_path, scribble)
    assert_refused(data, "quick_check")


def test_another_regions_database_is_refused(populated: Path, tmp_path: Path) -> None:
    data = damaged(populated, tmp_path, lambda db: (db.parent / "shard.json").unlink())
    assert_refused(data, "region HCM", "not HN", region="HN")


def test_a_database_moved_to_another_regions_directory_is_refused(
    populated: Path, tmp_path: Path
) -> None:
    """The file alone says whose it is: copied into a fresh HN data directory, still HCM's."""
    data = tmp_path / "hn"
    data.mkdir()
    shutil.copy(populated / "orders.db", data / "orders.db")
    assert_refused(data, "HCM's orders", region="HN")


def test_a_good_database_starts_and_a_missing_one_is_a_new_shard(
    populated: Path, tmp_path: Path, node_factory: NodeFactory
) -> None:
    data = damaged(populated, tmp_path, lambda db: None)
    node = node_factory("HCM", data_dir=data)
    with node.client() as http:
        assert http.get("/health").json()["orders"] == ORDERS
    fresh = node_factory("HCM")
    with fresh.client() as http:
        assert http.get("/health").json()["orders"] == 0
    assert (fresh.data_dir / "shard.json").exists()


def test_restore_hook_sets_the_damaged_file_aside_and_checks_the_copy(
    populated: Path, tmp_path: Path
) -> None:
    """The hook the replication side calls: damaged file renamed (never deleted), copy checked."""
    data = damaged(populated, tmp_path, lambda db: os.truncate(db, 0))
    calls: list[str] = []

    def restore(path: Path, reason: str) -> None:
        calls.append(reason)
        shutil.copy(populated / "orders.db", path)

    verdict = verify_at_start(data / "orders.db", "HCM", restore=restore)
    assert verdict.outcome == "restored" and "empty" in (verdict.reason or "")
    assert calls and verdict.set_aside is not None and verdict.set_aside.stat().st_size == 0

    def bad_restore(path: Path, reason: str) -> None:
        path.write_bytes(b"")

    os.truncate(data / "orders.db", 0)
    with pytest.raises(DatabaseRefused, match="empty"):
        verify_at_start(data / "orders.db", "HCM", restore=bad_restore)


def test_restore_hook_is_asked_about_a_missing_database_too(
    populated: Path, tmp_path: Path
) -> None:
    """Replication on: a missing file comes back from the replica; an empty replica → new."""

    def restore(path: Path, reason: str) -> None:
        assert "missing" in reason
        shutil.copy(populated / "orders.db", path)

    def nothing(path: Path, reason: str) -> None:
        raise NothingToRestore

    assert verify_at_start(tmp_path / "a" / "orders.db", "HCM", restore=nothing).outcome == "new"
    (tmp_path / "b").mkdir()
    verdict = verify_at_start(tmp_path / "b" / "orders.db", "HCM", restore=restore)
    assert verdict.outcome == "restored" and verdict.set_aside is None
