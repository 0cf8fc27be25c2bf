"""Replication to a Litestream replica: real node, real ``litestream`` child, ``file://`` replica.

What can fail here: an order acknowledged that the replica lacks (checked by restoring the
replica, not by asking the node), a broken replica that still gets 201s in sync mode, health
that stays ``ok`` while nothing reaches the replica, a node that cannot tell it recovered.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from localmode.processes import wait_until
from order_contracts.outcomes import Delivery, classify
from tests.conftest import NodeFactory, RunningNode
from tests.node.conftest import seed_order
from tests.support.replica import litestream_pid, replica_order_ids


def replicated_node(
    node_factory: NodeFactory, tmp_path: Path, mode: str = "sync", **env: str
) -> tuple[RunningNode, str, Path]:
    replica_dir = tmp_path / "replica"
    url = f"file://{replica_dir}"
    node = node_factory(
        "HCM",
        env={"NODE_REPLICA_URL": url, "NODE_REPLICATION": mode, **env},
    )
    return node, url, replica_dir


def health(http: httpx.Client) -> dict[str, object]:
    body: dict[str, object] = http.get("/health").json()
    return body


def break_replica(replica_dir: Path) -> Path:
    """Move the replica away and put a plain file in its place: every upload fails (even as
    root, which ignores permissions), and moving it back leaves the replica as it was."""
    hidden = replica_dir.with_name("replica.hidden")
    replica_dir.rename(hidden)
    replica_dir.write_text("not a directory")
    return hidden


def mend_replica(replica_dir: Path, hidden: Path) -> None:
    replica_dir.unlink()
    hidden.rename(replica_dir)


def test_sync_mode_acknowledges_only_orders_the_replica_holds(
    node_factory: NodeFactory, tmp_path: Path
) -> None:
    node, url, _ = replicated_node(node_factory, tmp_path)
    with node.client() as http:
        report = health(http)
        assert report["status"] == "ok" and report["role"] == "primary"
        for i in range(5):
            assert http.post("/order", json=seed_order(f"repl-{i}")).status_code == 201
        # No waiting: a 201 in sync mode means the replica already has the order.
        assert replica_order_ids(url, tmp_path / "check") == [f"repl-{i}" for i in range(5)]
        replication = health(http)["replication"]
        assert isinstance(replication, dict)
        assert replication["mode"] == "sync" and replication["state"] == "ok"
        assert replication["lag_transactions"] == 0
        metrics = http.get("/metrics").text
        assert "warehouse_replication_healthy 1.0" in metrics
        assert "warehouse_replication_lag_seconds 0.0" in metrics


def test_a_burst_shares_sync_waits_instead_of_one_per_order(
    node_factory: NodeFactory, tmp_path: Path
) -> None:
    import asyncio

    node, url, _ = replicated_node(node_factory, tmp_path)

    async def burst() -> list[int]:
        async with httpx.AsyncClient(base_url=node.url, timeout=30) as http:
            answers = await asyncio.gather(
                *(http.post("/order", json=seed_order(f"b-{i}")) for i in range(200))
            )
        return [a.status_code for a in answers]

    assert set(asyncio.run(burst())) == {201}
    metrics = httpx.get(f"{node.url}/metrics").text
    syncs = next(
        float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith('warehouse_replication_sync_duration_seconds_count{confirmed="true"}')
    )
    commits = next(
        float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith("warehouse_db_commits_total")
    )
    assert syncs <= commits + 5  # at most one per group commit (+ the idle monitor's)
    assert sorted(replica_order_ids(url, tmp_path / "check")) == sorted(
        f"b-{i}" for i in range(200)
    )


def local_order_ids(node: RunningNode) -> list[str]:
    """The order ids in the node's own database file (read-only: the node keeps running)."""
    uri = f"file:{node.data_dir / 'orders.db'}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=10)) as conn:
        return [row[0] for row in conn.execute("SELECT order_id FROM orders ORDER BY seq")]


def assert_in_doubt(answer: httpx.Response) -> None:
    """504, which every sender reads as "may have reached": retried here, never elsewhere."""
    assert answer.status_code == 504, answer.text
    assert classify(answer.status_code, retry_after="retry-after" in answer.headers) is (
        Delivery.MAY_HAVE_REACHED
    )
    assert "committed here but not acknowledged" in answer.json()["detail"][0]["message"]


def test_a_broken_replica_gives_504_and_degraded_health_until_it_is_back(
    node_factory: NodeFactory, tmp_path: Path
) -> None:
    node, url, replica_dir = replicated_node(node_factory, tmp_path, NODE_REPLICATION_TIMEOUT="2")
    with node.client(timeout=30) as http:
        assert http.post("/order", json=seed_order("before")).status_code == 201
        hidden = break_replica(replica_dir)
        assert_in_doubt(http.post("/order", json=seed_order("during")))
        assert "during" in local_order_ids(node)
        report = health(http)
        assert report["status"] == "degraded"
        assert report["replication"]["state"] == "failing"  # type: ignore[index]
        assert "warehouse_replication_healthy 0.0" in http.get("/metrics").text

        mend_replica(replica_dir, hidden)
        wait_until(lambda: health(http)["status"] == "ok", 30, what="replication recovered")
        # The in-doubt order was committed locally: its retry is a duplicate, now replicated.
        assert http.post("/order", json=seed_order("during")).status_code == 200
        assert http.post("/order", json=seed_order("after")).status_code == 201
    assert sorted(replica_order_ids(url, tmp_path / "check")) == ["after", "before", "during"]


def test_a_stopped_litestream_gives_504_with_the_order_stored_and_a_later_replay_200(
    node_factory: NodeFactory, tmp_path: Path
) -> None:
    """The sync wait fails for real (Litestream SIGSTOPped: its socket accepts, nothing
    answers): the order is in the node's file, the answer is 504 (in doubt, not the 503 that
    made senders reroute and store it twice), and the replay is a 200 once Litestream runs."""
    node, url, _ = replicated_node(node_factory, tmp_path, NODE_REPLICATION_TIMEOUT="1")
    pid = litestream_pid(node.log_path)
    with node.client(timeout=30) as http:
        os.kill(pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            assert_in_doubt(http.post("/order", json=seed_order("stalled")))
            assert time.monotonic() - started < 10
            assert local_order_ids(node) == ["stalled"]
            assert health(http)["status"] == "degraded"
        finally:
            os.kill(pid, signal.SIGCONT)
        wait_until(lambda: health(http)["status"] == "ok", 30, what="replication recovered")
        replay = http.post("/order", json=seed_order("stalled"))
        assert replay.status_code == 200, replay.text
    assert local_order_ids(node) == ["stalled"]  # stored once, whatever the retries
    assert replica_order_ids(url, tmp_path / "check") == ["stalled"]


def test_a_killed_litestream_is_restarted(node_factory: NodeFactory, tmp_path: Path) -> None:
    node, url, _ = replicated_node(node_factory, tmp_path)
    first = litestream_pid(node.log_path)
    os.kill(first, signal.SIGKILL)
    wait_until(lambda: litestream_pid(node.log_path) != first, 30, what="a new litestream")
    with node.client(timeout=30) as http:
        wait_until(lambda: health(http)["status"] == "ok", 30, what="replication back")
        assert http.post("/order", json=seed_order("after-restart")).status_code == 201
    assert "after-restart" in replica_order_ids(url, tmp_path / "check")
    log = node.log_path.read_text()
    assert '"litestream exited; restarting"' in log


def test_async_mode_acknowledges_at_once_and_reports_lag_while_the_replica_is_broken(
    node_factory: NodeFactory, tmp_path: Path
) -> None:
    node, url, replica_dir = replicated_node(
        node_factory, tmp_path, "async", NODE_REPLICATION_TIMEOUT="1"
    )
    with node.client(timeout=30) as http:
        hidden = break_replica(replica_dir)
        assert http.post("/order", json=seed_order("async-1")).status_code == 201

        def lagging() -> bool:
            report = health(http)
            replication = report["replication"]
            assert isinstance(replication, dict)
            return report["status"] == "degraded" and float(replication["lag_seconds"]) > 0

        wait_until(lagging, 30, what="degraded health with replication lag")
        mend_replica(replica_dir, hidden)
        wait_until(lambda: health(http)["status"] == "ok", 30, what="replication recovered")
    assert replica_order_ids(url, tmp_path / "check") == ["async-1"]


def test_graceful_stop_in_async_mode_sends_the_tail_to_the_replica(
    node_factory: NodeFactory, tmp_path: Path
) -> None:
    node, url, _ = replicated_node(node_factory, tmp_path, "async")
    with node.client() as http:
        for i in range(20):
            assert http.post("/order", json=seed_order(f"tail-{i}")).status_code == 201
    node.process.stop(grace=30)
    assert len(replica_order_ids(url, tmp_path / "check")) == 20


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://somewhere/x", "file:///dir or s3://bucket/path"),
        ("file://relative/dir", "no host"),
        ("s3://", "bucket"),
    ],
)
def test_a_malformed_replica_url_is_a_one_line_error(
    tmp_path: Path, url: str, message: str
) -> None:
    from tests.node.test_lifecycle import run_node

    result = run_node("--region", "HCM", "--data-dir", str(tmp_path), "--replica-url", url)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_print_litestream_config_is_what_a_sidecar_needs_without_secrets(tmp_path: Path) -> None:
    import yaml

    from tests.node.test_lifecycle import run_node

    result = run_node(
        "--region",
        "HN",
        "--data-dir",
        str(tmp_path / "data"),
        "--replica-url",
        "s3://orders-replicas/hn",
        "--print-litestream-config",
        env={
            "NODE_REPLICA_S3_ENDPOINT": "http://minio:9000",
            "NODE_REPLICA_S3_ACCESS_KEY_ID": "AKIDEXAMPLE",
            "NODE_REPLICA_S3_SECRET_ACCESS_KEY": "very-secret",
        },
    )
    assert result.returncode == 0, result.stderr
    assert "very-secret" not in result.stdout and "AKIDEXAMPLE" not in result.stdout
    config = yaml.safe_load(result.stdout)
    assert config["socket"] == {"enabled": True, "path": str(tmp_path / "data/litestream.sock")}
    (db,) = config["dbs"]
    assert db["path"] == str(tmp_path / "data/orders.db")
    assert db["replica"]["url"] == "s3://orders-replicas/hn"
    assert db["replica"]["endpoint"] == "http://minio:9000"
    assert db["replica"]["secret-access-key"] == "${NODE_REPLICA_S3_SECRET_ACCESS_KEY}"
