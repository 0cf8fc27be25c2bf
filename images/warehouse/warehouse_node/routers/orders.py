"""Orders: create (idempotent on ``order_id``), fetch one, list with keyset pagination."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from order_contracts.orders import FieldError, Order, OrderRejected, StoredOrder, parse_order
from order_contracts.regions import normalize_region

from ..body import BodyRefused, check_content_type, parse_json
from ..deps import AuthorizedNodeDep, Node
from ..errors import ReadOnlyBody, error_response, field_error_response, shown
from ..metrics import NodeMetrics
from ..openapi import SECURED, OrderPage, error_responses, order_request_body
from ..replication import ReplicationFailed
from ..store import StoreError, utc_timestamp

log = logging.getLogger("warehouse_node.orders")
# Each route takes ``AuthorizedNodeDep`` (auth + the node's parts in one dependency) rather
# than a router-level auth dependency as well: FastAPI solves every listed dependency on every
# request, cached or not, and that solving is a measurable share of an order's cost.
# tests/node/test_auth.py checks that every route here requires the token.
router = APIRouter(tags=["orders"])

MAX_PAGE = 1000
_RETRY = {"Retry-After": "1"}
STATUS = {"created": 201, "duplicate": 200, "conflict": 409}
_REGION_FILTER = re.compile(r"^[A-Za-z0-9]{1,16}$")
_REGION_PARAM: dict[str, Any] = {"pattern": "^[A-Za-z0-9]{0,16}$"}
# pydantic's datetime also takes Unix seconds; the description says so (Schemathesis checks it).
_SINCE_PARAM: dict[str, Any] = {
    "anyOf": [{"type": "string", "format": "date-time"}, {"type": "number"}]
}
_ORDER_RESPONSES: dict[int | str, dict[str, Any]] = {
    201: {"model": StoredOrder, "description": "stored now"},
    200: {"model": StoredOrder, "description": "already stored with the same payload"},
    **error_responses(401, 409, 413, 415, 421, 422, 503, 504),
}


def read_only_refusal(node: Node) -> Response:
    """421: a follower is a read-only copy; the body names the primary that takes writes."""
    primary = node.settings.primary_url or None
    where = f"send it to the primary {primary}" if primary else "send it to the region's primary"
    message = f"this is a read-only follower of region {node.settings.region}: {where}"
    body = ReadOnlyBody(
        detail=[FieldError(field="node", message=message)],
        primary=primary,
        region=node.settings.region,
    )
    return _json(body.model_dump_json(), 421)


def _json(body: str, status_code: int = 200) -> Response:
    return Response(body, status_code=status_code, media_type="application/json")


def home_region_label(payload: Any, regions: tuple[str, ...]) -> str:
    """A metric label for a refused order: its region when that is a known one (bounded set)."""
    region = payload.get("region") if isinstance(payload, dict) else None
    if isinstance(region, str) and normalize_region(region) in regions:
        return normalize_region(region)
    return "unknown"


def conflict_detail(order: Order) -> str:
    """The ``detail`` JSON of a 409: the same words on ``POST /order`` and ``POST /orders``."""
    message = f"order {order.order_id!r} already exists with a different payload"
    return json.dumps([{"field": "order_id", "message": message}], separators=(",", ":"))


def _refused(
    metrics: NodeMetrics,
    payload: Any,
    regions: tuple[str, ...],
    errors: list[FieldError],
    status_code: int = 422,
) -> Response:
    """422 (415) naming each field at fault; counted and logged with what identifies it."""
    order_id = payload.get("order_id") if isinstance(payload, dict) else None
    region = payload.get("region") if isinstance(payload, dict) else None
    metrics.orders.labels(home_region_label(payload, regions), "rejected").inc()
    log.info(
        "order rejected",
        extra={
            "order_id": str(order_id)[:128] if order_id is not None else None,
            "region": str(region)[:16] if region is not None else None,
            "errors": "; ".join(f"{e.field}: {e.message}" for e in errors),
        },
    )
    return field_error_response(errors, status_code)


async def _read_order(request: Request, node: Node) -> Order | Response:
    """The request's order, or the 422 that says why there is none.

    The body is read and validated here rather than by FastAPI so that malformed JSON, wrong
    types and unknown regions all get the same ``{"detail": [{"field", "message"}]}`` shape.
    """
    try:
        check_content_type(request.scope["headers"])
        payload = parse_json(await request.body())
    except ClientDisconnect:  # gone mid-body, or closed by the read deadline: nobody to tell
        return error_response(408, "body", "the request body did not arrive")
    except BodyRefused as exc:
        errors = [FieldError(field=exc.field, message=exc.message)]
        return _refused(node.metrics, None, node.regions, errors, exc.status)
    try:
        return parse_order(payload, node.regions)
    except OrderRejected as exc:
        return _refused(node.metrics, payload, node.regions, exc.errors)


@router.post(
    "/order", status_code=201, responses=_ORDER_RESPONSES, openapi_extra=order_request_body()
)
async def create_order(request: Request, node: AuthorizedNodeDep) -> Response:
    """Create an order in this shard; the same ``order_id`` again is a replay, not a copy."""
    if node.follower is not None:
        return read_only_refusal(node)
    order = await _read_order(request, node)
    if isinstance(order, Response):
        return order
    metrics, here = node.metrics, node.settings.region
    try:
        result = await node.store.create(order, here)
    except StoreError as exc:
        metrics.orders.labels(order.region, "error").inc()
        log.error(
            "order not stored",
            extra={"order_id": order.order_id, "region": order.region, "error": str(exc)},
        )
        if isinstance(exc, ReplicationFailed):
            # Committed here, unconfirmed by the replica: in doubt. 503 + Retry-After would say
            # "not stored" and let a sender put a second copy on another region; 504 is
            # "may have reached" (order_contracts.outcomes): it retries here, gets 200 later.
            message = f"order committed here but not acknowledged by the replica, retry: {exc}"
            return error_response(504, "node", message, _RETRY)
        return error_response(503, "node", f"order not stored, retry: {exc}", _RETRY)
    record = result.record
    metrics.orders.labels(order.region, result.outcome).inc()
    fields: dict[str, Any] = {
        "order_id": order.order_id,
        "region": order.region,
        "fulfilled_by": record.fulfilled_by,
    }
    if result.outcome == "conflict":
        log.warning("order conflict", extra=fields)
        return _json(f'{{"detail":{conflict_detail(order)},"stored":{record.to_json()}}}', 409)
    log.info(f"order {result.outcome}", extra={**fields, "fallback": order.region != here})
    return _json(record.to_json(), STATUS[result.outcome])


@router.get(
    "/order/{order_id}",
    responses={200: {"model": StoredOrder}, **error_responses(401, 404, 503)},
    openapi_extra=SECURED,
)
async def get_order(order_id: str, node: AuthorizedNodeDep) -> Response:
    """One stored order. A primary-key lookup: cheap enough to run on the event loop."""
    try:
        record = node.store.get(order_id)
    except StoreError as exc:
        return error_response(503, "node", str(exc), _RETRY)
    if record is None:
        message = f"order {shown(order_id)} is not stored on {node.settings.region}"
        return error_response(404, "order_id", message)
    return _json(record.to_json())


def _region_filter(value: str | None, name: str) -> str | None:
    if value is None or value == "":
        return None
    if not _REGION_FILTER.match(value):
        raise OrderRejected([FieldError(field=name, message="a region name (letters/digits)")])
    return normalize_region(value)


@router.get(
    "/orders",
    responses={200: {"model": OrderPage}, **error_responses(401, 422, 503)},
    openapi_extra=SECURED,
)
async def list_orders(
    node: AuthorizedNodeDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="page size")] = 100,
    cursor: Annotated[
        str | None,
        Query(
            description="`next_cursor` of the previous page",
            json_schema_extra={"pattern": r"^[0-9]{0,18}$"},
        ),
    ] = None,
    region: Annotated[
        str | None,
        Query(description="only orders of this home region", json_schema_extra=_REGION_PARAM),
    ] = None,
    fulfilled_by: Annotated[
        str | None, Query(description="only orders this node took", json_schema_extra=_REGION_PARAM)
    ] = None,
    since: Annotated[
        datetime | None,
        Query(
            description="created at or after: ISO-8601, or Unix seconds",
            json_schema_extra=_SINCE_PARAM,
        ),
    ] = None,
) -> Response:
    """``{"orders": [...], "next_cursor": "..." | null}`` in storage order.

    Keyset pagination on the autoincrement ``seq``: a page never repeats or skips an order
    while others are being inserted, and deep pages cost what the first one does.
    """
    try:
        after = 0
        if cursor:
            if not cursor.isdigit() or len(cursor) > 18:
                raise OrderRejected(
                    [FieldError(field="cursor", message="not a cursor returned by this node")]
                )
            after = int(cursor)
        home = _region_filter(region, "region")
        taker = _region_filter(fulfilled_by, "fulfilled_by")
    except OrderRejected as exc:
        return field_error_response(exc.errors)
    since_text = None
    if since is not None:
        try:
            since_text = utc_timestamp(since if since.tzinfo else since.replace(tzinfo=UTC))
        except (OverflowError, ValueError):  # e.g. year 9999 with a negative UTC offset
            return field_error_response([FieldError(field="since", message="out of range")])
    try:
        page = await run_in_threadpool(node.store.list_page, limit, after, home, taker, since_text)
    except StoreError as exc:
        return error_response(503, "node", str(exc), _RETRY)
    orders = ",".join(r.to_json() for r in page.records)
    next_cursor = "null" if page.next_cursor is None else f'"{page.next_cursor}"'
    response = _json(f'{{"orders":[{orders}],"next_cursor":{next_cursor}}}')
    if page.damaged:  # skipped rows are named in the log and counted in the metrics
        response.headers["X-Damaged-Rows"] = str(page.damaged)
    return response
