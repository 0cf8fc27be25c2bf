"""What happened to each order across the process task's tries, and the re-routing rule.

The ledger lives in Airflow's task state store (Airflow 3.3: ``context["task_state_store"]``,
kept across retries of one task instance), so a retry knows which orders are already committed
(and does not send them again) and what every earlier request proved.

**The re-routing rule.** An order stays on the node it was assigned to. Re-sending it there is
safe whatever happened before, because ``order_id`` is the node's idempotency key. Only on the
*last* try, and only when that node is *still down*, may the order move to the next fallback —
and only if no earlier request to that node may have reached it (every one was
``did_not_reach``: refused at connect, or answered 421/429/503-with-Retry-After; the rule is
:func:`order_contracts.outcomes.may_reroute`). After a read timeout, a connection reset
mid-request or a 5xx, the first node may hold the order; sending it elsewhere could store it
twice, so it is kept on its node and reported as ``ambiguous``, naming the node and the request
in doubt. Re-running the task once that node is back resolves it without a duplicate.

A try that left no record (the worker died before saving the ledger) counts as a request that
may have reached the order's node: the rule then errs towards "no re-routing".
"""

from __future__ import annotations

from typing import Any, TypedDict

from order_contracts import outcomes
from order_contracts.outcomes import Delivery, may_reroute

from .delivery import COMMITTED, Attempt

#: final statuses (``pending`` while tries remain)
PENDING = "pending"
REJECTED = Delivery.REJECTED.value  # the node refused the order (a 4xx); never retried
CONFLICT = Delivery.CONFLICT.value  # the node holds this id with other content; never retried
#: final statuses that are a node's refusal (reported, never retried)
REFUSED = frozenset({REJECTED, CONFLICT})
INVALID = outcomes.INVALID  # refused by ingest; never sent
UNROUTABLE = "unroutable"  # no warehouse could take it on any try
FAILED = "failed"  # retries exhausted; no request may have reached a node
AMBIGUOUS = "ambiguous"  # retries exhausted; a node may hold it (see above)

UNRECORDED = "unrecorded"  # the outcome of a try that left no ledger


class OrderProgress(TypedDict):
    order_id: str
    home_region: str
    node: str | None
    url: str | None
    fallback_used: bool
    reason: str
    attempts: list[Attempt]
    status: str
    committed_at: str | None


class Ledger(TypedDict):
    #: the last try whose outcomes are all recorded here (0: none yet)
    recorded_try: int
    orders: dict[str, OrderProgress]


def new_progress(order_id: str, home: str, decision: dict[str, Any]) -> OrderProgress:
    return OrderProgress(
        order_id=order_id,
        home_region=home,
        node=decision.get("region"),
        url=decision.get("url"),
        fallback_used=bool(decision.get("fallback_used")),
        reason=str(decision.get("reason", "")),
        attempts=[],
        status=PENDING,
        committed_at=None,
    )


def record(progress: OrderProgress, attempt: Attempt) -> None:
    """Add an attempt; a committed outcome, a conflict or a rejection settles the order."""
    progress["attempts"].append(attempt)
    outcome = attempt["outcome"]
    if outcome in COMMITTED:
        progress["status"] = outcome
        progress["committed_at"] = attempt["at"]
    elif outcome in REFUSED:
        progress["status"] = outcome


def mark_unrecorded_tries(ledger: Ledger, try_number: int) -> int:
    """Tries between the ledger's last record and this one left no record: assume the worst.

    Every order still pending gets an ``unrecorded`` attempt on its node, which counts as
    "may have reached it". Returns how many tries were unrecorded.
    """
    missing = max(0, try_number - 1 - ledger["recorded_try"])
    if missing:
        for progress in ledger["orders"].values():
            if progress["status"] == PENDING and progress["node"] is not None:
                progress["attempts"].append(
                    Attempt(
                        try_number=try_number - 1,
                        node=progress["node"],
                        outcome=UNRECORDED,
                        http_status=None,
                        detail=f"{missing} earlier try(s) left no record",
                        at="",
                    )
                )
    return missing


def may_have_reached(progress: OrderProgress, node: str) -> list[Attempt]:
    """The attempts on ``node`` that do not prove the request never arrived.

    An outcome this version does not know (an unrecorded try, a ledger written by an older
    version) counts as "may have reached": the rule errs towards no re-routing.
    """
    return [a for a in progress["attempts"] if a["node"] == node and not _did_not_reach(a)]


def _did_not_reach(attempt: Attempt) -> bool:
    try:
        return may_reroute(Delivery(attempt["outcome"]))
    except ValueError:
        return False


def reroute_allowed(progress: OrderProgress) -> tuple[bool, str]:
    """May this pending order leave its (down) node for a fallback? And why (not)."""
    node = progress["node"]
    if node is None:
        return True, "not assigned to any node yet"
    doubtful = may_have_reached(progress, node)
    if not doubtful:
        return True, f"no request ever reached {node}"
    first = doubtful[0]
    what = first["detail"] or f"HTTP {first['http_status']}"
    return False, (
        f"try {first['try_number']} may have reached {node} ({first['outcome']}: {what}); "
        f"kept on {node} to avoid a duplicate on another warehouse"
    )


def result(progress: OrderProgress) -> dict[str, Any]:
    """The per-order result the process task returns and logs."""
    last = progress["attempts"][-1] if progress["attempts"] else None
    sent = [a for a in progress["attempts"] if a["outcome"] != UNRECORDED]
    return {
        "order_id": progress["order_id"],
        "home_region": progress["home_region"],
        "assigned_node": progress["node"],
        "node_url": progress["url"],
        "fallback_used": progress["fallback_used"],
        "attempts": len(sent),
        "status": progress["status"],
        "committed_at": progress["committed_at"],
        "reason": progress["reason"],
        "detail": "" if last is None else last["detail"],
    }
