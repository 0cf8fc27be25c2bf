"""Benchmark (issue 11's cost bar): how long one Litestream sync round takes, and why it grows.

``.venv/bin/python -m benchmarks.litestream_rounds`` (about 70 s; ``--seconds``, ``--windows``)

A sync-replicated node answers an order only after a ``POST /sync`` round with ``wait`` that
started after its commit, so the round's duration is the floor of its latency, and at a fixed
number of clients, of its throughput. This measures that round with no node at all: a SQLite
writer commits 10 rows every 3 ms (``synchronous=FULL``, WAL, no checkpoints: what the node
does with replication on) and the node's own control-socket client (``ControlClient``) asks
for one round after another, for ``--windows`` windows of ``--seconds`` each, printing each
window's round p50/p90 and how many LTX files level 0 of the ``file://`` replica holds.

Two Litestream configs, in the same run: Litestream's defaults (what the node uses) and one
that compacts level 0 every second and drops compacted level-0 files after 5 s
(``l0-retention``), to show whether the round's cost follows the number of level-0 files.
Litestream runs on one core, the writer and the client on the other.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml

from warehouse_node.litestream import ControlClient, find_litestream

CONFIGS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "l0-retention 5s": {
        "l0-retention": "5s",
        "l0-retention-check-interval": "1s",
        "levels": [{"interval": i} for i in ("1s", "30s", "5m", "1h")],
    },
}


def writer(db: Path, stop: threading.Event) -> None:
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("PRAGMA synchronous=FULL")
    row = 0
    while not stop.is_set():
        conn.executemany("INSERT INTO t VALUES (?, ?)", [(row, "x" * 300)] * 10)
        conn.commit()
        row += 1
        time.sleep(0.003)
    conn.close()


def run(name: str, extra: dict[str, Any], args: argparse.Namespace, work: Path) -> list[dict]:
    home = work / name.replace(" ", "-")
    home.mkdir()
    db, sock, replica = home / "orders.db", home / "ls.sock", home / "replica"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (x, y)")
    conn.commit()
    conn.close()
    config = {
        "socket": {"enabled": True, "path": str(sock)},
        **extra,
        "dbs": [{"path": str(db), "replica": {"url": f"file://{replica}", "sync-interval": "1s"}}],
    }
    (home / "litestream.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    argv = [find_litestream(), "replicate", "-config", str(home / "litestream.yml")]
    if shutil.which("taskset"):
        argv = ["taskset", "-c", args.litestream_cpu, *argv]
    log = (home / "litestream.log").open("w")
    child = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    stop = threading.Event()
    try:
        deadline = time.monotonic() + 30
        while not sock.exists():
            if time.monotonic() > deadline or child.poll() is not None:
                raise SystemExit(f"litestream did not open {sock}: see {home / 'litestream.log'}")
            time.sleep(0.05)
        thread = threading.Thread(target=writer, args=(db, stop), daemon=True)
        thread.start()
        windows = asyncio.run(measure_rounds(name, ControlClient(sock, db), replica, args))
    finally:
        stop.set()
        child.terminate()
        child.wait(timeout=30)
        log.close()
    return windows


async def measure_rounds(
    name: str, control: ControlClient, replica: Path, args: argparse.Namespace
) -> list[dict[str, Any]]:
    """Rounds back to back through the node's own control-socket client, one window at a time."""
    windows = []
    try:
        for window in range(args.windows):
            rounds: list[float] = []
            until = time.monotonic() + args.seconds
            while time.monotonic() < until:
                started = time.perf_counter()
                await control.sync(wait=True, seconds=10.0)  # LitestreamError if it fails
                rounds.append((time.perf_counter() - started) * 1000)
            level0 = replica / "ltx" / "0"
            files = len(os.listdir(level0)) if level0.exists() else 0
            rounds.sort()
            windows.append(
                {
                    "config": name,
                    "window": window + 1,
                    "rounds": len(rounds),
                    "p50_ms": rounds[len(rounds) // 2],
                    "p90_ms": rounds[int(len(rounds) * 0.9)],
                    "level0_files": files,
                }
            )
            print(
                f"{name:16} {(window + 1) * args.seconds:5.0f} s: {len(rounds):5} rounds, "
                f"p50 {windows[-1]['p50_ms']:5.1f} ms, p90 {windows[-1]['p90_ms']:5.1f} ms, "
                f"{files:5} level-0 files in the replica",
                flush=True,
            )
    finally:
        await control.aclose()
    return windows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of one window")
    parser.add_argument("--windows", type=int, default=6)
    parser.add_argument("--litestream-cpu", default="1")
    parser.add_argument("--client-cpu", default="0")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if shutil.which("taskset"):
        os.sched_setaffinity(0, {int(args.client_cpu)})
    work = Path(tempfile.mkdtemp(prefix="litestream-rounds-"))
    try:
        results = [w for name, extra in CONFIGS.items() for w in run(name, extra, args, work)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    last = {name: [w for w in results if w["config"] == name][-1] for name in CONFIGS}
    first = {name: next(w for w in results if w["config"] == name) for name in CONFIGS}
    for name in CONFIGS:
        print(
            f"{name:16} round p50 first window {first[name]['p50_ms']:.1f} ms, last "
            f"{last[name]['p50_ms']:.1f} ms ({last[name]['p50_ms'] / first[name]['p50_ms']:.2f}x), "
            f"level-0 files {first[name]['level0_files']} -> {last[name]['level0_files']}"
        )
    ratio = last["l0-retention 5s"]["p50_ms"] / last["defaults"]["p50_ms"]
    median = statistics.median(w["p50_ms"] for w in results if w["config"] == "defaults")
    print(
        f"last window, l0-retention 5s / defaults: {ratio:.2f}x round p50 "
        f"(defaults' median over the run {median:.1f} ms)"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
