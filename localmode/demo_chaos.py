"""The demo's fault: kill one warehouse node midway through phase 1, then restart it.

Progress, not the clock, decides when (see :func:`kill_and_restart`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from order_contracts import tls
from order_contracts.health import read_health_answer

from .demo_options import DemoOptions
from .demo_report import console
from .processes import wait_until
from .stack import LocalStack


@dataclass
class Chaos:
    """What the demo did to the killed node, in wall-clock time (to compare with created_at)."""

    region: str
    killed_at: datetime | None = None
    detected_s: float | None = None
    restarted_at: datetime | None = None
    down_s: float | None = None
    rejoin_s: float | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("killed_at", "restarted_at"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


async def shard_counts(client: httpx.AsyncClient, stack: LocalStack) -> dict[str, int]:
    """Orders stored per shard, from each node's ``/health`` (an in-memory count, cheap)."""
    counts = {}
    for region, url in stack.node_urls.items():
        try:
            response = await client.get(f"{url}/health")
        except httpx.HTTPError:
            continue  # a node that is down keeps its last count
        health = read_health_answer(response.status_code, response.content)
        if health is not None:
            counts[region] = health.orders
    return counts


async def fallback_orders(client: httpx.AsyncClient, stack: LocalStack, region: str) -> int:
    """Orders of ``region`` that other shards took (its fallback orders so far)."""
    total = 0
    for other, url in stack.node_urls.items():
        if other == region:
            continue
        with contextlib.suppress(httpx.HTTPError):
            response = await client.get(f"{url}/orders", params={"region": region, "limit": 1000})
            total += len(response.json()["orders"])
    return total


async def kill_and_restart(
    stack: LocalStack, options: DemoOptions, chaos: Chaos, planned: int
) -> None:
    """Kill the node once a share of phase 1 is committed; restart it once fallbacks happened.

    Progress, not the clock, decides when: Airflow's pace depends on the machine, and the point
    is to show orders committed before the kill, on fallbacks during it, and at home after it.
    The outage stays shorter than the DAG's retry budget, so an order whose request was cut off
    by the kill is retried on its own node instead of being given up.
    """
    region = options.kill_region
    last: dict[str, int] = {}
    async with httpx.AsyncClient(
        timeout=2.0, headers=stack.auth_headers(), verify=tls.httpx_verify()
    ) as client:
        base = sum((await shard_counts(client, stack)).values())

        async def committed() -> int:
            last.update(await shard_counts(client, stack))
            return sum(last.values()) - base

        while await committed() < planned * options.kill_at:  # noqa: ASYNC110 - polling HTTP
            await asyncio.sleep(0.2)
        pid = stack.nodes[region].pid
        await asyncio.to_thread(stack.kill_node, region)
        chaos.killed_at = datetime.now(UTC)
        killed = time.monotonic()
        console.print(f"[bold red]!! killed warehouse {region} (SIGKILL, pid {pid})[/bold red]")
        await asyncio.to_thread(
            wait_until, lambda: not stack.region_ready(region), 30, 0.05, f"{region} not ready"
        )
        chaos.detected_s = time.monotonic() - killed
        console.print(f"   routing marked {region} not ready after {chaos.detected_s:.2f}s")
        fallback_base = await fallback_orders(client, stack, region)
        while True:
            down = time.monotonic() - killed
            if down >= options.max_down_s:
                break
            if down >= options.down_s:
                fallbacks = await fallback_orders(client, stack, region) - fallback_base
                # A restart with no fallback yet would leave the story unproven: wait for at
                # least one unless max_down_s runs out.
                if fallbacks >= options.min_fallbacks or (
                    fallbacks > 0 and await committed() >= planned * options.restart_at
                ):
                    break
            await asyncio.sleep(0.25)
    chaos.restarted_at = datetime.now(UTC)
    chaos.down_s = time.monotonic() - killed
    chaos.rejoin_s = await asyncio.to_thread(stack.restart_node, region)
    console.print(
        f"[bold green]!! restarted {region} after {chaos.down_s:.1f}s down, on its data "
        f"directory; ready in routing after {chaos.rejoin_s:.2f}s[/bold green]"
    )
