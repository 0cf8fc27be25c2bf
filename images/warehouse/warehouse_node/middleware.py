"""Pure ASGI middleware (no BaseHTTPMiddleware: it costs a task per request on the hot path)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from order_contracts.tracing import MAX_RUN_ID, RUN_ID_HEADER, log_context, parse_traceparent

from .errors import error_json
from .load import LoadTracker
from .metrics import NodeMetrics

RUN_ID_BYTES = RUN_ID_HEADER.encode()

# Probes must not count as load: a node would otherwise look busier the more it is watched.
UNTRACKED_PATHS = frozenset({"/health", "/metrics"})


class BodyLimit:
    """413 for bodies over ``max_bytes``: by Content-Length up front, or while streaming."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        routes: Mapping[tuple[str, str], int] | None = None,
    ):
        """``routes`` gives some ``(method, path)`` a limit of their own (``POST /orders``)."""
        self.app = app
        self.max_bytes = max_bytes
        self.routes = dict(routes or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.routes.get((scope["method"], scope["path"]), self.max_bytes)
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > limit:
                    await _too_large(send, limit)
                    return
                break
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Raised inside the endpoint's body read; FastAPI turns it into the 413.
                    raise HTTPException(413, f"request body larger than {limit} bytes")
            return message

        await self.app(scope, limited_receive, send)


async def _too_large(send: Send, limit: int) -> None:
    body = error_json(413, f"request body larger than {limit} bytes")
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Instrumentation:
    """Counts in-flight requests and the recent rate, and records status and latency per route."""

    def __init__(self, app: ASGIApp, load: LoadTracker, metrics: NodeMetrics):
        self.app = app
        self.load = load
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        tracked = scope["path"] not in UNTRACKED_PATHS

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        if tracked:
            self.load.enter()
            self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_status)
        finally:
            if tracked:
                self.load.exit()
                self.metrics.in_flight.dec()
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe_request(
                scope["method"], template, status, time.perf_counter() - started
            )


class TraceContext:
    """Puts the sender's run id and trace id on every log line of its request.

    The DAG sends ``x-order-run-id`` and a W3C ``traceparent`` with every request
    (``order_contracts.tracing``); this reads them into ``log_context``, which the JSON log
    formatter adds to each line, so one order can be followed by grepping one id. A malformed
    ``traceparent`` is ignored, as the spec says; a run id is cut to ``MAX_RUN_ID`` printable
    characters. Requests without either header cost one scan of the header list.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        fields: dict[str, str] = {}
        for name, value in scope["headers"]:
            if name == b"traceparent":
                parsed = parse_traceparent(value.decode("latin-1"))
                if parsed is not None:
                    fields["trace_id"], fields["parent_span_id"] = parsed
            elif name == RUN_ID_BYTES:
                run_id = value.decode("latin-1")[:MAX_RUN_ID]
                if run_id.isprintable():
                    fields["run_id"] = run_id
        if not fields:
            await self.app(scope, receive, send)
            return
        token = log_context.set(fields)
        try:
            await self.app(scope, receive, send)
        finally:
            log_context.reset(token)
