"""The demo's story: phase 1 (per-order runs, the fault), phase 2 (batches), phase 3 (a node
and its disk lost, restored from the replica: :mod:`.demo_disk_loss`), and where the killed
region's orders were stored relative to the outage."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from order_contracts.labels import DAG_ID
from stress.config import StressConfig, parse_region_mix
from stress.http import client_session
from stress.report import print_report, write_report
from stress.run import RunOutcome, run_stress
from stress.shard_orders import read_shard

from .demo_chaos import Chaos, kill_and_restart
from .demo_disk_loss import DiskLoss, disk_loss_phase, retry_attempts
from .demo_options import DemoOptions
from .demo_report import Steps, console, phase_row
from .stack import LocalStack


@dataclass
class RegionStory:
    """Where the killed region's orders were stored, relative to the outage."""

    before_kill_home: int = 0
    while_down_on_fallback: int = 0
    while_down_home: int = 0
    after_rejoin_home: int = 0
    after_rejoin_on_fallback: int = 0
    fallback_warehouses: dict[str, int] = field(default_factory=dict)


@dataclass
class DemoResult:
    chaos: Chaos
    story: RegionStory
    phases: list[dict[str, Any]]
    routing_changes: list[dict[str, Any]]
    #: DAG runs of order_workflow by final state
    airflow_runs: dict[str, int]
    report_path: Path
    #: the disk-loss phase (None: skipped, e.g. without replication)
    disk_loss: DiskLoss | None = None

    @property
    def passed(self) -> bool:
        runs_ok = set(self.airflow_runs) <= {"success"}
        disk_ok = self.disk_loss is None or self.disk_loss.passed
        return runs_ok and disk_ok and all(phase["passed"] for phase in self.phases)


def stress_config(
    stack: LocalStack, options: DemoOptions, name: str, **overrides: Any
) -> StressConfig:
    assert stack.airflow is not None
    base: dict[str, Any] = {
        "target": "airflow",
        "endpoint": stack.airflow.url,
        "airflow_user": stack.airflow.username,
        "airflow_password": stack.airflow.password,
        "node_token": stack.node_token,
        "routing": str(stack.routing_file),
        "region_mix": parse_region_mix("HCM=0.4,HN=0.3,DN=0.3"),
        "seed": options.seed,
        "run_id": f"demo{name}{int(time.time()) % 100000:05d}",
        "verify": True,
        "run_timeout": 600.0,
        "report": options.state_dir / f"report-{name}.json",
        "plot": options.state_dir / f"latency-{name}.png",
        "progress": sys.stdout.isatty(),
    }
    return StressConfig(**(base | overrides))


async def phase_one(stack: LocalStack, options: DemoOptions, chaos: Chaos) -> RunOutcome:
    config = stress_config(
        stack, options, "per-order", rate=options.rate, duration=options.seconds, orders=None
    )
    planned = config.planned_orders() or 0
    chaos_task = asyncio.create_task(kill_and_restart(stack, options, chaos, planned))

    async def node_back() -> None:
        await chaos_task  # every shard must be readable before --verify counts

    try:
        return await run_stress(config, console, before_verify=node_back)
    finally:
        if not chaos_task.done():
            chaos_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await chaos_task


async def region_story(stack: LocalStack, chaos: Chaos, prefixes: list[str]) -> RegionStory:
    """Read the killed region's orders back from every shard and place them in time."""
    story = RegionStory()
    region = chaos.region
    async with client_session(4, 30.0, stack.node_token) as session:
        for url in stack.node_urls.values():
            for prefix in prefixes:
                for order in (await read_shard(session, url, prefix)).orders:
                    if order["home_region"] != region:
                        continue
                    created = datetime.fromisoformat(order["created_at"])
                    home = order["fulfilled_by"] == region
                    if chaos.killed_at is None or created < chaos.killed_at:
                        story.before_kill_home += home
                    elif chaos.restarted_at is None or created < chaos.restarted_at:
                        if home:
                            story.while_down_home += 1
                        else:
                            story.while_down_on_fallback += 1
                            by = order["fulfilled_by"]
                            story.fallback_warehouses[by] = story.fallback_warehouses.get(by, 0) + 1
                    elif home:
                        story.after_rejoin_home += 1
                    else:
                        story.after_rejoin_on_fallback += 1
    return story


async def run_phases(stack: LocalStack, options: DemoOptions, steps: Steps) -> DemoResult:
    chaos = Chaos(region=options.kill_region)
    outcomes: list[tuple[str, RunOutcome]] = []
    planned = round(options.rate * options.seconds)
    title = (
        f"phase 1: {planned} orders, one DAG run each, {options.rate:g}/s; "
        f"{options.kill_region} killed once {options.kill_at:.0%} are committed"
    )
    with steps(title, stack.log_dir):
        outcome = await phase_one(stack, options, chaos)
        print_report(outcome.report, console)
        outcomes.append(("per-order", outcome))
    if options.batch_orders > 0:
        title = (
            f"phase 2: {options.batch_orders} orders in DAG runs of {options.batch_size}, "
            f"{options.invalid_ratio:.0%} deliberately invalid"
        )
        with steps(title, stack.log_dir):
            config = stress_config(
                stack,
                options,
                "batch",
                orders=options.batch_orders,
                batch_size=options.batch_size,
                concurrency=2,
                invalid_ratio=options.invalid_ratio,
            )
            outcome = await run_stress(config, console)
            print_report(outcome.report, console)
            outcomes.append(("batch", outcome))
    # the killed region's story is phases 1 and 2: the disk-loss phase has its own outage
    prefixes = [o.report["run_id"] for _, o in outcomes]
    disk_loss = None
    if options.lose_disk_region is not None:
        title = (
            f"phase 3: {round(options.disk_loss_rate * options.disk_loss_seconds)} orders "
            f"straight to the nodes, {options.disk_loss_rate:g}/s; {options.lose_disk_region} "
            f"and its disk lost once {options.disk_loss_at:.0%} are committed, restored from "
            "its replica"
        )
        with steps(title, stack.log_dir):
            config = stress_config(
                stack,
                options,
                "disk-loss",
                target="nodes",
                rate=options.disk_loss_rate,
                duration=options.disk_loss_seconds,
                orders=None,
                max_attempts=retry_attempts(options),
            )
            outcome, disk_loss = await disk_loss_phase(stack, options, config, list(outcomes))
            print_report(outcome.report, console)
            outcomes.append(("disk-loss", outcome))
    story = await region_story(stack, chaos, prefixes)
    changes = [json.loads(line) for line in stack.routing_history.read_text().splitlines()]
    assert stack.airflow is not None
    with stack.airflow.client() as airflow:
        runs = await asyncio.to_thread(airflow.run_states, DAG_ID)
    result = DemoResult(
        chaos=chaos,
        story=story,
        phases=[phase_row(name, o.report) for name, o in outcomes],
        routing_changes=changes,
        airflow_runs=runs,
        report_path=options.state_dir / "report.json",
        disk_loss=disk_loss,
    )
    write_report(
        {
            "schema": "orders-demo/report/v1",
            "passed": result.passed,
            "chaos": chaos.to_json(),
            "killed_region_orders": asdict(story),
            "disk_loss": disk_loss.to_json() if disk_loss else None,
            "phases": result.phases,
            "routing_changes": changes,
            "airflow_runs": runs,
            "stress_reports": {name: o.report for name, o in outcomes},
        },
        result.report_path,
    )
    return result
