"""Error responses: every refusal names the field at fault; nothing leaks a stack trace."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from order_contracts.orders import FieldError

log = logging.getLogger("warehouse_node.errors")


def field_error_response(errors: list[FieldError], status_code: int = 422) -> JSONResponse:
    """``{"detail": [{"field": ..., "message": ...}]}``: the one shape of every 422."""
    return JSONResponse({"detail": [e.model_dump() for e in errors]}, status_code=status_code)


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


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return JSONResponse(
        {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers or None
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    """A bug, not bad input: log it whole, answer without internals."""
    log.error(
        "unhandled error",
        exc_info=exc,
        extra={"path": request.url.path, "method": request.method},
    )
    return JSONResponse({"detail": "internal error; see the node's log"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
