"""When and how the in-doubt benchmark kills the home node (``--kill-when``).

The orders the bar is about exist only if the SIGKILL lands in a window of milliseconds: after
Litestream wrote the transaction to the replica, before the node answered. Finding that moment
(health polls for a POST in flight, then a thread watching the replica's folder) is its own job,
apart from the load and the counting (:mod:`benchmarks.in_doubt_resolution`).
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from localmode.replication import replica_dir
from localmode.stack import LocalStack


@dataclass
class Kill:
    mode: str = ""
    at_s: float = 0.0  # seconds after the first trigger
    in_flight: int = 0  # requests the home was serving then
    orders_before: int = 0  # orders the home held then
    forced: bool = False  # the moment never came before the wait ran out: killed anyway


def ltx_files(folder: Path) -> set[str]:
    """The complete transaction files in ``folder`` (Litestream writes ``*.ltx.tmp``, then
    renames it: only the renamed file is in the replica)."""
    try:
        return {name for name in os.listdir(folder) if name.endswith(".ltx")}
    except FileNotFoundError:
        return set()


def kill_on_replica_write(stack: LocalStack, region: str, window_s: float) -> bool:
    """SIGKILL the node as soon as a new transaction file lands in its replica (within
    ``window_s``): a request in flight is then likely between "the replica holds it" and its
    acknowledgement — the window whose orders are in doubt yet replicated. Polls in a thread:
    an event loop's wake-ups are too coarse for a window of milliseconds."""
    level0 = replica_dir(stack.state_dir, region) / "ltx" / "0"
    before = ltx_files(level0)
    deadline = time.monotonic() + window_s
    while time.monotonic() < deadline:
        if ltx_files(level0) - before:
            stack.kill_node(region)
            return True
        time.sleep(0.0002)
    return False


async def killer(
    stack: LocalStack,
    region: str,
    mode: str,
    done: asyncio.Event,
    started: float,
    kill: Kill,
) -> None:
    """Once ``done`` (enough runs finished), SIGKILL the home while it serves a POST.

    ``mode``: ``in-flight`` kills at the first poll that sees a POST in flight (anywhere in its
    life: most such kills cut requests before their commit); ``replicated`` then waits for the
    replica to receive a transaction and kills at once (see :func:`kill_on_replica_write`).
    """
    await done.wait()
    kill.mode = mode
    url = stack.node_urls[region]
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(timeout=2.0) as http:
        while True:
            try:
                health = (await http.get(f"{url}/health")).json()
            except httpx.HTTPError:
                health = {}
            kill.in_flight = int(health.get("in_flight") or 0)
            kill.orders_before = int(health.get("orders") or 0)
            if time.monotonic() > deadline:
                kill.forced = True
                stack.kill_node(region)
                break
            if kill.in_flight >= 1:
                if mode == "in-flight":
                    stack.kill_node(region)
                    break
                if await asyncio.to_thread(kill_on_replica_write, stack, region, 0.2):
                    break
            await asyncio.sleep(0.005)
    kill.at_s = time.monotonic() - started
    print(
        f"killed {region} ({mode}) at {kill.at_s:.1f} s ({kill.in_flight} request(s) in "
        f"flight, {kill.orders_before} orders stored){' [forced]' if kill.forced else ''}",
        flush=True,
    )
