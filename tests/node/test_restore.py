"""Restore from the replica on an empty data directory; never over an existing database.

Real nodes, real Litestream, ``file://`` replicas. What can fail: a node that starts empty
after its disk was lost, a restore that overwrites a database, a replica of another region
restored silently, a corrupted or unreadable replica that ends in a traceback or an empty start.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

from tests.conftest import NodeFactory, RunningNode
from tests.node.conftest import seed_order
from tests.node.test_lifecycle import run_node


def _crashed_replicated_node(
    node_factory: NodeFactory, tmp_path: Path, region: str, n: int
) -> tuple[RunningNode, str]:
    """A node that took ``n`` orders (ids ``<region>-<i>``) with a ``file://`` replica, then
    was killed: the node (to start again) and its replica URL."""
    url = f"file://{tmp_path / f'replica-{region.lower()}'}"
    node = node_factory(region, env={"NODE_REPLICA_URL": url})
    with node.client() as http:
        for i in range(n):
            order = seed_order(f"{region.lower()}-{i}", region)
            assert http.post("/order", json=order).status_code == 201
    node.process.kill()  # a crash: the replica is all that is left
    return node, url


def _filled_replica(node_factory: NodeFactory, tmp_path: Path, region: str, n: int) -> str:
    return _crashed_replicated_node(node_factory, tmp_path, region, n)[1]


def test_a_node_with_a_lost_disk_comes_back_with_every_order(
    node_factory: NodeFactory, tmp_path: Path
) -> None:
    node, _ = _crashed_replicated_node(node_factory, tmp_path, "HCM", 30)
    shutil.rmtree(node.data_dir)  # the volume is gone
    node.process.start()
    with node.client() as http:
        assert http.get("/health").json()["orders"] == 30
        assert http.get("/order/hcm-29").status_code == 200
        # and it goes on replicating from where the replica was
        assert http.post("/order", json=seed_order("after")).status_code == 201
    events = [json.loads(line) for line in node.log_path.read_text().splitlines() if line]
    (restored,) = [e for e in events if e["event"] == "database restored from the replica"]
    assert restored["orders"] == 30 and restored["seconds"] > 0


def test_restore_only_restores_a_missing_database_and_exits(
    node_factory: NodeFactory, tmp_path: Path
) -> None:
    url = _filled_replica(node_factory, tmp_path, "HN", 5)
    data = tmp_path / "fresh"
    result = run_node(
        "--region", "HN", "--data-dir", str(data), "--replica-url", url, "--restore-only"
    )
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(data / "orders.db") as conn:
        assert conn.execute("SELECT count(*) FROM orders").fetchone()[0] == 5


def test_restore_only_never_overwrites_an_existing_database(
    node_factory: NodeFactory, tmp_path: Path
) -> None:
    url = _filled_replica(node_factory, tmp_path, "HN", 5)
    data = tmp_path / "existing"
    data.mkdir()
    (data / "orders.db").write_bytes(b"")  # whatever is there is not ours to replace
    before = (data / "orders.db").stat()
    result = run_node(
        "--region", "HN", "--data-dir", str(data), "--replica-url", url, "--restore-only"
    )
    assert result.returncode == 0, result.stderr
    after = (data / "orders.db").stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def test_an_empty_replica_is_a_new_region_not_an_error(tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = run_node(
        "--region",
        "DN",
        "--data-dir",
        str(data),
        "--replica-url",
        f"file://{tmp_path / 'nothing-yet'}",
        "--restore-only",
    )
    assert result.returncode == 0, result.stderr
    assert not (data / "orders.db").exists()


def test_a_replica_of_another_region_is_refused_in_one_line(
    node_factory: NodeFactory, tmp_path: Path
) -> None:
    url = _filled_replica(node_factory, tmp_path, "HN", 3)
    data = tmp_path / "hcm"
    result = run_node("--region", "HCM", "--data-dir", str(data), "--replica-url", url)
    assert result.returncode == 2
    assert "taken by region HN, not HCM" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (data / "orders.db").exists()  # set aside, not started with
    assert list(data.glob("orders.db.restoring.rejected-*"))


def test_a_corrupted_replica_is_refused_in_one_line(
    node_factory: NodeFactory, tmp_path: Path
) -> None:
    url = _filled_replica(node_factory, tmp_path, "HN", 3)
    replica = Path(url.removeprefix("file://"))
    for ltx in replica.rglob("*.ltx"):
        ltx.write_bytes(b"\0" * ltx.stat().st_size)
    data = tmp_path / "hn"
    result = run_node("--region", "HN", "--data-dir", str(data), "--replica-url", url)
    assert result.returncode == 2
    assert "cannot restore from" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (data / "orders.db").exists()


def test_a_damaged_database_is_set_aside_and_restored_from_the_replica(
    node_factory: NodeFactory, tmp_path: Path
) -> None:
    node, _ = _crashed_replicated_node(node_factory, tmp_path, "HCM", 10)
    (node.data_dir / "orders.db").write_bytes(b"")  # the file survived, its contents did not
    node.process.start()
    with node.client() as http:
        assert http.get("/health").json()["orders"] == 10
    assert list(node.data_dir.glob("orders.db.damaged-*"))  # kept, never deleted


def test_check_only_restores_a_damaged_database_before_anything_streams_it(
    node_factory: NodeFactory, tmp_path: Path
) -> None:
    # The chart's init container: the verdict runs (and a damaged file is set aside and
    # replaced from the replica) before the Litestream sidecar starts on the volume.
    url = _filled_replica(node_factory, tmp_path, "HN", 4)
    data = tmp_path / "damaged"
    data.mkdir()
    (data / "orders.db").write_bytes(b"not a database")
    args = ("--region", "HN", "--data-dir", str(data), "--replica-url", url, "--check-only")
    result = run_node(*args)
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(data / "orders.db") as conn:
        assert conn.execute("SELECT count(*) FROM orders").fetchone()[0] == 4
    (aside,) = data.glob("orders.db.damaged-*")
    assert aside.read_bytes() == b"not a database"  # kept, never overwritten
    # run again on the good file: opened as it is, nothing set aside twice
    again = run_node(*args)
    assert again.returncode == 0, again.stderr
    assert len(list(data.glob("orders.db.damaged-*"))) == 1


def test_check_only_refuses_another_regions_replica_in_one_line(
    node_factory: NodeFactory, tmp_path: Path
) -> None:
    url = _filled_replica(node_factory, tmp_path, "HN", 2)
    data = tmp_path / "hcm"
    result = run_node(
        "--region", "HCM", "--data-dir", str(data), "--replica-url", url, "--check-only"
    )
    assert result.returncode == 2
    assert "taken by region HN, not HCM" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
