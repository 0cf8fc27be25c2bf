"""Settle in-doubt orders from the home region's followers before a try sends anything.

An order whose request may have reached its home node is never re-routed (see
:mod:`.progress`). While that node is down, its followers (the routing document's ``readUrls``)
can say whether the node had committed it: the rule is :func:`order_contracts.in_doubt.
resolve_in_doubt`; this module only does the HTTP and records the verdict in the ledger.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import httpx

from order_contracts.in_doubt import Lookup, lookup_from_status, resolve_in_doubt
from order_contracts.routing import RoutingDocument

from . import http
from .assignment import MemoProbe
from .delivery import PLACED_AT_HOME, Attempt
from .progress import OrderProgress, may_have_reached, record

log = logging.getLogger(__name__)


def in_doubt_at_home(progress: OrderProgress, probe: MemoProbe) -> bool:
    """Pending on its (down) home node after a request that may have reached it."""
    node, url = progress["node"], progress["url"]
    return (
        node is not None
        and url is not None
        and node == progress["home_region"]
        and bool(may_have_reached(progress, node))
        and probe.is_down(node, url)
    )


def settle_from_followers(
    pending: list[OrderProgress],
    load_document: Callable[[], RoutingDocument],
    probe: MemoProbe,
    headers: Mapping[str, str],
    try_number: int,
    timeout: float,
) -> int:
    """Record as ``placed_at_home`` every in-doubt order a follower holds; returns how many.

    The others stay pending on their home node (today's rule), and the next try asks again.
    """
    doubtful = [p for p in pending if in_doubt_at_home(p, probe)]
    if not doubtful:
        return 0
    try:
        document = load_document()
    except Exception as exc:  # routing source trouble: the orders simply stay in doubt
        log.warning("cannot read the routing document to ask followers: %s", exc)
        return 0
    reads = {r: route.read_urls for r, route in document.regions.items()}
    every_url = [u for urls in reads.values() for u in urls]
    settled = 0
    with http.client(every_url, timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0))) as c:

        def lookup(url: str, order_id: str) -> Lookup:
            try:
                response = c.get(f"{url.rstrip('/')}/order/{order_id}", headers=headers)
            except httpx.HTTPError:
                return Lookup.UNKNOWN
            return lookup_from_status(response.status_code)

        for progress in doubtful:
            home = progress["home_region"]
            verdict = resolve_in_doubt(progress["order_id"], home, reads.get(home, []), lookup)
            log.info("%s", verdict.reason)
            if verdict.placed_at_home:
                record(
                    progress,
                    Attempt(
                        try_number=try_number,
                        node=home,
                        outcome=PLACED_AT_HOME,
                        http_status=200,
                        detail=verdict.reason,
                        at=datetime.now(UTC).isoformat(timespec="milliseconds"),
                    ),
                )
                settled += 1
    return settled
