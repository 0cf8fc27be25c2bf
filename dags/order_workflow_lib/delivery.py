"""One ``POST /order`` to a warehouse, and what its outcome proves.

The order's own ``order_id`` is the node's idempotency key: sending the same order to the same
node again is always safe (the node answers 200 with the stored order). What is *not* safe is
sending it to a different node after a try that may have reached the first one — two shards
would then each hold it. So every outcome is classified by what it proves about delivery:

=================  =====================================================  =================
outcome            when                                                   may have reached
=================  =====================================================  =================
``created``        201: stored now                                        yes (committed)
``replayed``       200: the node already had this exact order             yes (committed)
``rejected``       4xx other than 409/429: the order is wrong for the     yes (final, not
                   node (not retried)                                     retried)
``conflict``       409: the node holds this id with other content         yes (retried)
``not_delivered``  connection refused / connect timeout, 429, 503: the    no
                   node provably did not process the request
``ambiguous``      500/502/504, read timeout, connection reset after the  yes
                   request was sent: it may have been stored
``placed_at_home`` not a request to the node: its home region's follower  yes (committed)
                   has the order (see :mod:`.followers`)
=================  =====================================================  =================
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypedDict

import httpx


class Outcome(StrEnum):
    CREATED = "created"
    REPLAYED = "replayed"
    REJECTED = "rejected"
    CONFLICT = "conflict"
    NOT_DELIVERED = "not_delivered"
    AMBIGUOUS = "ambiguous"
    #: the home node was down, its follower holds the order: committed at home
    PLACED_AT_HOME = "placed_at_home"


COMMITTED = frozenset({Outcome.CREATED, Outcome.REPLAYED, Outcome.PLACED_AT_HOME})
#: outcomes after which another try of the same order makes sense (the issue: 409 and 429 too)
RETRYABLE = frozenset({Outcome.CONFLICT, Outcome.NOT_DELIVERED, Outcome.AMBIGUOUS})


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
        return str(body["detail"])[:300]
    return str(body)[:300]


def classify_status(status: int) -> Outcome:
    if status == 201:
        return Outcome.CREATED
    if 200 <= status < 300:
        return Outcome.REPLAYED
    if status == 409:
        return Outcome.CONFLICT
    if status in (429, 503):
        return Outcome.NOT_DELIVERED
    if 400 <= status < 500:
        return Outcome.REJECTED
    return Outcome.AMBIGUOUS


def classify_error(exc: httpx.HTTPError) -> Outcome:
    """Transport errors: only a failure to *connect* proves the request never arrived."""
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return Outcome.NOT_DELIVERED
    return Outcome.AMBIGUOUS


def post_order(
    client: httpx.Client,
    node: str,
    url: str,
    order: dict[str, Any],
    token: str | None,
    try_number: int,
) -> Attempt:
    """Send one order; never raises for network or HTTP trouble, it is all in the outcome."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = client.post(f"{url.rstrip('/')}/order", json=order, headers=headers)
    except httpx.HTTPError as exc:
        outcome = classify_error(exc)
        status, detail = None, f"{type(exc).__name__}: {exc}".rstrip(": ")
    else:
        outcome = classify_status(response.status_code)
        status = response.status_code
        detail = "" if outcome in COMMITTED else _detail(response)
    return Attempt(
        try_number=try_number,
        node=node,
        outcome=outcome.value,
        http_status=status,
        detail=detail,
        at=datetime.now(UTC).isoformat(timespec="milliseconds"),
    )
