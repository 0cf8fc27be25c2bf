"""``--verify``: read every shard back and check that each acknowledged order is there once.

"Acknowledged" means a node answered 201/200 for it (nodes target) or the DAG's process task
reported it committed (Airflow target). Each node's ``GET /orders`` is paged to the end
(``limit``/``cursor``, answer ``{"orders": [...], "next_cursor": ...}``) and only this run's
orders (ids prefixed with the run id) are counted, so earlier runs on the same nodes do not
disturb the check. A node that cannot be read fails the verification, and the orders
acknowledged by it that no other node holds are *unverified*, not lost: absence of proof is not
proof of absence, either way.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp

from .http import client_session
from .results import OrderResult

PAGE_LIMIT = 1000
#: lists of ids in the report are cut to this many (the counts stay exact)
SAMPLE = 20


class VerifyError(RuntimeError):
    """A node's order list could not be read to the end."""


@dataclass
class Verification:
    stored_per_node: dict[str, int]
    unreadable: dict[str, str]
    acknowledged: int
    found_once: int
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    misplaced: list[str] = field(default_factory=list)
    refused_but_stored: list[str] = field(default_factory=list)
    unacknowledged_stored: list[str] = field(default_factory=list)
    #: acknowledged by a node that could not be read, and found nowhere else
    unverified: list[str] = field(default_factory=list)
    #: per node: acknowledged (by it), stored, lost, unverified, duplicated (copies held there)
    per_node: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.refused_but_stored or self.unreadable)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "acknowledged": self.acknowledged,
            "found_exactly_once": self.found_once,
            "lost": len(self.lost),
            "unverified": len(self.unverified),
            "duplicated": len(self.duplicated),
            "misplaced": len(self.misplaced),
            "refused_but_stored": len(self.refused_but_stored),
            "unacknowledged_but_stored": len(self.unacknowledged_stored),
            "stored_per_node": self.stored_per_node,
            "unreadable_nodes": self.unreadable,
            "per_node": self.per_node,
            "samples": {
                "lost": self.lost[:SAMPLE],
                "unverified": self.unverified[:SAMPLE],
                "duplicated": self.duplicated[:SAMPLE],
                "misplaced": self.misplaced[:SAMPLE],
                "refused_but_stored": self.refused_but_stored[:SAMPLE],
            },
        }


async def list_orders(
    session: aiohttp.ClientSession, url: str, prefix: str, since: datetime | None = None
) -> list[dict[str, Any]]:
    """Every order on one node whose id starts with ``prefix``, following the cursor.

    ``since`` (the node's ``created_at >=`` filter) only skips older orders faster; the id
    prefix is what decides which orders belong to the run.
    """
    orders: list[dict[str, Any]] = []
    cursor: str | None = None
    seen_cursors: set[str] = set()
    while True:
        params: dict[str, str | int] = {"limit": PAGE_LIMIT}
        if since is not None:
            params["since"] = since.astimezone(UTC).isoformat()
        if cursor:
            params["cursor"] = cursor
        async with session.get(f"{url}/orders", params=params) as response:
            if response.status != 200:
                text = (await response.text())[:200]
                raise VerifyError(f"GET {url}/orders answered {response.status}: {text}")
            page = await response.json()
        orders.extend(o for o in page["orders"] if str(o.get("order_id", "")).startswith(prefix))
        cursor = page.get("next_cursor")
        if not cursor:
            return orders
        if cursor in seen_cursors:
            raise VerifyError(f"GET {url}/orders returned the cursor {cursor!r} twice")
        seen_cursors.add(cursor)


def check(
    results: Sequence[OrderResult],
    stored: Mapping[str, Sequence[Mapping[str, Any]]],
    unreadable: Mapping[str, str],
) -> Verification:
    """Compare what was acknowledged with what the shards hold (pure: easy to reason about)."""
    copies: Counter[str] = Counter()
    where: dict[str, list[str]] = defaultdict(list)
    for node, orders in stored.items():
        for order in orders:
            order_id = str(order["order_id"])
            copies[order_id] += 1
            where[order_id].append(str(order.get("fulfilled_by") or node))
    acknowledged = [r for r in results if r.outcome == "committed"]
    verification = Verification(
        stored_per_node={node: len(orders) for node, orders in stored.items()},
        unreadable=dict(unreadable),
        acknowledged=len(acknowledged),
        found_once=sum(copies[r.order_id] == 1 for r in acknowledged),
    )
    for r in acknowledged:
        if copies[r.order_id] == 0:
            unread = r.warehouse in unreadable if r.warehouse else bool(unreadable)
            (verification.unverified if unread else verification.lost).append(r.order_id)
        elif r.warehouse and r.warehouse not in where[r.order_id]:
            verification.misplaced.append(r.order_id)
    verification.duplicated = sorted(oid for oid, n in copies.items() if n > 1)
    verification.per_node = _per_node(verification, acknowledged, stored, where)
    for r in results:
        if r.outcome == "rejected" and copies[r.order_id]:
            verification.refused_but_stored.append(r.order_id)
        elif r.outcome == "failed" and copies[r.order_id]:
            verification.unacknowledged_stored.append(r.order_id)
    return verification


def _per_node(
    verification: Verification,
    acknowledged: Sequence[OrderResult],
    stored: Mapping[str, Sequence[Mapping[str, Any]]],
    where: Mapping[str, list[str]],
) -> dict[str, dict[str, int]]:
    """Which node the losses, unverified orders and second copies are on (the HTML report's
    per-node table): a lost or unverified order counts against the node that acknowledged it."""
    by_id = {r.order_id: r for r in acknowledged}
    nodes = sorted(set(stored) | set(verification.unreadable))
    table = {
        node: {
            "acknowledged": sum(r.warehouse == node for r in acknowledged),
            "stored": len(stored.get(node, ())),
            "lost": 0,
            "unverified": 0,
            "duplicated": 0,
        }
        for node in nodes
    }
    for kind in ("lost", "unverified"):
        for order_id in getattr(verification, kind):
            node = by_id[order_id].warehouse
            if node in table:
                table[node][kind] += 1
    for order_id in verification.duplicated:
        for node in set(where[order_id]):
            if node in table:
                table[node]["duplicated"] += 1
    return table


async def verify(
    results: Sequence[OrderResult],
    node_urls: Mapping[str, str],
    run_id: str,
    token: str | None,
    request_timeout: float = 30.0,
    since: datetime | None = None,
) -> Verification:
    """Read every node's orders of run ``run_id`` and :func:`check` them against ``results``.

    Pass ``since`` (well before the run started: node clocks may differ a little) to skip a
    shard's older orders instead of paging through all of them.
    """
    stored: dict[str, list[dict[str, Any]]] = {}
    unreadable: dict[str, str] = {}
    async with client_session(len(node_urls) or 1, request_timeout, token) as session:
        listings = await asyncio.gather(
            *(list_orders(session, url, f"{run_id}-", since) for url in node_urls.values()),
            return_exceptions=True,
        )
    for (node, url), listing in zip(node_urls.items(), listings, strict=True):
        if isinstance(listing, BaseException):
            unreadable[node] = f"{url}: {type(listing).__name__}: {listing}".strip()
        else:
            stored[node] = listing
    return check(results, stored, unreadable)
