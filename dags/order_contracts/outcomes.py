"""What one ``POST /order`` answer proves: the delivery rule every sender shares.

The order's ``order_id`` is the node's idempotency key, so sending the same order to the *same*
node again is always safe. Sending it to *another* node is safe only when the first one provably
did not store it; otherwise two shards could each hold it. The DAG
(``order_workflow_lib.delivery``) and the stress tool (``stress.targets.nodes``) both classify
every answer with :func:`classify`, so they cannot disagree on what a status means.

- ``committed`` — 201: stored now. Done.
- ``duplicate`` — 200: the node already held this exact order (a replay). Done.
- ``conflict`` — 409: the node holds this id with other content. Final: retrying cannot change it.
- ``rejected`` — 422 and every other 4xx not listed below: the order is wrong for the node. Final.
- ``may_have_reached`` — no answer after the request was sent (read timeout, connection cut),
  504 with or without ``Retry-After`` (the node committed the order but its replica did not
  confirm it: in doubt), a 5xx other than 503-with-``Retry-After``, or any status this list does
  not name. Retry on the same node only.
- ``did_not_reach`` — nothing was sent (connection refused, connect timeout), or the node said it
  did not process the request: 421 (misdirected: a follower or the wrong node), 429, 503 with
  ``Retry-After`` (refused before writing), 401/403 (refused before the order was read). Retry;
  the only outcome after which the order may go to another region.

401/403 prove nothing was stored (authentication comes first), so they are ``did_not_reach``:
a retry after the token is fixed is safe. A bare 503 (no ``Retry-After``) usually comes from a
proxy or load balancer that may have forwarded the request, so it proves nothing.
"""

from __future__ import annotations

from enum import StrEnum


class Delivery(StrEnum):
    """What an answer to ``POST /order`` proves about the order on that node."""

    COMMITTED = "committed"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"
    REJECTED = "rejected"
    MAY_HAVE_REACHED = "may_have_reached"
    DID_NOT_REACH = "did_not_reach"


#: the order is stored on the node that answered
STORED = frozenset({Delivery.COMMITTED, Delivery.DUPLICATE})
#: retrying cannot change the answer: the order is settled (stored, or refused for good)
FINAL = frozenset({*STORED, Delivery.CONFLICT, Delivery.REJECTED})
#: 4xx answers that say "not processed" rather than "this order is wrong"
NOT_PROCESSED_4XX = frozenset({401, 403, 421, 429})
#: the node committed the order locally but could not confirm it (sync replication): in doubt,
#: whatever headers come with it
COMMITTED_UNCONFIRMED = 504


def classify(status: int | None, *, sent: bool = True, retry_after: bool = False) -> Delivery:
    """The outcome of one request.

    ``status`` is the HTTP status, or None when no answer came. ``sent`` says whether the
    request may have left the client (False only when the connection was never made).
    ``retry_after`` says whether the answer carried a ``Retry-After`` header.
    """
    if status is None:
        return Delivery.MAY_HAVE_REACHED if sent else Delivery.DID_NOT_REACH
    if status == 201:
        return Delivery.COMMITTED
    if status == 200:
        return Delivery.DUPLICATE
    if status == 409:
        return Delivery.CONFLICT
    if status == COMMITTED_UNCONFIRMED:
        return Delivery.MAY_HAVE_REACHED
    if status in NOT_PROCESSED_4XX or (status == 503 and retry_after):
        return Delivery.DID_NOT_REACH
    if 400 <= status < 500:
        return Delivery.REJECTED
    return Delivery.MAY_HAVE_REACHED


def is_final(outcome: Delivery) -> bool:
    """No retry of this order can change the outcome (committed, duplicate, conflict, rejected)."""
    return outcome in FINAL


def may_reroute(outcome: Delivery) -> bool:
    """May the order go to another region after this outcome? Only if it provably did not reach
    the node: anything else could leave a copy there and make a second one elsewhere."""
    return outcome is Delivery.DID_NOT_REACH


def may_retry_same_node(outcome: Delivery) -> bool:
    """Is sending the order to the same node again useful? Safe always (idempotent); useful only
    while the outcome is not final."""
    return outcome not in FINAL


# Per-order final statuses a sender reports (the DAG's process task XCom, read by the stress
# tool's Airflow target): the outcomes above, plus what is not a node's answer.
#: the home region's follower holds the order: stored at home, sent nowhere else
PLACED_AT_HOME = "placed_at_home"
#: refused by the DAG's ingest (the schema), never sent
INVALID = "invalid"
#: statuses of an order that is stored on a warehouse
COMMITTED_STATUSES = frozenset({Delivery.COMMITTED.value, Delivery.DUPLICATE.value, PLACED_AT_HOME})
#: statuses of an order refused for good (by the schema or a node)
REFUSED_STATUSES = frozenset({Delivery.REJECTED.value, Delivery.CONFLICT.value, INVALID})
