"""Batch delivery: one ``POST /orders`` per assigned node per try (a few past the node's limit).

A run of a thousand orders spent most of its process task on a thousand HTTP round trips; the
node's bulk endpoint takes them in one request and one or a few group commits, and answers per
order with the statuses of ``POST /order``. Each per-order status is classified exactly as the
single-order answer would be (:func:`order_contracts.outcomes.classify`), so the ledger, the
re-routing rule and the in-doubt rule see the same attempts whichever way an order travelled. A
per-order 503 has no headers of its own; the node's bulk contract is that it means "its group was
rolled back, nothing stored", which is what a single order's 503 with ``Retry-After`` says.

A request that fails as a whole gives every order in it the same attempt: a transport error or
a status is classified as for ``POST /order`` (a connect failure proves nothing arrived; a read
timeout or a reset may have stored any of them). A node that refuses the request as a whole
without writing anything — no such route yet (404/405), or an envelope over its own
``NODE_MAX_BULK`` / body limit (422/413) — gets the same orders one by one instead.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx

from order_contracts.outcomes import STORED, Delivery, classify

from .delivery import Attempt, classify_error, reasons
from .progress import OrderProgress, record
from .stall import StallGuard

log = logging.getLogger(__name__)

#: whole-request answers that mean "not taken as a bulk, nothing written": send one by one
SEND_SINGLY = frozenset({404, 405, 413, 422})


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _attempt(
    node: str, try_number: int, outcome: Delivery, status: int | None, detail: str
) -> Attempt:
    return Attempt(
        try_number=try_number,
        node=node,
        outcome=outcome.value,
        http_status=status,
        detail=detail[:300],
        at=_now(),
    )


def classify_result(entry: Any) -> tuple[Delivery, int | None, str]:
    """One element of ``results``: the outcome its status proves, the status, a detail line.
    The one place where a per-order bulk status becomes an outcome."""
    status = entry.get("status") if isinstance(entry, dict) else None
    if not isinstance(status, int):
        return Delivery.MAY_HAVE_REACHED, None, f"malformed bulk result: {str(entry)[:200]}"
    outcome = classify(status, retry_after=status == 503)  # see the module's docstring
    detail = "" if outcome in STORED else reasons(entry.get("detail", ""))[:300]
    return outcome, status, detail


def chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def post_orders(
    client: httpx.Client,
    node: str,
    url: str,
    orders: Sequence[dict[str, Any]],
    headers: Mapping[str, str],
    try_number: int,
) -> list[Attempt] | None:
    """Send ``orders`` in one ``POST /orders``; one attempt per order, in order. ``None`` when
    the node refused the request as a whole without writing (send them one by one)."""
    try:
        response = client.post(
            f"{url.rstrip('/')}/orders", json={"orders": list(orders)}, headers=headers
        )
    except httpx.HTTPError as exc:
        outcome = classify_error(exc)
        detail = f"bulk request of {len(orders)}: {type(exc).__name__}: {exc}".rstrip(": ")
        log.warning("%s: %s", node, detail)
        return [_attempt(node, try_number, outcome, None, detail) for _ in orders]
    if response.status_code in SEND_SINGLY:
        log.warning(
            "%s refused a bulk request of %d as a whole (HTTP %d: %s); sending one by one",
            node,
            len(orders),
            response.status_code,
            response.text[:200],
        )
        return None
    results = _results(response, len(orders))
    if results is None:
        outcome = classify(response.status_code, retry_after="retry-after" in response.headers)
        if response.status_code == 200:
            outcome = Delivery.MAY_HAVE_REACHED  # 200 but unreadable: it may have stored them
        detail = f"bulk request of {len(orders)}: HTTP {response.status_code}"
        log.warning("%s: %s %s", node, detail, response.text[:200])
        return [_attempt(node, try_number, outcome, response.status_code, detail) for _ in orders]
    attempts = []
    for entry in results:
        outcome, status, detail = classify_result(entry)
        attempts.append(_attempt(node, try_number, outcome, status, detail))
    return attempts


def _results(response: httpx.Response, expected: int) -> list[Any] | None:
    """The per-order results of a 200, or None when the answer is not one (or not whole)."""
    if response.status_code != 200:
        return None
    try:
        results = response.json().get("results")
    except (ValueError, AttributeError):
        return None
    if not isinstance(results, list) or len(results) != expected:
        return None
    return results


def deliver_in_bulk(
    client: httpx.Client,
    groups: dict[tuple[str, str], list[OrderProgress]],
    orders: dict[str, dict[str, Any]],
    *,
    bulk_size: int,
    width: int,
    headers: Mapping[str, str],
    try_number: int,
    guard: StallGuard,
) -> dict[tuple[str, str], list[OrderProgress]]:
    """Send each node's orders as bulk requests of at most ``bulk_size`` (up to ``width`` at once
    per node, nodes in parallel) and record every order's attempt. Returns, per node, the orders
    the node would not take in bulk (to be sent one by one). A node that left a request
    unanswered gets no more in this try (``guard``: see :mod:`.stall`)."""
    jobs = [
        (node, url, chunk)
        for (node, url), group in groups.items()
        for chunk in chunks(group, bulk_size)
    ]
    singly: dict[tuple[str, str], list[OrderProgress]] = {}

    def send(node: str, url: str, chunk: Sequence[OrderProgress]) -> None:
        if guard.hold_back(node, len(chunk)):
            return
        started = time.perf_counter()
        payloads = [orders[p["order_id"]] for p in chunk]
        attempts = post_orders(client, node, url, payloads, headers, try_number)
        if attempts is None:
            singly.setdefault((node, url), []).extend(chunk)
            return
        if attempts:  # a request that failed as a whole has the same attempt for all
            guard.note(attempts[0], time.perf_counter() - started)
        for progress, attempt in zip(chunk, attempts, strict=True):
            record(progress, attempt)
        counts = Counter(a["outcome"] for a in attempts)
        log.info(
            "POST /orders to %s: %d order(s) in %.0f ms: %s",
            node,
            len(chunk),
            (time.perf_counter() - started) * 1000,
            json.dumps(dict(counts), sort_keys=True),
        )

    if len(jobs) == 1:
        send(*jobs[0])
        return singly
    # One pool per node: ``width`` is a per-node limit (one shared pool let a node take the
    # workers of another, two requests in flight to a frozen node instead of one).
    pools = {
        node: ThreadPoolExecutor(max_workers=width, thread_name_prefix=f"{node}-bulk")
        for node, _ in groups
    }
    try:
        for future in [pools[job[0]].submit(send, *job) for job in jobs]:
            future.result()
    finally:
        for pool in pools.values():
            pool.shutdown(wait=True)
    return singly
