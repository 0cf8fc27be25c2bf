"""``POST /order`` straight to its handler, in front of FastAPI's routing and dependency solving.

Why: profiling the single-order path (docs/benchmarks.md, node ingest) showed FastAPI's layers
for one request (route matching over every route, ``solve_dependencies``, the exception and
exit-stack middleware, the request/response wrappers) costing more CPU than validating and
storing the order. This ASGI layer answers exactly ``POST /order`` by calling the very same
functions the FastAPI route calls (``authorized_node``, then ``create_order``), so validation,
idempotency, metrics, log lines and error shapes stay one implementation; every other request,
``/order/`` and ``HEAD /order`` included, goes on to FastAPI unchanged. The route stays
registered in FastAPI too: it is what the OpenAPI document describes, and what serves the order
when this layer is left out (``create_app(..., fast_path=False)``, the benchmark's baseline).

It sits inside the body-limit and instrumentation middleware (413s and request metrics as
before) and inside Starlette's server-error middleware (a bug is still logged and a 500 in the
one error shape); it sets ``scope["route"]`` to the FastAPI route so request metrics keep the
route label ``/order``.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from .deps import authorized_node
from .errors import http_error
from .routers.orders import create_order

PATH, METHOD = "/order", "POST"


def order_route(app: FastAPI) -> APIRoute:
    """The FastAPI route this layer stands in front of (for its metrics label)."""
    for route in app.router.routes:
        if isinstance(route, APIRoute) and route.path == PATH and METHOD in route.methods:
            return route
    raise LookupError(f"no {METHOD} {PATH} route")  # a programming error, caught by any test


class OrderFastPath:
    """Serves ``POST /order`` with ``create_order``; passes everything else to ``app``."""

    def __init__(self, app: ASGIApp, route: APIRoute):
        self.app = app
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != METHOD:
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route
        request = Request(scope, receive)
        try:
            node = await authorized_node(request)
            response = await create_order(request, node)
        except HTTPException as exc:  # 401 from auth, 413 from the body limit while streaming
            response = await http_error(request, exc)
        await response(scope, receive, send)
