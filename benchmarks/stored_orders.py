"""Which order ids every shard holds once the load is over, read back through ``GET /orders``.

The dead home's share is read from its read follower (it holds what the replica holds), and
only once the follower's copy stops changing: the primary is gone, so the replica is final, but
the follower may still be applying it.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp

from localmode.stack import LocalStack
from stress.http import client_session
from stress.shard_orders import read_shard


async def settled_follower_ids(
    session: aiohttp.ClientSession, url: str, quiet_s: float
) -> list[str]:
    """The follower's ids once its copy has not changed for ``quiet_s`` (the primary is dead,
    so the replica is final; the follower only has to finish applying it)."""
    ids = (await read_shard(session, url)).ids()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        await asyncio.sleep(quiet_s)
        again = (await read_shard(session, url)).ids()
        if len(again) == len(ids):
            return again
        ids = again
    return ids


async def read_shards(stack: LocalStack, region: str) -> dict[str, list[str]]:
    """Per shard its order ids (repeats kept): the live nodes' own, the dead home's from its
    follower."""
    async with client_session(1, 30.0, stack.node_token) as session:
        stored = {}
        for shard, url in stack.node_urls.items():
            if shard == region:
                stored[shard] = await settled_follower_ids(session, stack.follower_urls[shard], 2.0)
            else:
                stored[shard] = (await read_shard(session, url)).ids()
    return stored
