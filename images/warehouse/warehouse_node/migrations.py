"""The orders database schema, as numbered migrations tracked in SQLite's ``user_version``.

A migration is appended, never edited: a database at version N gets migrations N+1.. applied in
one transaction at start. A database newer than this code is refused rather than guessed at.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: tuple[str, ...] = (
    # 1: the orders table. ``seq`` is an AUTOINCREMENT rowid alias, so list pages ordered by it
    # stay stable (VACUUM cannot renumber it and ids are never reused). ``order_id`` UNIQUE is the
    # idempotency key; ``fingerprint`` tells a replay (same payload) from a conflict.
    # ``created_at`` is fixed-width ISO-8601 UTC text, so string order is time order.
    """
    CREATE TABLE orders (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        order_id     TEXT NOT NULL UNIQUE,
        fingerprint  TEXT NOT NULL,
        home_region  TEXT NOT NULL,
        fulfilled_by TEXT NOT NULL,
        status       TEXT NOT NULL,
        created_at   TEXT NOT NULL,
        payload      TEXT NOT NULL
    );
    CREATE INDEX orders_home_region ON orders (home_region, seq);
    CREATE INDEX orders_fulfilled_by ON orders (fulfilled_by, seq);
    CREATE INDEX orders_created_at ON orders (created_at);
    """,
    # 2: what the shard is, recorded in the file itself: ``region`` (written at the first start
    # of a node, see integrity.record_shard) lets a node refuse another region's database.
    """
    CREATE TABLE shard_meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNew(RuntimeError):
    """The database was written by a newer node; starting would risk corrupting it."""


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema to :data:`SCHEMA_VERSION`; returns the version found before."""
    found = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if found > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"database schema version {found} is newer than this node understands "
            f"({SCHEMA_VERSION}); run a newer warehouse-node"
        )
    if found == SCHEMA_VERSION:
        return found
    conn.execute("BEGIN IMMEDIATE")
    try:
        for script in MIGRATIONS[found:]:
            for statement in script.split(";"):
                if statement.strip():
                    conn.execute(statement)
        # PRAGMA takes no parameters; SCHEMA_VERSION is our own integer.
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return found
