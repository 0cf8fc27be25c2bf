"""While running: noticing that the database file is gone, and leaving the marks that make the
next start refuse instead of serving an empty or foreign file.

The start-up half of the same promise is :mod:`warehouse_node.integrity`; the store calls this
one after each group commit (docs/storage-integrity.md).
"""

from __future__ import annotations

import contextlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from .integrity import _stamp, tombstone_path, write_atomically


class FileWatch:
    """Is the file at ``path`` still the one this process opened? (Runtime identity check.)

    A process writing into SQLite keeps its file descriptors: when the file or its directory is
    removed or replaced, commits still succeed — into an inode nobody will ever open again. So
    after each group commit (and once a second when idle) the store asks :meth:`problem`: a
    ``stat`` of the database and of its WAL compared with the inodes opened, and an ``access``
    check. Three system calls per group commit, none per order. The descriptor held open here
    keeps the inode alive, so its number cannot be reused by a new file at the same path.
    """

    def __init__(self, path: Path):
        self.path = path
        self.wal = Path(f"{path}-wal")
        self._fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        opened = os.fstat(self._fd)
        self._db_id = (opened.st_dev, opened.st_ino)
        self._wal_id: tuple[int, int] | None = None
        with contextlib.suppress(OSError):
            wal = os.stat(self.wal)
            self._wal_id = (wal.st_dev, wal.st_ino)

    def problem(self) -> str | None:
        """None while the files are the ones opened; else a short reason (for logs and health)."""
        try:
            now = os.stat(self.path)
        except FileNotFoundError:
            if not self.path.parent.exists():
                return f"the data directory {self.path.parent} was removed"
            return f"{self.path} was removed"
        except OSError as exc:
            return f"{self.path} cannot be examined: {exc.strerror or exc}"
        if (now.st_dev, now.st_ino) != self._db_id:
            return f"{self.path} was replaced by another file"
        if not os.access(self.path, os.R_OK | os.W_OK):
            return f"{self.path} is no longer readable and writable"
        if self._wal_id is not None:
            try:
                wal = os.stat(self.wal)
            except OSError:
                return f"the write-ahead log {self.wal} was removed"
            if (wal.st_dev, wal.st_ino) != self._wal_id:
                return f"the write-ahead log {self.wal} was replaced by another file"
        return None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)


def write_tombstone(db_path: Path, reason: str, orders: int, rescued: Path | None) -> Path:
    """``orders.db.lost``: what makes the next start refuse instead of serving an empty or
    foreign file. The data directory is re-created if it was removed."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    tombstone = tombstone_path(db_path)
    body = {
        "reason": reason,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "orders": orders,
        "rescued": str(rescued) if rescued else None,
    }
    write_atomically(tombstone, json.dumps(body) + "\n")
    return tombstone


def rescue_path(db_path: Path) -> Path:
    return db_path.with_name(f"{db_path.name}.rescued-{_stamp()}")
