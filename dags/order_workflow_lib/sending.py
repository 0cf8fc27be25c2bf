"""Sending a try's pending orders to their nodes: one client, per-node concurrency, bulk first.

Orders are grouped by their assigned node and each node gets at most ``node_concurrency``
requests at once (nodes are served in parallel); a node that takes ``POST /orders`` gets bulk
requests (:mod:`~order_workflow_lib.bulk`). Kept apart from the try's bookkeeping
(:mod:`~order_workflow_lib.processing`) because this is the only part that holds connections
and threads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from . import http
from .bulk import deliver_in_bulk
from .delivery import post_order
from .progress import OrderProgress, record
from .settings import WorkflowSettings
from .stall import StallGuard


def deliver(
    pending: list[OrderProgress],
    orders: dict[str, dict[str, Any]],
    settings: WorkflowSettings,
    headers: Mapping[str, str],
    try_number: int,
) -> None:
    """Send every assigned pending order once and record each answer on its progress."""
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
