"""The node's server stack with its store swapped out: the benchmark's ceiling and baseline.

``python -m benchmarks.node_servers --variant echo|raw|naive --port P --data-dir D``

- ``echo``: the real app (same routes, validation, logging, metrics, uvicorn settings) whose store
  keeps nothing: POST /order validates the payload and echoes it back as a stored order. What
  the server stack can do without a database: the ceiling.
- ``raw``: the same app and server with one more route, ``POST /echo``, that returns the request
  body as it came (no parsing, no validation): what the HTTP stack alone costs. Informational.
- ``bare``: no FastAPI at all: a plain ASGI callable under the same uvicorn settings (uvloop,
  httptools) that answers every request with its body. The floor of HTTP handling in Python:
  what "a bare uvicorn echo" costs, the single-order bar's yardstick.
- ``routed``: the real durable node (the node CLI's preflight, WAL, ``synchronous=FULL``, group
  commits) with ``POST /order`` left to FastAPI's routing and dependency solving instead of the
  fast path in front of it (``warehouse_node.fastpath``): the "before" of issue 12's item 4.
- ``unchecked``: the real durable node with issue 16's per-request checks taken out (the
  file-identity check after each group commit, the ``Content-Type`` check, the repeated-key
  check of the body): what those checks cost, measured by ``benchmarks.integrity_cost``.
- ``naive``: the real app on the obvious storage: per request a new SQLite connection in a
  thread (what a sync FastAPI endpoint does), the default rollback journal, one commit per order.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import Request, Response

from order_contracts.orders import Order
from warehouse_node.app import create_app
from warehouse_node.cli import SWITCH_INTERVAL_SECONDS, preflight, serve
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


async def bare_echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An ASGI app that answers every request with its own body, and nothing else."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def serve_bare(settings: NodeSettings) -> None:
    """``bare_echo`` with the node's uvicorn settings (see ``warehouse_node.cli.serve``)."""
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    uvicorn.run(
        bare_echo,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=False,
        backlog=2048,
    )


def without_integrity_checks() -> None:
    """Take the per-request checks of issue 16 out of this process's node (never in a node)."""
    from pydantic_core import from_json

    import warehouse_node.routers.orders as orders_router
    from warehouse_node.file_loss import FileWatch

    def unchecked_problem(self: FileWatch) -> str | None:
        return None

    def parse_unchecked(body: bytes) -> Any:
        return from_json(body)

    FileWatch.problem = unchecked_problem  # type: ignore[method-assign]
    orders_router.check_content_type = lambda headers: None
    orders_router.parse_json = parse_unchecked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    variants = ["echo", "raw", "naive", "bare", "routed", "unchecked"]
    parser.add_argument("--variant", choices=variants, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--region", default="HCM")
    args = parser.parse_args()
    settings = NodeSettings(
        NODE_REGION=args.region, HOST="127.0.0.1", PORT=args.port, DATA_DIR=args.data_dir
    )
    configure_logging(settings.log_level, settings.region)
    if args.variant == "bare":
        serve_bare(settings)
        return
    if args.variant == "unchecked":
        without_integrity_checks()
        preflight(settings)
        serve(create_app(settings), settings)
        return
    if args.variant == "routed":
        preflight(settings)
        serve(create_app(settings, fast_path=False), settings)
        return
    store_type = NaiveStore if args.variant == "naive" else EchoStore
    app = create_app(settings, store=store_type(settings.db_path))
    if args.variant == "raw":

        @app.post("/echo")
        async def echo(request: Request) -> Response:
            return Response(await request.body(), media_type="application/json")

    serve(app, settings)


if __name__ == "__main__":
    main()
