"""``POST /orders``: many orders in one request, each answered as ``POST /order`` would answer it.

Why: a caller with a thousand orders (the DAG's batch path, an import) pays one HTTP round trip,
one JSON parse and one or a few group commits instead of a thousand of each. Per order the rules
are those of ``POST /order`` (the same validation, idempotency on ``order_id``, 201/200/409/422
with the same bodies); the response is 200 with one result per order, in request order, and it
is sent only after every order answered 201/200 is committed.

What is refused as a whole, with nothing written: a body declared as something else than JSON
in UTF-8 (415, ``content-type``); a body that is not JSON, has a key twice anywhere (the
field named, e.g. ``orders.3.region``), is not an object with
an ``orders`` list (and nothing else), an empty list or one longer than ``NODE_MAX_BULK`` (422,
the field named); a body over ``NODE_MAX_BULK_BODY_BYTES`` (413, by the body-limit middleware).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from typing import Any

from fastapi import APIRouter, Request, Response

from order_contracts.orders import FieldError, Order, OrderRejected, parse_order

from ..body import BodyRefused, check_content_type, parse_json
from ..deps import AuthorizedNodeDep, Node
from ..errors import field_error_response
from ..openapi import BulkResults, bulk_request_body, error_responses
from ..replication import ReplicationFailed
from ..store import CreateResult, StoreError
from .orders import STATUS, conflict_detail, home_region_label, read_only_refusal

log = logging.getLogger("warehouse_node.orders")
router = APIRouter(tags=["orders"])

_BULK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": BulkResults,
        "description": "one result per order, in request order (see docs/bulk-ingest.md)",
    },
    **error_responses(401, 413, 415, 421, 422),
}


def _whole_body_refusal(node: Node, field: str, message: str, status: int = 422) -> Response:
    node.metrics.bulk_requests.labels("refused").inc()
    log.info("bulk refused", extra={"field": field, "errors": message})
    return field_error_response([FieldError(field=field, message=message)], status)


def _read_envelope(body: bytes, node: Node) -> list[Any] | Response:
    """The ``orders`` list of the body, or the 422 that refuses the whole request."""
    try:  # pydantic-core's parser, duplicate keys refused (see body.py)
        payload = parse_json(body)
    except BodyRefused as exc:
        return _whole_body_refusal(node, exc.field, exc.message)
    if not isinstance(payload, dict):
        return _whole_body_refusal(node, "body", 'expected a JSON object {"orders": [...]}')
    extra = sorted(k for k in payload if k != "orders")
    if extra:
        return _whole_body_refusal(node, extra[0], "unknown field; the body has `orders` only")
    orders = payload.get("orders")
    if not isinstance(orders, list):
        return _whole_body_refusal(node, "orders", "a list of orders is required")
    limit = node.settings.max_bulk
    if not 1 <= len(orders) <= limit:
        return _whole_body_refusal(
            node, "orders", f"between 1 and {limit} orders per request (got {len(orders)})"
        )
    return orders


def _order_id_of(payload: Any) -> str | None:
    order_id = payload.get("order_id") if isinstance(payload, dict) else None
    return order_id[:128] if isinstance(order_id, str) else None


@router.post("/orders", responses=_BULK_RESPONSES, openapi_extra=bulk_request_body())
async def create_orders(request: Request, node: AuthorizedNodeDep) -> Response:
    """Create many orders; ``{"results": [{"order_id", "status", "order" | "detail"}]}``."""
    if node.follower is not None:
        return read_only_refusal(node)
    try:
        check_content_type(request.scope["headers"])
    except BodyRefused as exc:
        return _whole_body_refusal(node, exc.field, exc.message, exc.status)
    payloads = _read_envelope(await request.body(), node)
    if isinstance(payloads, Response):
        return payloads
    # The request is one in flight (Instrumentation); its orders add their weight to the rate
    # (load.py says why; routing reads both in /health).
    node.load.count(max(0.0, len(payloads) * node.settings.bulk_order_weight - 1))
    return await _create_all(payloads, node)


async def _create_all(payloads: list[Any], node: Node) -> Response:
    """Validate and store the orders of an accepted envelope; one result each, in order."""
    here, regions = node.settings.region, node.regions
    # Validate each on its own: one bad order is refused, the others still go in.
    valid: list[Order] = []
    slots: list[int | list[FieldError]] = []  # index into valid, or the errors
    for payload in payloads:
        try:
            order = parse_order(payload, regions)
        except OrderRejected as exc:
            slots.append(exc.errors)
            continue
        slots.append(len(valid))
        valid.append(order)
    stored: list[CreateResult | StoreError] = []
    if valid:
        try:
            stored = await node.store.create_many(valid, here)
        except StoreError as exc:  # closed (draining): nothing of this request was queued
            stored = [exc] * len(valid)
    counts: Counter[tuple[str, str]] = Counter()
    logging_info = log.isEnabledFor(logging.INFO)
    parts: list[str] = []
    settled: dict[str, list[str]] = {"created": [], "duplicate": []}
    fallbacks = 0
    for payload, slot in zip(payloads, slots, strict=True):
        order_id = _order_id_of(payload)
        if isinstance(slot, list):
            counts[(home_region_label(payload, regions), "rejected")] += 1
            if logging_info:  # refusals stay one line each, as on POST /order
                log.info(
                    "order rejected",
                    extra={
                        "order_id": order_id,
                        "bulk": True,
                        "errors": "; ".join(f"{e.field}: {e.message}" for e in slot),
                    },
                )
            detail = json.dumps([e.model_dump() for e in slot], separators=(",", ":"))
            parts.append(f'{{"order_id":{json.dumps(order_id)},"status":422,"detail":{detail}}}')
            continue
        assert isinstance(slot, int)
        order, result = valid[slot], stored[slot]
        quoted_id = f'"{order.order_id}"'  # the schema's id pattern has nothing to escape
        if isinstance(result, StoreError):
            counts[(order.region, "error")] += 1
            log.error(
                "order not stored",
                extra={"order_id": order.order_id, "region": order.region, "error": str(result)},
            )
            # 503: its group was rolled back, nothing stored (it may go anywhere). 504: it is
            # committed here but the replica did not confirm it: in doubt, a status every
            # sender reads as "may have reached" (retry on this node only, never elsewhere).
            if isinstance(result, ReplicationFailed):
                code, what = 504, "committed here but not acknowledged by the replica"
            else:
                code, what = 503, "not stored"
            reason = {"field": "node", "message": f"order {what}, retry: {result}"}
            detail = json.dumps([reason], separators=(",", ":"))
            parts.append(f'{{"order_id":{quoted_id},"status":{code},"detail":{detail}}}')
            continue
        record, outcome = result.record, result.outcome
        counts[(order.region, outcome)] += 1
        if outcome == "conflict":
            log.warning(
                "order conflict",
                extra={
                    "order_id": order.order_id,
                    "region": order.region,
                    "fulfilled_by": record.fulfilled_by,
                    "bulk": True,
                },
            )
            parts.append(
                f'{{"order_id":{quoted_id},"status":409,"detail":{conflict_detail(order)},'
                f'"stored":{record.to_json()}}}'
            )
            continue
        settled[outcome].append(order.order_id)
        if order.region != here:
            fallbacks += 1
        parts.append(
            f'{{"order_id":{quoted_id},"status":{STATUS[outcome]},"order":{record.to_json()}}}'
        )
    node.metrics.observe_bulk(len(payloads), counts)
    if logging_info:
        # One line for what was stored, naming every id (grep finds an order either way): a
        # line per order would cost more than storing the order.
        totals: Counter[str] = Counter()
        for (_, kind), n in counts.items():
            totals[kind] += n
        log.info(
            "bulk stored",
            extra={
                "orders": len(payloads),
                "outcomes": dict(totals),
                "fallback": fallbacks,
                "created_ids": settled["created"],
                "duplicate_ids": settled["duplicate"],
            },
        )
    return Response(
        f'{{"results":[{",".join(parts)}]}}', status_code=200, media_type="application/json"
    )
