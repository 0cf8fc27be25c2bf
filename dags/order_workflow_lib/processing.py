"""One try of the process task: deliver every pending order, record what happened.

Orders are grouped by their assigned node and each node gets at most ``node_concurrency``
requests at once (nodes are served in parallel). A try sends each pending order once; whatever
is still pending afterwards is left to the next Airflow retry (``ORDER_PROCESS_RETRIES`` times
``ORDER_RETRY_DELAY_SECONDS``), which resumes from the ledger: committed orders are not sent
again. On the last try an order whose node is still down moves to the next fallback when
:func:`~order_workflow_lib.progress.reroute_allowed` says that cannot create a duplicate.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import httpx

from order_contracts.outcomes import Delivery
from order_contracts.routing import RoutingDocument
from order_contracts.run_summary import summarize
from order_contracts.tracing import (
    RUN_ID_HEADER,
    TRACEPARENT_HEADER,
    node_request_headers,
    trace_id_for,
)

from . import http
from .assignment import Decision, MemoProbe, decide
from .bulk import deliver_in_bulk
from .delivery import COMMITTED, post_order
from .followers import settle_from_followers
from .intake import Intake, describe
from .progress import (
    AMBIGUOUS,
    FAILED,
    INVALID,
    PENDING,
    REFUSED,
    UNROUTABLE,
    Ledger,
    OrderProgress,
    mark_unrecorded_tries,
    may_have_reached,
    new_progress,
    record,
    reroute_allowed,
    result,
)
from .settings import WorkflowSettings
from .stall import StallGuard

log = logging.getLogger(__name__)

LEDGER_KEY = "order_ledger"
#: statuses after which nothing is left to do for the order and nothing went wrong
DONE_OK = COMMITTED
#: final statuses that a re-run of the task (cleared by an operator) tries again; a conflict or
#: a rejection is not one of them: sending the same order again cannot change the answer
RETRY_ON_RERUN = frozenset({FAILED, AMBIGUOUS, UNROUTABLE})


class StateStore(Protocol):
    """What the ledger needs of Airflow's ``task_state_store`` (a dict-backed one in tests)."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...


#: per-order results per task-log line in a batch (:meth:`TryOutcome.log_lines`)
RESULTS_PER_LOG_LINE = 200


@dataclass
class TryOutcome:
    """What one try ended with; the DAG turns it into return value or exception."""

    results: list[dict[str, Any]]
    #: orders a retry will send again (empty on the last try)
    pending: list[str] = field(default_factory=list)
    #: orders the nodes refused (409 conflict, other 4xx): reported, never retried
    rejected: list[str] = field(default_factory=list)
    #: orders that could not be delivered after the last try: the task fails
    undelivered: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(r["status"] for r in self.results))

    def xcom(self, mode: str) -> dict[str, Any]:
        """Counts and the orders that need a word, not every order (see run_summary)."""
        return summarize(mode, self.results, DONE_OK, Delivery.COMMITTED.value)

    def log_lines(self, per_line: int = RESULTS_PER_LOG_LINE) -> list[str]:
        """The per-order results as task-log messages: a JSON array of up to ``per_line``
        results each (one result: the object itself).

        Each log call in an Airflow task goes through the Task SDK's structlog pipeline and the
        supervisor's socket: 2,000 calls took ~2 s of a 2,000-order run on a loaded machine, 10
        calls a few milliseconds. Every order still appears in the log with all its fields, so
        grepping an order id finds its result.
        """
        if len(self.results) == 1:
            return [json.dumps(self.results[0], sort_keys=True)]
        return [
            json.dumps(self.results[i : i + per_line], sort_keys=True)
            for i in range(0, len(self.results), per_line)
        ]


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


def invalid_results(intake: Intake) -> list[dict[str, Any]]:
    """Ingest's rejections, in the same shape as delivered orders' results."""
    return [
        {
            "order_id": r["order_id"],
            "home_region": None,
            "assigned_node": None,
            "node_url": None,
            "fallback_used": False,
            "attempts": 0,
            "status": INVALID,
            "committed_at": None,
            "reason": "refused by ingest",
            "detail": describe(r),
        }
        for r in intake["rejected"]
    ]


def _reassign(
    progress: OrderProgress,
    document: RoutingDocument | None,
    probe: MemoProbe,
    exclude: Iterable[str],
    why: str,
) -> bool:
    if document is None:
        progress["reason"] += "; no routing document to re-assign with"
        return False
    decision = decide(document, progress["home_region"], probe, exclude)
    if decision["region"] is None:
        progress["reason"] += f"; {why}, but {decision['reason']}"
        return False
    progress["node"], progress["url"] = decision["region"], decision["url"]
    progress["fallback_used"] = decision["region"] != progress["home_region"]
    progress["reason"] += f"; {why}: {decision['reason']}"
    return True


def _route_pending(
    pending: list[OrderProgress],
    last_try: bool,
    load_document: Callable[[], RoutingDocument],
    probe: MemoProbe,
) -> bool:
    """Assign unassigned orders; on the last try, move orders off nodes that are still down.

    Returns whether any order changed node (the caller saves the ledger before sending).
    """
    document: RoutingDocument | None = None
    moved = False

    def doc() -> RoutingDocument | None:
        nonlocal document
        if document is None:
            try:
                document = load_document()
            except Exception as exc:  # routing source trouble must not hide delivery results
                log.warning("cannot re-read the routing document: %s", exc)
        return document

    for progress in pending:
        node, url = progress["node"], progress["url"]
        if node is None:
            # Nothing was ever sent for it, so any warehouse is safe.
            moved |= _reassign(progress, doc(), probe, (), "assigned on a retry")
            continue
        if not last_try or url is None or not probe.is_down(node, url):
            continue
        allowed, why = reroute_allowed(progress)
        if allowed:
            moved |= _reassign(
                progress, doc(), probe, {node}, f"last try, {node} still down and {why}"
            )
        else:
            progress["reason"] += f"; last try, {node} still down: {why}"
    return moved


def _deliver(
    pending: list[OrderProgress],
    orders: dict[str, dict[str, Any]],
    settings: WorkflowSettings,
    headers: Mapping[str, str],
    try_number: int,
) -> None:
    groups: dict[tuple[str, str], list[OrderProgress]] = {}
    for progress in pending:
        if progress["node"] is not None and progress["url"] is not None:
            groups.setdefault((progress["node"], progress["url"]), []).append(progress)
    if not groups:
        return
    connections = settings.node_concurrency * len(groups)
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    timeout = httpx.Timeout(settings.node_timeout, connect=min(settings.node_timeout, 5.0))
    guard = StallGuard(settings.node_timeout)
    with http.client([url for _, url in groups], timeout=timeout, limits=limits) as client:

        def send(progress: OrderProgress) -> None:
            node, url = progress["node"], progress["url"]
            assert node is not None and url is not None
            if guard.hold_back(node):
                return
            order = orders[progress["order_id"]]
            started = time.monotonic()
            attempt = post_order(client, node, url, order, headers, try_number)
            guard.note(attempt, time.monotonic() - started)
            record(progress, attempt)

        if len(pending) == 1:
            send(pending[0])  # the per-order mode: no thread pool on the hot path
            return
        try:
            _send_groups(send, groups, orders, settings, guard, client, headers, try_number)
        finally:
            guard.report()


def _send_groups(
    send: Callable[[OrderProgress], None],
    groups: dict[tuple[str, str], list[OrderProgress]],
    orders: dict[str, dict[str, Any]],
    settings: WorkflowSettings,
    guard: StallGuard,
    client: httpx.Client,
    headers: Mapping[str, str],
    try_number: int,
) -> None:
    """Batch mode: bulk requests when the node takes them, else one request per order
    (``node_concurrency`` per node at once, nodes in parallel)."""
    width = settings.node_concurrency
    if settings.bulk_size > 1:
        groups = deliver_in_bulk(
            client,
            groups,
            orders,
            bulk_size=settings.bulk_size,
            width=width,
            headers=headers,
            try_number=try_number,
            guard=guard,
        )
        if not groups:
            return
    pools = [
        ThreadPoolExecutor(max_workers=min(width, len(group)), thread_name_prefix=node)
        for (node, _), group in groups.items()
    ]
    try:
        futures = [
            pool.submit(send, progress)
            for pool, group in zip(pools, groups.values(), strict=True)
            for progress in group
        ]
        for future in futures:
            future.result()
    finally:
        for pool in pools:
            pool.shutdown(wait=True)


def _settle(progress: OrderProgress) -> None:
    """Retries are exhausted: give a pending order its final status."""
    node = progress["node"]
    if node is None:
        progress["status"] = UNROUTABLE
    elif may_have_reached(progress, node):
        progress["status"] = AMBIGUOUS
    else:
        progress["status"] = FAILED


def _problem(progress: OrderProgress) -> str:
    last = progress["attempts"][-1] if progress["attempts"] else None
    where = progress["node"] or "no warehouse"
    what = (last["detail"] or f"HTTP {last['http_status']}") if last else progress["reason"]
    text = f"{progress['order_id']} ({progress['status']} on {where}): {what}"
    if progress["status"] == AMBIGUOUS:
        text += (
            f" — {reroute_allowed(progress)[1]}; clear the process task once {where} is back "
            "(re-sending there cannot duplicate it)"
        )
    return text


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
        if needs_routing and _route_pending(pending, last_try, load_document, probe):
            save(ledger)  # the move is on record before any request goes to the new node
        timeout = settings.health_timeout
        settle_from_followers(pending, load_document, probe, headers, try_number, timeout)
    pending = [p for p in pending if p["status"] == PENDING]
    _deliver(pending, orders, settings, headers, try_number)
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
    outcome.rejected = [_problem(p) for p in progresses if p["status"] in REFUSED]
    outcome.undelivered = [
        _problem(p) for p in progresses if p["status"] not in DONE_OK | REFUSED | {PENDING}
    ]
    if outcome.pending or outcome.rejected or outcome.undelivered:
        save(ledger)  # a retry follows, or someone may clear and re-run the task
    return outcome
