"""One try of the process task: resume the ledger, deliver every pending order, report.

A try sends each pending order once; whatever is still pending afterwards is left to the next
Airflow retry (``ORDER_PROCESS_RETRIES`` times ``ORDER_RETRY_DELAY_SECONDS``), which resumes from
the ledger: committed orders are not sent again. On the last try an order whose node is still
down moves to the next fallback when :func:`~order_workflow_lib.progress.reroute_allowed` says
that cannot create a duplicate (:mod:`~order_workflow_lib.rerouting`). Sending is
:mod:`~order_workflow_lib.sending`; the report is :mod:`~order_workflow_lib.outcome`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol, cast

from order_contracts.routing import RoutingDocument
from order_contracts.tracing import (
    RUN_ID_HEADER,
    TRACEPARENT_HEADER,
    node_request_headers,
    trace_id_for,
)

from .assignment import Decision, MemoProbe
from .followers import settle_from_followers
from .intake import Intake
from .outcome import DONE_OK, TryOutcome, invalid_results, problem
from .progress import (
    AMBIGUOUS,
    FAILED,
    PENDING,
    REFUSED,
    UNROUTABLE,
    Ledger,
    OrderProgress,
    mark_unrecorded_tries,
    may_have_reached,
    new_progress,
    result,
)
from .rerouting import route_pending
from .sending import deliver
from .settings import WorkflowSettings

log = logging.getLogger(__name__)

LEDGER_KEY = "order_ledger"
#: final statuses that a re-run of the task (cleared by an operator) tries again; a conflict or
#: a rejection is not one of them: sending the same order again cannot change the answer
RETRY_ON_RERUN = frozenset({FAILED, AMBIGUOUS, UNROUTABLE})


class StateStore(Protocol):
    """What the ledger needs of Airflow's ``task_state_store`` (a dict-backed one in tests)."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...


def new_ledger(intake: Intake, decisions: dict[str, Decision]) -> Ledger:
    orders: dict[str, OrderProgress] = {}
    for order in intake["orders"]:
        home = order["region"]
        orders[order["order_id"]] = new_progress(order["order_id"], home, dict(decisions[home]))
    return Ledger(recorded_try=0, orders=orders)


def revive(ledger: Ledger) -> int:
    """A cleared, re-run task gets its undelivered orders back; their history stays, so the
    re-routing rule still knows which node may hold them."""
    count = 0
    for progress in ledger["orders"].values():
        if progress["status"] in RETRY_ON_RERUN:
            progress["status"] = PENDING
            count += 1
    return count


def _settle(progress: OrderProgress) -> None:
    """Retries are exhausted: give a pending order its final status."""
    node = progress["node"]
    if node is None:
        progress["status"] = UNROUTABLE
    elif may_have_reached(progress, node):
        progress["status"] = AMBIGUOUS
    else:
        progress["status"] = FAILED


def run_try(
    ledger: Ledger,
    orders: dict[str, dict[str, Any]],
    *,
    try_number: int,
    last_try: bool,
    settings: WorkflowSettings,
    headers: Mapping[str, str],
    load_document: Callable[[], RoutingDocument],
    save: Callable[[Ledger], None],
) -> list[OrderProgress]:
    """Deliver the ledger's pending orders once; returns the orders still pending after it."""
    pending = [p for p in ledger["orders"].values() if p["status"] == PENDING]
    with MemoProbe(settings.health_timeout) as probe:
        needs_routing = last_try or any(p["node"] is None for p in pending)
        if needs_routing and route_pending(pending, last_try, load_document, probe):
            save(ledger)  # the move is on record before any request goes to the new node
        timeout = settings.health_timeout
        settle_from_followers(pending, load_document, probe, headers, try_number, timeout)
    pending = [p for p in pending if p["status"] == PENDING]
    deliver(pending, orders, settings, headers, try_number)
    ledger["recorded_try"] = try_number
    still = [p for p in pending if p["status"] == PENDING]
    if last_try:
        for progress in still:
            _settle(progress)
    return still


def process(
    intake: Intake,
    decisions: dict[str, Decision],
    store: StateStore,
    *,
    try_number: int,
    max_tries: int,
    settings: WorkflowSettings,
    token: str | None,
    load_document: Callable[[], RoutingDocument],
    run_id: str | None = None,
) -> TryOutcome:
    """The process task's body (without Airflow): resume the ledger, run one try, report.

    ``run_id`` (the DAG run's) goes to the nodes with a ``traceparent`` on every request, and
    the nodes log both (``order_contracts.tracing``)."""
    # The first try has nothing to resume (a cleared task comes back with a higher try number):
    # skipping the read saves a round trip to the api-server on every per-order run.
    stored = store.get(LEDGER_KEY) if try_number > 1 else None
    if isinstance(stored, dict):
        ledger = cast(Ledger, stored)
        revived = revive(ledger)
        if revived:
            log.info("re-run: %d undelivered order(s) are pending again", revived)
    else:
        ledger = new_ledger(intake, decisions)
    unrecorded = mark_unrecorded_tries(ledger, try_number)
    if unrecorded:
        log.warning("%d earlier tries left no record; assuming the worst", unrecorded)
    last_try = try_number >= max_tries
    orders = {o["order_id"]: o for o in intake["orders"]}

    def save(value: Ledger) -> None:
        store.set(LEDGER_KEY, value)

    headers = node_request_headers(token, run_id, span=f"process-try-{try_number}")
    if run_id:
        log.info(
            "node requests carry %s: %s and %s: %s (grep the nodes' logs for the trace id)",
            RUN_ID_HEADER,
            run_id,
            TRACEPARENT_HEADER,
            headers[TRACEPARENT_HEADER],
            extra={"run_id": run_id, "trace_id": trace_id_for(run_id)},
        )
    still = run_try(
        ledger,
        orders,
        try_number=try_number,
        last_try=last_try,
        settings=settings,
        headers=headers,
        load_document=load_document,
        save=save,
    )
    progresses = list(ledger["orders"].values())
    outcome = TryOutcome(results=invalid_results(intake) + [result(p) for p in progresses])
    outcome.pending = [p["order_id"] for p in still] if not last_try else []
    outcome.rejected = [problem(p) for p in progresses if p["status"] in REFUSED]
    outcome.undelivered = [
        problem(p) for p in progresses if p["status"] not in DONE_OK | REFUSED | {PENDING}
    ]
    if outcome.pending or outcome.rejected or outcome.undelivered:
        save(ledger)  # a retry follows, or someone may clear and re-run the task
    return outcome
