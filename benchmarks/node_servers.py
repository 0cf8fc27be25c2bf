"""The node's server stack with its store swapped out: the benchmark's ceiling and baseline.

``python -m benchmarks.node_servers --variant echo|raw|naive --port P --data-dir D``

- ``echo``: the real app (same routes, validation, logging, metrics, uvicorn settings) whose store
  keeps nothing: POST /order validates the payload and echoes it back as a stored order. What
  the server stack can do without a database: the ceiling.
- ``raw``: the same app and server with one more route, ``POST /echo``, that returns the request
  body as it came (no parsing, no validation): what the HTTP stack alone costs. Informational.
- ``naive``: the real app on the obvious storage: per request a new SQLite connection in a
  thread (what a sync FastAPI endpoint does), the default rollback journal, one commit per order.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
from pathlib import Path

from fastapi import Request, Response

from order_contracts.orders import Order
from warehouse_node.app import create_app
from warehouse_node.cli import serve
from warehouse_node.logs import configure_logging
from warehouse_node.migrations import migrate
from warehouse_node.settings import NodeSettings
from warehouse_node.store import (
    CreateResult,
    OrderRecord,
    OrderStore,
    canonical_payload,
    utc_timestamp,
)


class EchoStore(OrderStore):
    """Stores nothing; answers every create as new, built exactly like a stored record."""

    def open(self) -> EchoStore:
        self._open = True
        return self

    def close(self) -> None:
        self._open = False

    @property
    def is_open(self) -> bool:
        return self._open

    async def create(self, order: Order, fulfilled_by: str) -> CreateResult:
        record = OrderRecord(
            0,
            order.order_id,
            order.fingerprint(),
            order.region,
            fulfilled_by,
            "accepted",
            utc_timestamp(),
            canonical_payload(order),
        )
        return CreateResult("created", record)


class NaiveStore(OrderStore):
    """One connection and one commit per order, default (rollback) journal."""

    def open(self) -> NaiveStore:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path)
        migrate(conn)
        conn.close()
        self._open = True
        return self

    def close(self) -> None:
        self._open = False

    @property
    def is_open(self) -> bool:
        return self._open

    async def create(self, order: Order, fulfilled_by: str) -> CreateResult:
        return await asyncio.to_thread(
            self._insert, order, order.fingerprint(), canonical_payload(order), fulfilled_by
        )

    def _insert(
        self, order: Order, fingerprint: str, payload: str, fulfilled_by: str
    ) -> CreateResult:
        conn = sqlite3.connect(self.path, timeout=60)
        try:
            now = utc_timestamp()
            cur = conn.execute(
                "INSERT INTO orders (order_id, fingerprint, home_region, fulfilled_by, status,"
                " created_at, payload) VALUES (?, ?, ?, ?, 'accepted', ?, ?)",
                (order.order_id, fingerprint, order.region, fulfilled_by, now, payload),
            )
            conn.commit()
            record = OrderRecord(
                int(cur.lastrowid or 0),
                order.order_id,
                fingerprint,
                order.region,
                fulfilled_by,
                "accepted",
                now,
                payload,
            )
            self._count += 1
            return CreateResult("created", record)
        finally:
            conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--variant", choices=["echo", "raw", "naive"], required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--region", default="HCM")
    args = parser.parse_args()
    settings = NodeSettings(
        NODE_REGION=args.region, HOST="127.0.0.1", PORT=args.port, DATA_DIR=args.data_dir
    )
    configure_logging(settings.log_level, settings.region)
    store_type = NaiveStore if args.variant == "naive" else EchoStore
    app = create_app(settings, store=store_type(settings.db_path))
    if args.variant == "raw":

        @app.post("/echo")
        async def echo(request: Request) -> Response:
            return Response(await request.body(), media_type="application/json")

    serve(app, settings)


if __name__ == "__main__":
    main()
