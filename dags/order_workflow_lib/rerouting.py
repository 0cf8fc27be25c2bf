"""Which node a pending order goes to on this try: first assignments, and last-try moves.

An order normally keeps the node it was assigned to; this module is the one place that changes
``node``/``url`` on a pending order (an order assigned on a retry because no node was up at
ingest, or moved off a node still down on the last try when
:func:`~order_workflow_lib.progress.reroute_allowed` says that cannot create a duplicate).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from order_contracts.routing import RoutingDocument

from .assignment import MemoProbe, decide
from .progress import OrderProgress, reroute_allowed

log = logging.getLogger(__name__)


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


def route_pending(
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
