"""The sync-wait rule against Litestream's real answers, replayed over a real Unix socket.

Litestream's ``POST /sync`` reads the answer's ``txid`` after the wait while its WAL monitor
keeps converting later commits, so under load it answers ``txid = N+1, replicated_txid = N``
for a round that did upload ours. That race cannot be forced on demand with the real binary,
so this serves the answer sequences it produces from a small HTTP server on a Unix socket and
drives the node's real :class:`ControlClient` and :class:`Replicator` against it. What can fail
here: a short answer or a failed round turned into an error at once (the cause of the
duplicates: chaos.md#findings), or a replica that never catches up acknowledged anyway.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web

from warehouse_node.litestream import ControlClient
from warehouse_node.replication import ReplicationFailed, Replicator

Answer = tuple[int, int] | str  # (txid, replicated_txid), or an error message (HTTP 500)


@asynccontextmanager
async def litestream_answering(
    tmp_path: Path, answer: Callable[[int], Answer], timeout: float = 30.0
) -> AsyncIterator[tuple[Replicator, list[int]]]:
    """A Replicator whose control socket answers ``answer(n)`` to its n-th ``/sync`` (a long
    ``timeout`` by default: a busy machine must not turn a confirm into a deadline)."""
    calls: list[int] = []

    async def sync(request: web.Request) -> web.Response:
        body = await request.json()
        assert body["wait"] is True and body["path"].endswith("orders.db")
        calls.append(len(calls))
        reply = answer(len(calls) - 1)
        if isinstance(reply, str):
            return web.json_response({"error": reply}, status=500)
        return web.json_response({"txid": reply[0], "replicated_txid": reply[1]})

    app = web.Application()
    app.router.add_post("/sync", sync)
    runner = web.AppRunner(app)
    await runner.setup()
    socket = tmp_path / "litestream.sock"
    await web.UnixSite(runner, str(socket)).start()
    replicator = Replicator(ControlClient(socket, tmp_path / "orders.db"), "sync", timeout=timeout)
    try:
        yield replicator, calls
    finally:
        await replicator.aclose()
        await runner.cleanup()


@pytest.mark.asyncio
async def test_an_answer_that_includes_a_later_commit_is_asked_again_not_failed(
    tmp_path: Path,
) -> None:
    # Under load every answer is one transaction short of its own txid, as Litestream gives.
    async with litestream_answering(tmp_path, lambda n: (11 + n, 10 + n)) as (replicator, calls):
        await replicator.confirm()  # the first answer was (11, 10): it used to fail here
    assert len(calls) == 2  # the second round holds 11, the first round's txid


@pytest.mark.asyncio
async def test_a_failed_round_is_asked_again_until_the_deadline(tmp_path: Path) -> None:
    def answer(n: int) -> Answer:
        return "replica sync: connection reset" if n < 2 else (7, 7)

    async with litestream_answering(tmp_path, answer) as (replicator, calls):
        await replicator.confirm()
    assert len(calls) == 3


@pytest.mark.asyncio
async def test_a_replica_that_stays_behind_fails_at_the_deadline_naming_both_txids(
    tmp_path: Path,
) -> None:
    short = litestream_answering(tmp_path, lambda n: (20 + n, 5), timeout=2.0)
    async with short as (replicator, calls):
        started = time.monotonic()
        with pytest.raises(ReplicationFailed, match="holds transaction 5, not 20"):
            await replicator.confirm()
        assert 1.9 <= time.monotonic() - started < 10
    assert len(calls) >= 2


@pytest.mark.asyncio
async def test_concurrent_waiters_share_rounds(tmp_path: Path) -> None:
    async with litestream_answering(tmp_path, lambda n: (3 + n, 3 + n)) as (replicator, calls):
        await asyncio.gather(*(replicator.confirm() for _ in range(50)))
    assert len(calls) <= 2  # one round, plus at most the one after it
