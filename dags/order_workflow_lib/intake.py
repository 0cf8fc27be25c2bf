"""The ingest step: a run's conf → valid orders and per-order rejections.

Validation is ``order_contracts.orders.parse_order`` — the very schema the node applies — so an
order that passes here is an order the node accepts. A one-order run (``{"order": {...}}``)
with an invalid order is refused as a whole (:class:`InvalidRun`: the DAG fails fast, no
retry). A batch (``{"orders": [...]}``) reports its invalid orders one by one and carries on
with the valid ones; only a batch with no valid order at all is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypedDict

from order_contracts.orders import FieldError, OrderRejected, parse_order

Mode = Literal["single", "batch"]


class Rejection(TypedDict):
    index: int
    order_id: str | None
    errors: list[dict[str, str]]


class Intake(TypedDict):
    """The ingest task's XCom: orders as the node will receive them, and what was refused."""

    mode: Mode
    orders: list[dict[str, Any]]
    rejected: list[Rejection]


class InvalidRun(ValueError):
    """The run's conf cannot be processed at all; the message says what to send instead."""


USAGE = 'the run conf must be {"order": {...}} (one order) or {"orders": [{...}, ...]} (a batch)'


def _claimed_id(payload: Any) -> str | None:
    if isinstance(payload, Mapping) and isinstance(payload.get("order_id"), str):
        return str(payload["order_id"])
    return None


def _rejection(index: int, payload: Any, errors: list[FieldError]) -> Rejection:
    return Rejection(
        index=index,
        order_id=_claimed_id(payload),
        errors=[{"field": e.field, "message": e.message} for e in errors],
    )


def describe(rejection: Rejection) -> str:
    who = rejection["order_id"] or f"item {rejection['index']}"
    why = "; ".join(f"{e['field']}: {e['message']}" for e in rejection["errors"])
    return f"{who}: {why}"


def read_conf(conf: Mapping[str, Any] | None, max_batch: int) -> Intake:
    """Validate the run's conf; :class:`InvalidRun` when nothing in it can be processed."""
    if not isinstance(conf, Mapping):
        raise InvalidRun(f"no conf given: {USAGE}")
    # null is "not this one": the UI's trigger form sends every param, the unused one as null
    has_one, has_many = conf.get("order") is not None, conf.get("orders") is not None
    if has_one == has_many:
        found = ", ".join(sorted(str(k) for k, v in conf.items() if v is not None)) or "nothing"
        raise InvalidRun(f"{USAGE}; got keys: {found}")

    if has_one:
        try:
            order = parse_order(conf["order"])
        except OrderRejected as exc:
            who = _claimed_id(conf["order"]) or "the order"
            raise InvalidRun(f"order rejected, not retried: {who}: {exc}") from exc
        return Intake(
            mode="single", orders=[order.model_dump(mode="json", exclude_none=True)], rejected=[]
        )

    items = conf["orders"]
    if not isinstance(items, list) or not items:
        raise InvalidRun(f'"orders" must be a non-empty list: {USAGE}')
    if len(items) > max_batch:
        raise InvalidRun(
            f"a batch holds at most {max_batch} orders (ORDER_MAX_BATCH); got {len(items)}: "
            "split it into several runs"
        )
    orders: list[dict[str, Any]] = []
    rejected: list[Rejection] = []
    first_index: dict[str, int] = {}
    for index, payload in enumerate(items):
        try:
            order = parse_order(payload)
        except OrderRejected as exc:
            rejected.append(_rejection(index, payload, exc.errors))
            continue
        if order.order_id in first_index:
            # The id is the idempotency key: two items with one id would be one order at best.
            message = f"repeats the order_id of item {first_index[order.order_id]} of this batch"
            rejected.append(
                _rejection(index, payload, [FieldError(field="order_id", message=message)])
            )
            continue
        first_index[order.order_id] = index
        orders.append(order.model_dump(mode="json", exclude_none=True))
    if not orders:
        details = "; ".join(describe(r) for r in rejected[:5])
        raise InvalidRun(f"none of the {len(items)} orders is valid: {details}")
    return Intake(mode="batch", orders=orders, rejected=rejected)
