"""Which order ids every shard holds once the load is over, read back through ``GET /orders``.

The dead home's share is read from its read follower (it holds what the replica holds), and
only once the follower's copy stops changing: the primary is gone, so the replica is final, but
the follower may still be applying it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from localmode.stack import LocalStack


async def shard_ids(http: httpx.AsyncClient, url: str) -> list[str]:
    """Every order id a node (or follower) holds, paging ``GET /orders`` (repeats kept)."""
    ids: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 1000}
        if cursor:
            params["cursor"] = cursor
        page = (await http.get(f"{url}/orders", params=params)).raise_for_status().json()
        ids += [o["order_id"] for o in page["orders"]]
        cursor = page["next_cursor"]
        if not cursor:
            return ids


async def settled_follower_ids(http: httpx.AsyncClient, url: str, quiet_s: float) -> list[str]:
    """The follower's ids once its copy has not changed for ``quiet_s`` (the primary is dead,
    so the replica is final; the follower only has to finish applying it)."""
    ids = await shard_ids(http, url)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        await asyncio.sleep(quiet_s)
        again = await shard_ids(http, url)
        if len(again) == len(ids):
            return again
        ids = again
    return ids


async def read_shards(stack: LocalStack, region: str) -> dict[str, list[str]]:
    """Per shard its order ids: the live nodes' own, the dead home's from its follower."""
    async with httpx.AsyncClient(timeout=30.0, headers=stack.auth_headers()) as http:
        stored = {}
        for shard, url in stack.node_urls.items():
            if shard == region:
                stored[shard] = await settled_follower_ids(http, stack.follower_urls[shard], 2.0)
            else:
                stored[shard] = await shard_ids(http, url)
    return stored
