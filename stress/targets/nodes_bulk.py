"""``--target nodes --bulk N``: units of N orders, one ``POST /orders`` per assigned node.

Routing is the nodes target's (:class:`~stress.targets.nodes.NodesTarget`, the DAG's decision
on cached health); what changes is the request: the orders of a unit that share a warehouse go
in one bulk request, and each per-order answer counts as that order's. The never-twice rules
stay those of single orders:

- each per-order status is classified as a single order's (:func:`order_contracts.outcomes.
  classify`): 201/200 committed; 409 or another 4xx rejected (final); a per-order 503 (its
  group commit failed, nothing stored: the node's bulk contract, the single order's 503 with
  ``Retry-After``) is sent again alone, which may go to the next fallback; a per-order 504 or
  other 5xx (e.g. committed but not confirmed by the replica) is in doubt: re-sent in bulk to
  the same node only;
- the connection was never made → nothing was sent: each order is sent again alone, which
  routes it elsewhere (the node is marked unreachable);
- the answer was lost after sending (timeout, reset, 5xx) → any order may be stored there: the
  same bulk request goes to the same node again (idempotent) up to ``max_attempts`` times; while
  the home node is down its followers are asked first (:mod:`order_contracts.in_doubt`), and an
  order still in doubt at the end is failed, never sent elsewhere;
- a node that refuses the bulk as a whole without writing (404/405/413/422) gets the orders one
  by one.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from order_contracts.outcomes import STORED, Delivery, classify, is_final, may_reroute
from order_contracts.routing import Assignment, NoWarehouseAvailable

from ..engine import Unit
from ..orders import GeneratedOrder
from ..results import OrderResult
from .nodes import NodesTarget

#: whole-request answers that mean "not taken as a bulk, nothing written": send one by one
SEND_SINGLY = frozenset({404, 405, 413, 422})


def bulk_body(orders: list[GeneratedOrder]) -> bytes:
    """``{"orders": [...]}`` spliced from the bodies encoded up front (no JSON work here)."""
    return b'{"orders":[' + b",".join(o.body for o in orders) + b"]}"


def _detail(entry: dict[str, Any]) -> str:
    detail = entry.get("detail")
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        return f"{detail[0].get('field')}: {detail[0].get('message')}"
    return str(detail)[:120]


class BulkNodesTarget(NodesTarget):
    """:class:`NodesTarget` whose units go as bulk requests (``--bulk N``)."""

    async def send(self, unit: Unit, intended: float) -> list[OrderResult]:
        if len(unit) == 1:
            return [await self.send_one(unit[0], intended)]
        groups: dict[tuple[str, str], tuple[Assignment, list[GeneratedOrder]]] = {}
        results: dict[int, OrderResult] = {}
        for order in unit:
            try:
                assignment = self._assign(order, set())
            except NoWarehouseAvailable as exc:
                results[order.index] = OrderResult.of(
                    order,
                    intended,
                    self.recorder.now(),
                    "failed",
                    cause=f"no warehouse available ({exc})",
                )
                continue
            key = (assignment.region, assignment.url)
            groups.setdefault(key, (assignment, []))[1].append(order)
        done = await asyncio.gather(
            *(self._send_group(a, orders, intended) for a, orders in groups.values())
        )
        for group_results in done:
            results.update((r.index, r) for r in group_results)
        return [results[order.index] for order in unit]

    async def _send_group(
        self,
        assignment: Assignment,
        orders: list[GeneratedOrder],
        intended: float,
        attempts: int = 0,
    ) -> list[OrderResult]:
        """``attempts``: bulk requests already made for these orders on this node."""
        assert self._session is not None
        url = f"{assignment.url.rstrip('/')}/orders"
        body = bulk_body(orders)
        cause = "no attempt made"
        while attempts < self.max_attempts:
            attempts += 1
            try:
                async with self._session.post(url, data=body) as response:
                    status, raw = response.status, await response.read()
                    retry_after = "Retry-After" in response.headers
            except aiohttp.ClientConnectorError:
                # Never connected, nothing sent: each order may go elsewhere, one by one.
                self._mark_unreachable(assignment.region)
                return await self._singly(orders, intended)
            except (aiohttp.ClientError, TimeoutError) as exc:
                cause = (
                    f"{assignment.region}: bulk answer lost after sending ({type(exc).__name__})"
                )
                await self._pause_if_home_down(orders, assignment)
                continue
            if status in SEND_SINGLY:
                return await self._singly(orders, intended)
            entries = self._entries(raw, len(orders)) if status == 200 else None
            if entries is None and may_reroute(classify(status, retry_after=retry_after)):
                return await self._singly(orders, intended)  # refused before writing anything
            if entries is None:
                cause = f"{assignment.region} answered the bulk request with {status}"
                await self._pause_if_home_down(orders, assignment)
                continue
            return await self._per_order(assignment, orders, entries, intended, attempts)
        return await self._in_doubt(orders, intended, attempts, cause)

    @staticmethod
    def _entries(raw: bytes, expected: int) -> list[dict[str, Any]] | None:
        try:
            entries = json.loads(raw)["results"]
        except (ValueError, KeyError, TypeError):
            return None
        if not isinstance(entries, list) or len(entries) != expected:
            return None
        return [e if isinstance(e, dict) else {} for e in entries]

    async def _per_order(
        self,
        assignment: Assignment,
        orders: list[GeneratedOrder],
        entries: list[dict[str, Any]],
        intended: float,
        attempts: int,
    ) -> list[OrderResult]:
        now = self.recorder.now()
        results: list[OrderResult] = []
        again: list[GeneratedOrder] = []
        doubtful: list[GeneratedOrder] = []
        for order, entry in zip(orders, entries, strict=True):
            status = entry.get("status")
            if not isinstance(status, int):
                doubtful.append(order)  # an answer that proves nothing
                continue
            outcome = classify(status, retry_after=status == 503)  # see the module's docstring
            if outcome in STORED:
                stored = entry.get("order")
                taker = stored.get("fulfilled_by") if isinstance(stored, dict) else None
                warehouse = str(taker or assignment.region)
                results.append(
                    OrderResult.of(
                        order,
                        intended,
                        now,
                        "committed",
                        warehouse=warehouse,
                        fallback=warehouse != order.region,
                        attempts=attempts,
                    )
                )
            elif is_final(outcome):  # a conflict or a rejection: no retry can change it
                results.append(
                    OrderResult.of(
                        order,
                        intended,
                        now,
                        "rejected",
                        attempts=attempts,
                        cause=f"{status} {outcome.value}: {_detail(entry)}",
                    )
                )
            elif outcome is Delivery.DID_NOT_REACH:
                again.append(order)  # nothing stored: send it alone, it may go elsewhere
            else:
                doubtful.append(order)  # e.g. 504: committed, the replica did not confirm
        if doubtful:  # may be stored there: that node again, and no other
            if attempts < self.max_attempts:
                results += await self._send_group(assignment, doubtful, intended, attempts)
            else:
                cause = f"{assignment.region} answered 5xx for orders it may hold"
                results += await self._in_doubt(doubtful, intended, attempts, cause)
        return results + await self._singly(again, intended)

    async def _singly(self, orders: list[GeneratedOrder], intended: float) -> list[OrderResult]:
        return list(await asyncio.gather(*(self.send_one(o, intended) for o in orders)))

    async def _pause_if_home_down(
        self, orders: list[GeneratedOrder], assignment: Assignment
    ) -> None:
        """Before re-sending a bulk in doubt: a short pause when its node looks down (the same
        node is the only place it may go, so hammering it helps no one)."""
        if any(self._home_down(o, assignment) for o in orders[:1]):
            await asyncio.sleep(min(0.5, self.health_ttl))

    async def _in_doubt(
        self, orders: list[GeneratedOrder], intended: float, attempts: int, cause: str
    ) -> list[OrderResult]:
        """The bulk may have reached its node and no answer came: followers of the orders' home
        may settle them; the rest fail, never sent elsewhere."""
        results = []
        for order in orders:
            verdict = await self._ask_followers(order)
            if verdict.placed_at_home:
                results.append(self._placed_at_home(order, intended, attempts, verdict))
                continue
            results.append(
                OrderResult.of(
                    order,
                    intended,
                    self.recorder.now(),
                    "failed",
                    attempts=attempts,
                    cause=f"{cause}; {verdict.reason}",
                )
            )
        return results
