"""``--verify``: read every shard back and check that each acknowledged order is there once.

"Acknowledged" means a node answered 201/200 for it (nodes target) or the DAG's process task
reported it committed (Airflow target). Each node's ``GET /orders`` is paged to the end
(:func:`stress.shard_orders.read_shard`) and only this run's orders (ids prefixed with the run
id) are counted, so earlier runs on the same nodes do not disturb the check. A node that cannot
be read fails the verification, and the orders acknowledged by it that no other node holds are
*unverified*, not lost: absence of proof is not proof of absence, either way. Rows a node skips
as damaged are reported per node beside the verdict: an acknowledged order in one cannot be
served, so it counts as lost, and the count says why.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .http import client_session
from .results import OrderResult
from .shard_orders import ShardOrders, read_shard

#: lists of ids in the report are cut to this many (the counts stay exact)
SAMPLE = 20


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
    #: per node that skipped any: rows it holds but could not serve (``X-Damaged-Rows``), of
    #: any run: an acknowledged order in one is counted lost, and this says why it is missing
    damaged_rows: dict[str, int] = field(default_factory=dict)

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
            "damaged_rows_per_node": self.damaged_rows,
            "per_node": self.per_node,
            "samples": {
                "lost": self.lost[:SAMPLE],
                "unverified": self.unverified[:SAMPLE],
                "duplicated": self.duplicated[:SAMPLE],
                "misplaced": self.misplaced[:SAMPLE],
                "refused_but_stored": self.refused_but_stored[:SAMPLE],
            },
        }


def check(
    results: Sequence[OrderResult],
    stored: Mapping[str, Sequence[Mapping[str, Any]]],
    unreadable: Mapping[str, str],
    damaged: Mapping[str, int] | None = None,
) -> Verification:
    """Compare what was acknowledged with what the shards hold (pure: easy to reason about);
    ``damaged`` is per node the rows its listing skipped, reported beside the verdict."""
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
        damaged_rows={node: n for node, n in (damaged or {}).items() if n},
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
    damaged: dict[str, int] = {}
    async with client_session(len(node_urls) or 1, request_timeout, token) as session:
        listings: list[ShardOrders | BaseException] = await asyncio.gather(
            *(read_shard(session, url, f"{run_id}-", since) for url in node_urls.values()),
            return_exceptions=True,
        )
    for (node, url), listing in zip(node_urls.items(), listings, strict=True):
        if isinstance(listing, BaseException):
            unreadable[node] = f"{url}: {type(listing).__name__}: {listing}".strip()
        else:
            stored[node], damaged[node] = listing.orders, listing.damaged
    return check(results, stored, unreadable, damaged)
