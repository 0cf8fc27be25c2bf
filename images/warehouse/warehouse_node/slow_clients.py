"""Slow clients cannot hold a node's connections (issue 16, part 5).

uvicorn bounds only the idle time *between* requests (``timeout_keep_alive``); a client that
sends its headers or its body a byte per second, or connects and sends nothing, is held for as
long as it likes, and enough of them exhaust the node's file descriptors. This protocol
(uvicorn's httptools one, subclassed) adds:

- a **read deadline**: from a connection's opening, or from the first byte of a request, the
  whole request (headers and body) must arrive within ``NODE_REQUEST_READ_TIMEOUT_SECONDS``;
  otherwise the connection is closed, with a 408 when no request had started being answered;
- a **connection cap**: beyond ``NODE_MAX_CONNECTIONS`` open connections a new one is answered
  503 + ``Retry-After`` and closed at once.

Cost per request: one clock read and two attribute stores. The deadline is enforced by one
sweep a second over the open connections, not a timer per request.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .errors import error_json

log = logging.getLogger("warehouse_node.server")
SWEEP_SECONDS = 1.0


def _raw_error(status: int, reason: str, message: str, retry: bool = False) -> bytes:
    body = error_json(status, message)
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n"
        + ("retry-after: 1\r\n" if retry else "")
        + "\r\n"
    )
    return head.encode() + body


def guarded_protocol(read_timeout: float, max_connections: int) -> type[HttpToolsProtocol]:
    """The httptools protocol class with this read deadline and connection cap."""
    too_slow = _raw_error(408, "Request Timeout", f"request not received within {read_timeout:g} s")
    too_many = _raw_error(
        503, "Service Unavailable", f"more than {max_connections} open connections", retry=True
    )

    class GuardedProtocol(HttpToolsProtocol):
        _read_since: float | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            state: Any = self.server_state
            if len(self.connections) > max_connections:
                state.node_refused = getattr(state, "node_refused", 0) + 1
                transport.write(too_many)
                transport.close()
                return
            self._read_since = self.loop.time()
            if getattr(state, "node_sweep", None) is None:
                state.node_sweep = self.loop.call_later(SWEEP_SECONDS, _sweep, self.loop, state)

        def data_received(self, data: bytes) -> None:
            cycle = self.cycle
            if self._read_since is None and (cycle is None or cycle.response_complete):
                self._read_since = self.loop.time()  # the first byte of a new request
            super().data_received(data)
            cycle = self.cycle
            if cycle is not None and not cycle.response_complete and not cycle.more_body:
                self._read_since = None  # the request is all here: the app has it

        def read_timed_out(self, now: float) -> bool:
            since = self._read_since
            if since is None or now - since <= read_timeout or self.transport.is_closing():
                return False
            cycle = self.cycle
            if cycle is None or cycle.response_complete:  # headers not complete: nobody answers
                self.transport.write(too_slow)
            self.transport.close()  # a handler reading the body sees the client gone
            self._read_since = None
            return True

    def _sweep(loop: asyncio.AbstractEventLoop, state: Any) -> None:
        now = loop.time()
        closed = sum(
            1
            for conn in list(state.connections)
            if isinstance(conn, GuardedProtocol) and conn.read_timed_out(now)
        )
        refused = getattr(state, "node_refused", 0)
        state.node_refused = 0
        if closed or refused:
            log.warning(
                "slow or surplus connections closed",
                extra={
                    "slow_closed": closed,
                    "refused_over_cap": refused,
                    "open": len(state.connections),
                    "read_timeout_seconds": read_timeout,
                    "max_connections": max_connections,
                },
            )
        state.node_sweep = loop.call_later(SWEEP_SECONDS, _sweep, loop, state)

    return GuardedProtocol
