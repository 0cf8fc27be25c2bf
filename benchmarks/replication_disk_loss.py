"""Benchmark: a node loses its process and its disk; every acknowledged order must survive.

``.venv/bin/python -m benchmarks.replication_disk_loss --trials 20``

Each trial: a real ``warehouse-node`` with a ``file://`` Litestream replica (sync mode, the
default) takes POSTs from 32 concurrent clients (each a new order id, one after another);
at a random moment the node is killed with SIGKILL (its whole process group: Litestream too),
its data directory is deleted, and it is started again with the same replica URL, so it
restores before it serves. Then every order that got a 201/200 must be on the node exactly once.
Orders whose answer was lost to the kill are "in doubt": either outcome is allowed.

``--restore-sizes 100000,1000000`` also times a restore (``--restore-only``) of a replica
holding that many orders. Bar (issue 11): 0 lost and 0 duplicated in every trial; exit 1 if not.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from localmode.nodes import node_command, node_process
from localmode.processes import ManagedProcess, wait_until
from localmode.replication import RESTORED_EVENT, json_events
from order_contracts.envvars import LOG_LEVEL, NODE_API_TOKEN, ORDER_REGIONS
from order_contracts.regions import default_regions_text
from stress.shard_orders import read_shard_now

ENV = {NODE_API_TOKEN: "", LOG_LEVEL: "WARNING", ORDER_REGIONS: default_regions_text()}


@dataclass
class Trial:
    """What one kill-and-restore trial saw."""

    acknowledged: set[str] = field(default_factory=set)
    in_doubt: set[str] = field(default_factory=set)
    refused: int = 0
    kill_after_s: float = 0.0
    restart_s: float = 0.0
    restored_orders: int = 0
    #: rows the restored node holds but skips as unreadable: its copy came back damaged
    damaged_rows: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "acknowledged": len(self.acknowledged),
            "in_doubt": len(self.in_doubt),
            "refused": self.refused,
            "kill_after_s": round(self.kill_after_s, 2),
            "restart_s": round(self.restart_s, 2),
            "restored_orders": self.restored_orders,
            "damaged_rows": self.damaged_rows,
            "lost": len(self.lost),
            "duplicated": len(self.duplicated),
        }


async def _client(
    http: aiohttp.ClientSession, url: str, prefix: str, trial: Trial, stop: asyncio.Event
) -> None:
    n = 0
    while not stop.is_set():
        order_id = f"{prefix}-{n}"
        n += 1
        body = {"order_id": order_id, "customer_name": "Nguyen Van A", "region": "HCM"}
        try:
            async with http.post(f"{url}/order", json=body) as response:
                await response.read()
                if response.status in (200, 201):
                    trial.acknowledged.add(order_id)
                else:
                    trial.refused += 1  # 504 = not acknowledged: the order may or may not be there
                    trial.in_doubt.add(order_id)
        except (TimeoutError, aiohttp.ClientError, OSError):
            trial.in_doubt.add(order_id)  # the kill cut it: it may or may not have been stored
            return


async def _load_then_kill(
    node: ManagedProcess, url: str, clients: int, kill_after: float, trial: Trial, tag: str
) -> None:
    stop = asyncio.Event()
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:
        tasks = [
            asyncio.create_task(_client(http, url, f"{tag}-c{c}", trial, stop))
            for c in range(clients)
        ]
        await asyncio.sleep(kill_after)
        await asyncio.to_thread(node.kill)  # SIGKILL to the process group: node and Litestream
        stop.set()
        await asyncio.gather(*tasks)


def run_trial(work: Path, index: int, clients: int, rng: random.Random) -> Trial:
    """One trial in ``work/trial-N``: load, SIGKILL at a random moment, delete, restore, check."""
    base = work / f"trial-{index}"
    data, replica = base / "data", base / "replica"
    env = {**ENV, "NODE_REPLICA_URL": f"file://{replica}"}
    node, url = node_process("HCM", data, base / "logs", env=env)
    trial = Trial(kill_after_s=rng.uniform(0.5, 3.0))
    node.start(ready_timeout=120)
    try:
        asyncio.run(_load_then_kill(node, url, clients, trial.kill_after_s, trial, f"t{index}"))
        shutil.rmtree(data)  # the disk is gone
        started = time.perf_counter()
        node.start(ready_timeout=300)  # same replica URL: restores before it serves
        trial.restart_s = time.perf_counter() - started
        shard = read_shard_now(url)
    finally:
        node.stop(grace=30)
    counts = Counter(shard.ids())
    trial.restored_orders = len(shard.orders)
    trial.damaged_rows = shard.damaged
    trial.lost = sorted(trial.acknowledged - set(counts))
    trial.duplicated = sorted(i for i, c in counts.items() if c > 1)
    unexpected = set(counts) - trial.acknowledged - trial.in_doubt
    assert not unexpected, f"orders nobody sent: {sorted(unexpected)[:5]}"
    return trial


def _prefill(db: Path, count: int) -> None:
    from benchmarks.node_throughput import prefill

    prefill(db.parent, count)


def time_restore(work: Path, count: int) -> dict[str, Any]:
    """Seconds ``warehouse-node --restore-only`` takes for a replica of ``count`` orders."""
    base = work / f"restore-{count}"
    data, replica = base / "data", base / "replica"
    _prefill(data / "orders.db", count)
    env = {**ENV, "NODE_REPLICA_URL": f"file://{replica}"}
    node, url = node_process("HCM", data, base / "logs", env=env)
    node.start(ready_timeout=600)
    try:
        import httpx

        def replicated() -> bool:
            report = httpx.get(f"{url}/health", timeout=10).json()["replication"]
            return bool(report["state"] == "ok" and report["replicated_txid"] > 0)

        wait_until(replicated, 600, interval=0.5, what="the initial snapshot on the replica")
    finally:
        node.stop(grace=60)
    size = sum(f.stat().st_size for f in replica.rglob("*") if f.is_file())
    shutil.rmtree(data)
    argv = [*node_command(), "--region", "HCM", "--data-dir", str(data)]
    argv += ["--replica-url", f"file://{replica}", "--restore-only"]
    started = time.perf_counter()
    done = subprocess.run(
        argv,
        # INFO: the restore's own timing is an info event (ENV's WARNING would hide it)
        env={**os.environ, **ENV, LOG_LEVEL: "INFO"},
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    (restored_event,) = json_events(done.stdout.splitlines(), RESTORED_EVENT)
    with sqlite3.connect(data / "orders.db") as conn:
        restored = conn.execute("SELECT count(*) FROM orders").fetchone()[0]
    shutil.rmtree(base, ignore_errors=True)
    return {
        "orders": count,
        "restored": restored,
        "replica_mb": round(size / 1e6, 1),
        # the restore itself (litestream restore + checks + rename), and the whole command
        # including the Python start-up, which on a busy machine is a large part of it
        "restore_s": restored_event["seconds"],
        "command_s": round(seconds, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seed", type=int, default=None, help="random seed (kill moments)")
    parser.add_argument(
        "--restore-sizes",
        default="",
        help="comma-separated order counts whose restore time to measure, e.g. 100000,1000000",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix="disk-loss-"))
    print(f"disk-loss benchmark: {args.trials} trials x {args.clients} clients, seed {seed}")
    trials: list[dict[str, Any]] = []
    restores: list[dict[str, Any]] = []
    try:
        for i in range(args.trials):
            trial = run_trial(work, i, args.clients, rng)
            trials.append(trial.summary())
            print(f"  trial {i + 1:>2}: {json.dumps(trial.summary())}", flush=True)
            if trial.lost or trial.duplicated:
                print(f"    lost {trial.lost[:10]} duplicated {trial.duplicated[:10]}")
            shutil.rmtree(work / f"trial-{i}", ignore_errors=True)
        for size in (int(s) for s in args.restore_sizes.split(",") if s.strip()):
            restores.append(time_restore(work, size))
            print(f"  restore: {json.dumps(restores[-1])}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lost = sum(t["lost"] for t in trials)
    duplicated = sum(t["duplicated"] for t in trials)
    acknowledged = sum(t["acknowledged"] for t in trials)
    ok = lost == 0 and duplicated == 0
    print(
        f"\n{'PASS' if ok else 'FAIL'}  {len(trials)} trials: {acknowledged} acknowledged orders,"
        f" {lost} lost, {duplicated} duplicated;"
        f" restart with restore {min(t['restart_s'] for t in trials):.1f}-"
        f"{max(t['restart_s'] for t in trials):.1f} s"
        if trials
        else "no trials"
    )
    if args.json:
        args.json.write_text(json.dumps({"seed": seed, "trials": trials, "restores": restores}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
