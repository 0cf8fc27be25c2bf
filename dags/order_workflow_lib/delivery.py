"""One ``POST /order`` to a warehouse, recorded with what its answer proves.

What an answer proves is :func:`order_contracts.outcomes.classify` — the rule the stress tool
applies too: ``committed`` (201), ``duplicate`` (200, a replay), ``conflict`` (409, final),
``rejected`` (other 4xx, final), ``did_not_reach`` (connect refused, 421, 429, 401/403, 503 with
``Retry-After``: safe to send anywhere) and ``may_have_reached`` (anything else: only the same
node again). One more outcome is recorded here without a request to the node:
``placed_at_home`` — the home node was down and its region's follower holds the order (see
:mod:`.followers`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypedDict

import httpx

from order_contracts.outcomes import (
    COMMITTED_STATUSES,
    PLACED_AT_HOME,
    Delivery,
    classify,
)

__all__ = [
    "COMMITTED",
    "PLACED_AT_HOME",
    "Attempt",
    "Delivery",
    "classify_error",
    "post_order",
    "reasons",
]

#: attempt outcomes that settle the order as stored (committed, duplicate, placed_at_home)
COMMITTED = COMMITTED_STATUSES


class Attempt(TypedDict):
    """One request, as the progress ledger and the result XCom record it."""

    try_number: int
    node: str
    outcome: str
    http_status: int | None
    detail: str
    at: str


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict) and "detail" in body:
        return reasons(body["detail"])[:300]
    return str(body)[:300]


def reasons(detail: object) -> str:
    """The node's ``[{"field", "message"}]`` as ``field: message; ...`` (anything else as is)."""
    if isinstance(detail, list) and all(isinstance(e, dict) for e in detail):
        return "; ".join(f"{e.get('field', '?')}: {e.get('message', '')}" for e in detail)
    return str(detail)


def classify_error(exc: httpx.HTTPError) -> Delivery:
    """Transport errors: only a failure to *connect* proves the request never left."""
    unsent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    return classify(None, sent=not unsent)


def post_order(
    client: httpx.Client,
    node: str,
    url: str,
    order: dict[str, Any],
    headers: Mapping[str, str],
    try_number: int,
) -> Attempt:
    """Send one order; never raises for network or HTTP trouble, it is all in the outcome.
    ``headers``: the token and the trace (``order_contracts.tracing.node_request_headers``)."""
    try:
        response = client.post(f"{url.rstrip('/')}/order", json=order, headers=headers)
    except httpx.HTTPError as exc:
        outcome = classify_error(exc)
        status, detail = None, f"{type(exc).__name__}: {exc}".rstrip(": ")
    else:
        status = response.status_code
        outcome = classify(status, retry_after="retry-after" in response.headers)
        detail = "" if outcome in COMMITTED else _detail(response)
    return Attempt(
        try_number=try_number,
        node=node,
        outcome=outcome.value,
        http_status=status,
        detail=detail,
        at=datetime.now(UTC).isoformat(timespec="milliseconds"),
    )
