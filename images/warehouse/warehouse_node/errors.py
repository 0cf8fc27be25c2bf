"""Error responses: one body shape for every refusal, and nothing leaks a stack trace.

Every 4xx and 5xx the node sends is ``{"detail": [{"field": ..., "message": ...}]}`` (a 409 adds
``stored``): clients parse one shape, and the OpenAPI description (``openapi.py``) declares
exactly that. ``field`` is the dotted path of what was wrong in the request (``customer_name``,
``items.0.sku``, ``limit``), ``body`` for the body as a whole, a header name
(``authorization``, ``content-type``), ``path``/``method`` for a request the API has no route
for, and ``node`` when the fault is the node's own (503, 500), not the request's.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match

from order_contracts.orders import FieldError, StoredOrder

log = logging.getLogger("warehouse_node.errors")

# The ``field`` of an error raised as a plain HTTPException (auth, routing, body size...).
_FIELD_BY_STATUS = {
    401: "authorization",
    404: "path",
    405: "method",
    413: "body",
    408: "body",
    415: "content-type",
    500: "node",
    503: "node",
}


class ErrorBody(BaseModel):
    """What every error response carries: each reason the request was refused."""

    detail: list[FieldError] = Field(min_length=1)


class ConflictBody(ErrorBody):
    """A 409: the order id is taken by a different payload, which is returned as stored."""

    stored: StoredOrder


class ReadOnlyBody(ErrorBody):
    """A 421 from a follower: writes go to the region's primary, named when it is known."""

    primary: str | None = Field(description="the primary's URL (NODE_PRIMARY_URL), if set")
    region: str


def field_error_response(
    errors: list[FieldError], status_code: int = 422, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """``{"detail": [{"field": ..., "message": ...}]}``: the one shape of every error."""
    return JSONResponse(
        {"detail": [e.model_dump() for e in errors]}, status_code=status_code, headers=headers
    )


def error_response(
    status_code: int, field: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """One reason, in the shape of every error."""
    return field_error_response([FieldError(field=field, message=message)], status_code, headers)


def shown(text: str, limit: int = 128) -> str:
    """A client's string quoted for an error message, cut to ``limit`` characters: a response
    never echoes an unbounded input back (a 100 kB path id gets its first 128 characters)."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


def error_json(status_code: int, message: str) -> bytes:
    """The body of an error sent by ASGI middleware, outside FastAPI's handlers."""
    field = _FIELD_BY_STATUS.get(status_code, "request")
    return ErrorBody(detail=[FieldError(field=field, message=message)]).model_dump_json().encode()


async def _request_validation(request: Request, exc: Exception) -> JSONResponse:
    """Query/path parameter errors in the same shape as order errors (``limit``, ``since``...)."""
    assert isinstance(exc, RequestValidationError)
    errors = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        # FastAPI prefixes where the value came from ("query", "path"); the client knows it.
        if loc and loc[0] in ("query", "path", "header", "body"):
            loc = loc[1:]
        message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        errors.append(FieldError(field=".".join(loc) or "body", message=message))
    return field_error_response(errors)


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    """Auth, unknown routes, wrong methods, oversized bodies: a string detail gets its field."""
    assert isinstance(exc, HTTPException)
    field = _FIELD_BY_STATUS.get(exc.status_code, "request")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return error_response(exc.status_code, field, str(exc.detail), headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method any route of this path takes. Starlette's own 405 names only the first
    route's: ``/orders`` is GET (list) in one router and POST (bulk) in another."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    """A bug, not bad input: log it whole, answer without internals."""
    log.error(
        "unhandled error",
        exc_info=exc,
        extra={"path": request.url.path, "method": request.method},
    )
    return error_response(500, "node", "internal error; see the node's log")


async def _client_gone(request: Request, exc: Exception) -> JSONResponse:
    """The client went away mid-body, or the read deadline closed it (slow_clients.py): not a
    bug to log as one. The answer goes nowhere; the metrics record a 408."""
    return error_response(408, "body", "the request body did not arrive")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ClientDisconnect, _client_gone)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, _unexpected)
