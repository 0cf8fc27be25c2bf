"""The demo's disk-loss phase (issue 11, item 7): a node and its disk lost mid-run, then restored.

Orders go straight to the nodes (``orders-stress --target nodes``, the routing document's
rules, in doubt settled from followers) at a steady rate. Once a share of them is committed,
the region's node is killed with SIGKILL **and its data directory deleted**. While it is down,
the region's orders are read from its follower (the URL the routing document lists in
``readUrls``), and every read it serves is counted. Then the node is started again with the same
replica URL: it restores before it serves. The node's own log says how long the restore took;
routing says when it is ready again. Last, every order acknowledged in the whole demo — this
phase's and the earlier phases' — is read back from the shards: each must be there exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from order_contracts import tls
from stress.config import StressConfig
from stress.run import RunOutcome, run_stress
from stress.verify import verify

from .demo_chaos import shard_counts
from .demo_options import DemoFailed, DemoOptions
from .demo_report import console, shown_path
from .processes import wait_until
from .replication import last_restore, log_size
from .stack import LocalStack

#: pause between two reads from the follower while the node is down (~20 reads/s: the point is
#: that it answers, not how fast; two cores are shared with Airflow)
READ_INTERVAL_S = 0.05
#: ids read back per listing of the follower (one page of ``GET /orders``)
READ_PAGE = 200
#: how long past the phase's length the loss may wait for its share of orders to be committed
TRIGGER_GRACE_S = 60.0
#: what a restart with restore may take on a loaded machine, beyond the time down
RESTORE_ALLOWANCE_S = 30.0
#: the stress tool's pause between two tries of an order on a node that refused the connection
#: (``min(0.5, health_ttl)`` in stress/targets/nodes.py, health_ttl 1 s by default)
RETRY_PAUSE_S = 0.5


def retry_attempts(options: DemoOptions) -> int:
    """Tries for one order, enough to outlast the outage: an order whose answer the loss cut
    off is retried on its home node only (it may be there), so it reaches the restored node
    (201, or 200 if the replica held it) instead of being reported failed — the DAG's rule,
    whose retry budget phase 1 keeps above its outage the same way."""
    return math.ceil((options.disk_loss_down_s + RESTORE_ALLOWANCE_S) / RETRY_PAUSE_S)


@dataclass
class DiskLoss:
    """What the disk-loss phase did and saw, in wall-clock time (to compare with created_at)."""

    region: str
    killed_at: datetime | None = None
    restarted_at: datetime | None = None
    down_s: float | None = None
    #: the node's orders just before the loss (its ``/health`` count), and those the restore
    #: brought back (the node's log)
    orders_before: int | None = None
    orders_restored: int | None = None
    #: the restore alone, as the node logged it; then start → ready in routing
    restore_s: float | None = None
    ready_s: float | None = None
    follower_url: str | None = None
    #: 200 answers of the follower while the node was down (listings and single orders)
    follower_reads: int = 0
    follower_read_errors: int = 0
    #: every acknowledged order of the demo, read back after the restore
    acknowledged: int = 0
    lost: int | None = None
    duplicated: int | None = None

    @property
    def passed(self) -> bool:
        return (
            self.restore_s is not None
            and self.follower_reads > 0
            and self.lost == 0
            and self.duplicated == 0
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("killed_at", "restarted_at"):
            data[key] = data[key].isoformat() if data[key] else None
        data["passed"] = self.passed
        return data


async def read_from_follower(
    client: httpx.AsyncClient, url: str, loss: DiskLoss, down: asyncio.Event
) -> None:
    """Until ``down`` is cleared: list the follower's orders, then read each one by id."""
    while down.is_set():
        try:
            listing = await client.get(f"{url}/orders", params={"limit": READ_PAGE})
            ids = [o["order_id"] for o in listing.json()["orders"]] if listing.is_success else []
        except (httpx.HTTPError, ValueError, KeyError):
            ids, listing = [], None
        _count(loss, listing)
        for order_id in ids:
            if not down.is_set():
                return
            await asyncio.sleep(READ_INTERVAL_S)
            try:
                _count(loss, await client.get(f"{url}/order/{order_id}"))
            except httpx.HTTPError:
                _count(loss, None)
        await asyncio.sleep(READ_INTERVAL_S)


def _count(loss: DiskLoss, answer: httpx.Response | None) -> None:
    if answer is not None and answer.is_success:
        loss.follower_reads += 1
    else:
        loss.follower_read_errors += 1


async def lose_and_restore(
    stack: LocalStack, options: DemoOptions, loss: DiskLoss, planned: int
) -> None:
    """Lose the node and its disk once ``disk_loss_at`` of the phase is committed; read from
    the follower for ``disk_loss_down_s``; restart on the same replica URL; time the restore."""
    region = loss.region
    node = stack.nodes[region]
    async with httpx.AsyncClient(
        timeout=5.0, headers=stack.auth_headers(), verify=tls.httpx_verify()
    ) as client:
        base = sum((await shard_counts(client, stack)).values())
        # the phase sends at a fixed rate: the share is committed well within its length, or
        # something is wrong, and the step says so instead of waiting forever
        deadline = time.monotonic() + options.disk_loss_seconds + TRIGGER_GRACE_S
        while (committed := sum((await shard_counts(client, stack)).values()) - base) < (
            planned * options.disk_loss_at
        ):
            if time.monotonic() > deadline:
                raise DemoFailed(
                    f"only {committed} of {planned} orders committed after "
                    f"{options.disk_loss_seconds + TRIGGER_GRACE_S:.0f}s: {region} was not lost"
                )
            await asyncio.sleep(0.2)
        loss.orders_before = (await shard_counts(client, stack)).get(region)
        await asyncio.to_thread(stack.lose_node_disk, region)
        loss.killed_at = datetime.now(UTC)
        killed = time.monotonic()
        console.print(
            f"[bold red]!! lost warehouse {region} and its disk (SIGKILL, "
            f"{shown_path(stack.data_dir(region))} deleted)[/bold red]"
        )
        await asyncio.to_thread(
            wait_until, lambda: not stack.region_ready(region), 30, 0.05, f"{region} not ready"
        )
        read_urls = stack.read_urls(region)
        down = asyncio.Event()
        down.set()
        reader = None
        if read_urls:
            loss.follower_url = read_urls[0]
            reader = asyncio.create_task(read_from_follower(client, read_urls[0], loss, down))
        try:
            await asyncio.sleep(max(0.0, options.disk_loss_down_s - (time.monotonic() - killed)))
        finally:
            down.clear()
            if reader is not None:
                await reader
        loss.restarted_at = datetime.now(UTC)
        loss.down_s = time.monotonic() - killed
        offset = log_size(node.log_path)
        loss.ready_s = await asyncio.to_thread(stack.restart_node, region)
        restore = last_restore(node.log_path, offset)
        if restore is not None:
            loss.restore_s, loss.orders_restored = restore.seconds, restore.orders
    restored = (
        f"restored {loss.orders_restored} orders in {loss.restore_s:.2f}s"
        if loss.restore_s is not None
        else "[red]no restore in its log[/red]"
    )
    console.print(
        f"[bold green]!! restarted {region} with the same replica after {loss.down_s:.1f}s "
        f"down: {restored}, ready in routing after "
        f"{loss.ready_s:.2f}s; its follower served {loss.follower_reads} reads meanwhile"
        "[/bold green]"
    )


async def disk_loss_phase(
    stack: LocalStack,
    options: DemoOptions,
    config: StressConfig,
    earlier: list[tuple[str, RunOutcome]],
) -> tuple[RunOutcome, DiskLoss]:
    """Run ``config`` (the phase's load) with the loss in the middle, then verify every phase's
    acknowledged orders (``earlier`` too) against the shards as they are after the restore."""
    assert options.lose_disk_region is not None
    loss = DiskLoss(region=options.lose_disk_region)
    planned = config.planned_orders() or 0
    task = asyncio.create_task(lose_and_restore(stack, options, loss, planned))

    async def node_back() -> None:
        await task  # the restored shard must be readable before --verify counts

    try:
        outcome = await run_stress(config, console, before_verify=node_back)
    finally:
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    # The earlier phases' orders were verified before the loss: read them back again now.
    verifications = [outcome.verification] + [
        await verify(o.results, stack.node_urls, o.report["run_id"], stack.node_token)
        for _, o in earlier
    ]
    loss.acknowledged = sum(v.acknowledged for v in verifications if v is not None)
    if all(v is not None for v in verifications):
        loss.lost = sum(len(v.lost) + len(v.unverified) for v in verifications if v)
        loss.duplicated = sum(len(v.duplicated) for v in verifications if v)
    return outcome, loss
