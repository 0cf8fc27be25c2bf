"""Start-up verdict on the order database: open it, start a new shard, restore it, or refuse.

Why this exists: SQLite opens an empty, truncated or partly overwritten file without complaint,
and an absent file is silently created anew. A node that does that after an accident serves
``ok`` with 0 orders and accepts old order ids again as new: acknowledged orders are lost with
nobody told. So before serving, the node decides, once:

- file missing and nothing says it existed → a **new shard** (the normal first start);
- file missing but the data directory says this shard had one (``shard.json``, a WAL file,
  or a tombstone left by a node that lost its file while running) → **refuse**;
- file present but empty, not a whole number of pages, failing ``PRAGMA quick_check``, or
  recording another region → **refuse**;
- with a ``restore`` hook (replication on), "refuse" becomes: set the file aside (renamed,
  never deleted), let the hook put the replica's copy in place, check that copy the same way.

A refusal is :class:`DatabaseRefused` with one line saying which file and why; the CLI prints
it and exits non-zero. See docs/storage-integrity.md.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from .restore import set_aside
from .settings import QUICK_CHECK_SECONDS

log = logging.getLogger("warehouse_node.integrity")

SHARD_MARKER = "shard.json"
TOMBSTONE_SUFFIX = ".lost"
_PROGRESS_OPCODES = 10_000

Outcome = Literal["opened", "new", "restored"]
Restore = Callable[[Path, str], None]
"""``restore(db_path, reason)``: put a complete copy of this shard's database at ``db_path``
(which does not exist when it is called) or raise; ``reason`` is why a restore is needed."""


class NothingToRestore(RuntimeError):
    """Raised by a restore hook asked about a missing database whose replica holds nothing
    either (a brand-new shard): the node then starts it empty."""


class DatabaseRefused(RuntimeError):
    """The node must not serve this database; the message is one line naming file and cause."""


@dataclass(frozen=True)
class Verdict:
    """What start-up decided: ``opened`` an existing good file, a ``new`` shard, or ``restored``
    from the replica (``set_aside`` is where the damaged file went, if there was one)."""

    outcome: Outcome
    path: Path
    quick_check_seconds: float = 0.0
    quick_check_complete: bool = True
    set_aside: Path | None = None
    reason: str | None = None


def marker_path(db_path: Path) -> Path:
    return db_path.parent / SHARD_MARKER


def tombstone_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + TOMBSTONE_SUFFIX)


def verify_at_start(
    db_path: Path,
    region: str,
    *,
    restore: Restore | None = None,
    quick_check_seconds: float = QUICK_CHECK_SECONDS,
) -> Verdict:
    """Decide whether ``db_path`` may be served as ``region``'s shard (see the module doc).

    Raises :class:`DatabaseRefused`. Never deletes anything: a file that is not trusted is
    renamed aside only when ``restore`` will replace it.
    """
    problem = _why_missing(db_path, region) if not db_path.exists() else None
    checked = (0.0, True)
    if problem is None and db_path.exists():
        try:
            checked = _check_file(db_path, region, quick_check_seconds)
        except DatabaseRefused as exc:
            problem = str(exc)
    if problem is None and db_path.exists():
        return Verdict("opened", db_path, checked[0], checked[1])
    if restore is None:
        if problem is None:
            return Verdict("new", db_path)
        raise DatabaseRefused(problem)
    aside = set_aside(db_path, "damaged") if db_path.exists() else None
    if problem is None:  # missing, nothing local says it existed: ask the replica all the same
        try:
            restore(db_path, f"{db_path} is missing")
        except NothingToRestore:
            return Verdict("new", db_path)
        except Exception as exc:
            raise DatabaseRefused(
                f"{db_path} is missing and restoring it from the replica failed: {exc}"
            ) from exc
        problem = f"{db_path} is missing"
        return _restored(db_path, region, quick_check_seconds, aside, problem)
    log.warning(
        "restoring the order database from the replica",
        extra={"path": str(db_path), "reason": problem, "set_aside": str(aside or "")},
    )
    try:
        restore(db_path, problem)
    except Exception as exc:
        raise DatabaseRefused(f"{problem}; restoring from the replica failed: {exc}") from exc
    return _restored(db_path, region, quick_check_seconds, aside, problem)


def _restored(
    db_path: Path, region: str, quick_check_seconds: float, aside: Path | None, problem: str
) -> Verdict:
    """After the hook ran: the copy must pass the same checks as any file."""
    if not db_path.exists():
        raise DatabaseRefused(f"{problem}; the replica restore left no file at {db_path}")
    seconds, complete = _check_file(db_path, region, quick_check_seconds)
    tombstone_path(db_path).unlink(missing_ok=True)
    log.warning(
        "order database restored from the replica",
        extra={"path": str(db_path), "reason": problem, "set_aside": str(aside or "")},
    )
    return Verdict("restored", db_path, seconds, complete, aside, problem)


def _why_missing(db_path: Path, region: str) -> str | None:
    """Why an absent file is not simply a new shard, or None when it is."""
    tombstone = tombstone_path(db_path)
    if tombstone.exists():
        return _tombstone_line(tombstone)
    marker = read_marker(db_path)
    if marker is not None:
        return (
            f"{db_path} is missing but {marker_path(db_path)} says this data directory held "
            f"region {marker.get('region', '?')}'s shard since {marker.get('created_at', '?')}; "
            f"put the database back (or remove {SHARD_MARKER} to start an empty shard)"
        )
    wal = Path(f"{db_path}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        return f"{db_path} is missing but its write-ahead log {wal} is not: put the database back"
    return None


def _tombstone_line(tombstone: Path) -> str:
    try:
        info = json.loads(tombstone.read_text())
    except (OSError, ValueError):
        info = {}
    rescued = f"; its last contents were saved to {info['rescued']}" if info.get("rescued") else ""
    return (
        f"this node lost its order database while running ({info.get('reason', 'see the log')}, "
        f"at {info.get('at', '?')}){rescued}; put the right file in place and remove {tombstone}"
    )


def _check_file(db_path: Path, region: str, quick_check_seconds: float) -> tuple[float, bool]:
    """Refuse an existing file that is empty, cut short, damaged or another region's."""
    tombstone = tombstone_path(db_path)
    if tombstone.exists():
        raise DatabaseRefused(_tombstone_line(tombstone))
    size = db_path.stat().st_size
    if size == 0:
        raise DatabaseRefused(f"{db_path} is empty (0 bytes): refusing to start an empty shard")
    try:
        # mode=rw: never create the file here; a missing file was decided on above.
        conn = sqlite3.connect(f"file:{db_path}?mode=rw", uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        raise DatabaseRefused(f"cannot open the order database {db_path}: {exc}") from exc
    try:
        page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        if size % page_size:
            raise DatabaseRefused(
                f"{db_path} is cut short: {size} bytes is not a whole number of "
                f"{page_size}-byte pages"
            )
        seconds, complete, problems = quick_check(conn, quick_check_seconds)
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise DatabaseRefused(
                f"{db_path} fails SQLite's quick_check: {problems[0]}{more}; "
                "restore it from a replica or backup"
            )
        if not complete:
            log.warning(
                "quick_check did not finish in time; starting without its verdict",
                extra={"path": str(db_path), "seconds": round(seconds, 2)},
            )
        owner = stored_region(conn)
        if owner is not None and owner != region:
            raise DatabaseRefused(
                f"{db_path} holds region {owner}'s orders, not {region}'s: "
                "wrong DATA_DIR or NODE_REGION"
            )
    except sqlite3.DatabaseError as exc:
        raise DatabaseRefused(f"cannot open the order database {db_path}: {exc}") from exc
    finally:
        conn.close()
    marker = read_marker(db_path)
    if marker is not None and marker.get("region") not in (None, region):
        raise DatabaseRefused(
            f"{marker_path(db_path)} says this data directory is region "
            f"{marker.get('region')}'s, not {region}'s: wrong DATA_DIR or NODE_REGION"
        )
    return seconds, complete


def quick_check(conn: sqlite3.Connection, seconds: float) -> tuple[float, bool, list[str]]:
    """``PRAGMA quick_check``, interrupted after ``seconds``: (elapsed, finished, problems).

    Bounded because its cost grows with the file (measured in docs/storage-integrity.md); a
    start-up that takes unbounded time is an outage of its own. ``seconds`` 0 skips it.
    """
    if seconds <= 0:
        return 0.0, False, []
    started = time.monotonic()
    deadline = started + seconds
    interrupted = False

    def over_time() -> int:
        nonlocal interrupted
        interrupted = time.monotonic() > deadline
        return 1 if interrupted else 0

    conn.set_progress_handler(over_time, _PROGRESS_OPCODES)
    try:
        rows = conn.execute("PRAGMA quick_check").fetchall()
    except sqlite3.OperationalError:
        if not interrupted:
            raise
        rows = []
    finally:
        conn.set_progress_handler(None, 0)
    lines = [line for (text,) in rows for line in str(text).splitlines()]
    problems = [line for line in lines if line != "ok" and not line.startswith("*** in database")]
    return time.monotonic() - started, not interrupted, problems


def stored_region(conn: sqlite3.Connection) -> str | None:
    """The region recorded in the database (migration 2's ``shard_meta``), if any."""
    try:
        row = conn.execute("SELECT value FROM shard_meta WHERE key = 'region'").fetchone()
    except sqlite3.OperationalError:  # a database from before migration 2
        return None
    return None if row is None else str(row[0])


def record_shard(db_path: Path, region: str) -> None:
    """After a successful open: the database and its directory say whose shard this is.

    The region goes into the database (so a file copied to another region's node is refused)
    and into ``shard.json`` beside it (so a database deleted while the node is stopped is
    noticed rather than silently re-created empty).
    """
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute(
            "INSERT OR IGNORE INTO shard_meta (key, value) VALUES ('region', ?)", (region,)
        )
    finally:
        conn.close()
    marker = marker_path(db_path)
    if read_marker(db_path) is None:
        body = {"region": region, "created_at": datetime.now(UTC).isoformat(timespec="seconds")}
        write_atomically(marker, json.dumps(body) + "\n")


def read_marker(db_path: Path) -> dict[str, str] | None:
    try:
        data = json.loads(marker_path(db_path).read_text())
    except (FileNotFoundError, NotADirectoryError):  # no marker; a bad DATA_DIR fails later
        return None
    except (OSError, ValueError):
        return {"region": "?", "created_at": "? (unreadable shard.json)"}
    return data if isinstance(data, dict) else {}


def write_atomically(path: Path, text: str) -> None:
    """Write, fsync, rename: a crash leaves the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    tmp.replace(path)
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
