"""In-flight limits are per node (issue 13, item 6): a frozen node holds its own slots only.

Real nodes, a real SIGSTOP, the closed loop. Measured before: one frozen node ended up holding
every sender of the tool (each sender sooner or later drew one of its orders), so no other
region committed anything until the frozen node's requests were cut short. Here the other
regions' committed orders per second during the freeze (before any cut can happen: the health
probe's timeout is 2 s) must stay above half of what they were just before it; and, to show
the bar measures what it claims, the same freeze with one node allowed every slot
(``in_flight_per_node = concurrency``, the old global limit) must drop them near zero.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import httpx
from rich.console import Console

from stress.config import StressConfig
from stress.results import OrderResult
from stress.run import run_stress
from tests.conftest import RunningNode
from tests.stress.conftest import run_cli

CONCURRENCY = 12
#: the window measured, in seconds after the freeze began: before a probe can time out (2 s)
DURING = (0.3, 1.8)
BEFORE_S = 1.5


def others_per_s(results: list[OrderResult], start: float, end: float) -> float:
    """Committed orders per second of the regions other than HN, finished in [start, end)."""
    done = [
        r
        for r in results
        if r.home_region != "HN" and r.outcome == "committed" and start <= r.finished < end
    ]
    return len(done) / (end - start)


def freeze_under_load(
    hn: RunningNode, hcm: RunningNode, routing: Path, per_node: int | None
) -> tuple[float, float]:
    """A closed-loop run with HN frozen for 2.5 s in the middle: the other regions' committed
    orders per second just before the freeze and during it."""
    assert hn.process.pid is not None
    config = StressConfig(
        target="nodes",
        concurrency=CONCURRENCY,
        in_flight_per_node=per_node,
        orders=None,
        duration=BEFORE_S + 5.0,
        routing=str(routing),
        timeout=10.0,
        progress=False,
    )
    frozen: dict[str, float] = {}

    async def freeze_once_warm() -> None:
        async with httpx.AsyncClient(base_url=hcm.url, timeout=5.0) as client:
            while (await client.get("/health")).json()["orders"] < 50:
                await asyncio.sleep(0.01)
        await asyncio.sleep(BEFORE_S)  # a stretch of normal load to compare with
        os.kill(hn.process.pid, signal.SIGSTOP)
        frozen["at"] = time.monotonic()
        try:
            await asyncio.sleep(2.5)
        finally:
            os.kill(hn.process.pid, signal.SIGCONT)

    async def run() -> tuple[list[OrderResult], float]:
        freeze = asyncio.create_task(freeze_once_warm())
        outcome = await run_stress(config, Console(quiet=True))
        await freeze
        return outcome.results, outcome.t0

    try:
        results, t0 = asyncio.run(run())
    finally:
        os.kill(hn.process.pid, signal.SIGCONT)
    at = frozen["at"] - t0
    assert any(r.home_region == "HN" and r.finished < at for r in results), "HN had no load"
    before = others_per_s(results, at - BEFORE_S, at)
    during = others_per_s(results, at + DURING[0], at + DURING[1])
    return before, during


def test_a_frozen_node_holds_only_its_own_slots(
    three_nodes: dict[str, RunningNode], routing_file: Path
) -> None:
    hn, hcm = three_nodes["HN"], three_nodes["HCM"]
    before, during = freeze_under_load(hn, hcm, routing_file, per_node=None)  # the default
    assert before > 20, f"too little load to measure: {before:.0f}/s"
    assert during >= 0.5 * before, f"others: {before:.0f}/s before, {during:.0f}/s frozen"

    # the old global limit, for contrast: the frozen node soaks up every slot
    before, during = freeze_under_load(hn, hcm, routing_file, per_node=CONCURRENCY)
    assert before > 20, f"too little load to measure: {before:.0f}/s"
    assert during < 0.2 * before, f"others: {before:.0f}/s before, {during:.0f}/s frozen"


def test_per_node_limits_apply_to_order_by_order_node_runs_only() -> None:
    for target in (("--target", "airflow"), ("--target", "nodes", "--bulk", "10")):
        run = run_cli(*target, "--in-flight-per-node", "4")
        assert run.code == 2 and len(run.stderr.strip().splitlines()) == 1, run.stderr
        assert "--in-flight-per-node" in run.stderr and "Traceback" not in run.stderr
