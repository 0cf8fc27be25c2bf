"""One shard's orders read to the end through its ``GET /orders`` (docs/node.md).

The one paging loop the stress tool's ``--verify``, the demo's story and the benchmarks share,
so the node's listing contract is honoured in one place: pages are followed by ``next_cursor``
until it is null, never by their length, because a page the node skipped damaged rows on is
short yet not the last; the ``X-Damaged-Rows`` of every page is summed and handed back, since an
order in a damaged row is stored but cannot be read, and a caller counting what a shard holds
must be able to tell that from an order that is not there. The node token and the CA bundle
(``ORDER_CA_BUNDLE``) come with the session (:func:`stress.http.client_session`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp

from .http import client_session

#: the node's largest page (``limit`` at most 1000): the fewest round trips
PAGE_LIMIT = 1000
DAMAGED_HEADER = "X-Damaged-Rows"


class ShardReadError(RuntimeError):
    """A node's order list could not be read to the end."""


@dataclass
class ShardOrders:
    """What a shard's listing gave: its orders in storage order, repeats kept (a second copy is
    what callers count), and how many rows the node skipped as damaged."""

    orders: list[dict[str, Any]] = field(default_factory=list)
    damaged: int = 0

    def ids(self) -> list[str]:
        return [str(o["order_id"]) for o in self.orders]


def damaged_rows(url: str, value: str | None) -> int:
    """The page's ``X-Damaged-Rows``: absent is none; anything but a count is not this node's
    contract, and guessing would make the count silently wrong."""
    if value is None:
        return 0
    if not value.isdigit():
        raise ShardReadError(f"GET {url}/orders sent {DAMAGED_HEADER}: {value[:40]!r}")
    return int(value)


async def read_shard(
    session: aiohttp.ClientSession, url: str, prefix: str = "", since: datetime | None = None
) -> ShardOrders:
    """Every order on one node whose id starts with ``prefix``, following the cursor.

    ``since`` (the node's ``created_at >=`` filter) only skips older orders faster; the id
    prefix is what decides which orders a caller wants. A non-200 page or a cursor returned
    twice (a loop that would never end) is a :class:`ShardReadError`.
    """
    shard = ShardOrders()
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
                raise ShardReadError(f"GET {url}/orders answered {response.status}: {text}")
            page = await response.json()
            shard.damaged += damaged_rows(url, response.headers.get(DAMAGED_HEADER))
        shard.orders.extend(
            o for o in page["orders"] if str(o.get("order_id", "")).startswith(prefix)
        )
        cursor = page.get("next_cursor")
        if not cursor:
            return shard
        if cursor in seen_cursors:
            raise ShardReadError(f"GET {url}/orders returned the cursor {cursor!r} twice")
        seen_cursors.add(cursor)


def read_shard_now(url: str, token: str | None = None, timeout: float = 30.0) -> ShardOrders:
    """:func:`read_shard` for a caller with no event loop of its own (a benchmark's step
    between two loads): one session for this one read, closed after it."""

    async def read() -> ShardOrders:
        async with client_session(1, timeout, token) as session:
            return await read_shard(session, url)

    return asyncio.run(read())
