"""Look inside a Litestream replica the way an operator would: restore it and read the copy.

Tests must not trust the node's word that an order is replicated; they restore the replica with
the real ``litestream`` binary into a scratch file and count what is there.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

LITESTREAM = str(Path(sys.executable).parent / "litestream")


def replica_order_ids(replica_url: str, scratch: Path) -> list[str]:
    """Every order id in the replica (with repeats, if there were any), via a real restore."""
    out = scratch / "restored.db"
    for suffix in ("", "-wal", "-shm", "-txid"):
        Path(f"{out}{suffix}").unlink(missing_ok=True)
    scratch.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [LITESTREAM, "restore", "-o", str(out), replica_url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    with sqlite3.connect(out) as conn:
        return [row[0] for row in conn.execute("SELECT order_id FROM orders ORDER BY seq")]


def litestream_pid(node_log: Path) -> int:
    """The pid of the newest Litestream child a node started (from its JSON log)."""
    pids = [
        event["pid"]
        for event in (json.loads(line) for line in node_log.read_text().splitlines() if line)
        if event.get("event") == "litestream started"
    ]
    assert pids, f"no litestream child in {node_log}"
    return int(pids[-1])
