"""``orders-demo`` (``make demo``): the whole system on one machine, a node killed midway.

1. three warehouse nodes, the routing source, PostgreSQL + Airflow (``LocalStack``);
2. phase 1 — orders one DAG run each, at a steady rate; a quarter of the way in, one node is
   killed with SIGKILL, stays down, and is restarted on the same data directory;
3. phase 2 — the same through batched DAG runs, with a few deliberately invalid orders;
4. the report: each phase's stress report, where the killed region's orders went while it was
   down and after it rejoined, the rejoin time, and ``--verify``'s lost/duplicated counts;
5. everything is stopped (Ctrl-C too), unless ``--keep``: then it stays up until Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from order_contracts.health import read_health_answer
from order_contracts.labels import DAG_ID
from order_contracts.regions import configured_regions, normalize_region
from stress.config import StressConfig, parse_region_mix
from stress.http import client_session
from stress.report import print_report, write_report
from stress.run import RunOutcome, run_stress
from stress.verify import list_orders

from .processes import wait_until
from .stack import LocalStack, local_stack

console = Console(highlight=False)


class DemoFailed(RuntimeError):
    """A stage failed; the message names the stage and the log to read."""


@dataclass
class DemoOptions:
    state_dir: Path = Path(".demo")
    kill_region: str = "HCM"
    #: phase 1: per-order DAG runs per second, and for how long
    # ~80% of what per-order runs sustain on 2 cores (benchmarks/airflow_throughput.py)
    rate: float = 1.2
    seconds: float = 100.0
    #: the node is killed once this share of phase 1 is committed ...
    kill_at: float = 0.25
    #: ... and stays down at least down_s, until min_fallbacks of its orders went elsewhere (or
    #: at least one did and restart_at of phase 1 is committed), but never longer than
    #: max_down_s (below the DAG's retry budget: retries x retry delay)
    down_s: float = 10.0
    min_fallbacks: int = 5
    restart_at: float = 0.6
    max_down_s: float = 40.0
    #: phase 2: orders and orders per DAG run (0 orders: skip the phase)
    batch_orders: int = 200
    batch_size: int = 50
    invalid_ratio: float = 0.02
    retry_delay_s: float = 20.0
    seed: int = 7
    keep: bool = False


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

    @property
    def passed(self) -> bool:
        runs_ok = set(self.airflow_runs) <= {"success"}
        return runs_ok and all(phase["passed"] for phase in self.phases)


class Steps:
    """Numbered progress lines; a failing stage is named together with its log."""

    def __init__(self, total: int):
        self.total, self.done = total, 0

    @contextlib.contextmanager
    def __call__(self, title: str, log: Path) -> Iterator[None]:
        self.done += 1
        console.print(f"[bold][{self.done}/{self.total}][/bold] {title} …")
        started = time.monotonic()
        try:
            yield
        except (KeyboardInterrupt, DemoFailed):
            raise
        except Exception as exc:
            raise DemoFailed(f"step {self.done} ({title}) failed: {exc}\n  read: {log}") from exc
        console.print(f"      [green]done[/green] in {time.monotonic() - started:.1f}s")


async def _shard_counts(client: httpx.AsyncClient, stack: LocalStack) -> dict[str, int]:
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


async def _fallback_orders(client: httpx.AsyncClient, stack: LocalStack, region: str) -> int:
    """Orders of ``region`` that other shards took (its fallback orders so far)."""
    total = 0
    for other, url in stack.node_urls.items():
        if other == region:
            continue
        with contextlib.suppress(httpx.HTTPError):
            response = await client.get(f"{url}/orders", params={"region": region, "limit": 1000})
            total += len(response.json()["orders"])
    return total


async def _chaos(stack: LocalStack, options: DemoOptions, chaos: Chaos, planned: int) -> None:
    """Kill the node once a share of phase 1 is committed; restart it once fallbacks happened.

    Progress, not the clock, decides when: Airflow's pace depends on the machine, and the point
    is to show orders committed before the kill, on fallbacks during it, and at home after it.
    The outage stays shorter than the DAG's retry budget, so an order whose request was cut off
    by the kill is retried on its own node instead of being given up.
    """
    region = options.kill_region
    last: dict[str, int] = {}
    async with httpx.AsyncClient(timeout=2.0, headers=stack.auth_headers()) as client:
        base = sum((await _shard_counts(client, stack)).values())

        async def committed() -> int:
            last.update(await _shard_counts(client, stack))
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
        fallback_base = await _fallback_orders(client, stack, region)
        while True:
            down = time.monotonic() - killed
            if down >= options.max_down_s:
                break
            if down >= options.down_s:
                fallbacks = await _fallback_orders(client, stack, region) - fallback_base
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


def _stress_config(
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


async def _phase_one(stack: LocalStack, options: DemoOptions, chaos: Chaos) -> RunOutcome:
    config = _stress_config(
        stack, options, "per-order", rate=options.rate, duration=options.seconds, orders=None
    )
    planned = config.planned_orders() or 0
    chaos_task = asyncio.create_task(_chaos(stack, options, chaos, planned))

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
                for order in await list_orders(session, url, prefix):
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


def _phase_row(name: str, report: dict[str, Any]) -> dict[str, Any]:
    verify = report.get("verify") or {}
    totals = report["totals"]
    return {
        "phase": name,
        "orders": totals["orders"],
        "committed": totals["committed"],
        "invalid_rejected": totals["invalid_rejected"],
        "failed": totals["failed"],
        "success_rate": report["success_rate"],
        "orders_per_s": report["committed_per_s"],
        "p50_ms": report["latency_ms"].get("p50"),
        "p99_ms": report["latency_ms"].get("p99"),
        "fallbacks": report["fallbacks"]["count"],
        "lost": verify.get("lost"),
        "duplicated": verify.get("duplicated"),
        "passed": report["passed"],
    }


def print_summary(result: DemoResult) -> None:
    table = Table(title="Demo summary", title_justify="left")
    table.add_column("")
    for phase in result.phases:
        table.add_column(phase["phase"], justify="right")
    rows = [
        ("orders sent", "orders"),
        ("committed on a warehouse", "committed"),
        ("invalid, refused", "invalid_rejected"),
        ("failed", "failed"),
        ("success rate", "success_rate"),
        ("committed orders/s", "orders_per_s"),
        ("latency p50 / p99 ms", "latency"),
        ("fallbacks used", "fallbacks"),
        ("lost (verify)", "lost"),
        ("duplicated (verify)", "duplicated"),
    ]
    for label, key in rows:
        if key == "latency":
            cells = [f"{p['p50_ms']:.0f} / {p['p99_ms']:.0f}" for p in result.phases]
        elif key == "success_rate":
            cells = [f"{p[key]:.2%}" for p in result.phases]
        else:
            cells = [str(p[key]) for p in result.phases]
        table.add_row(label, *cells)
    console.print(table)
    chaos, story = result.chaos, result.story
    detected = f"{chaos.detected_s:.2f}s" if chaos.detected_s is not None else "-"
    rejoin = f"{chaos.rejoin_s:.2f}s" if chaos.rejoin_s is not None else "-"
    console.print(
        f"Warehouse {chaos.region} killed: routing noticed in {detected}; after the restart it "
        f"rejoined (ready in routing) in {rejoin}."
    )
    spread = ", ".join(f"{k}: {v}" for k, v in sorted(story.fallback_warehouses.items())) or "-"
    console.print(
        f"{chaos.region} orders — before the kill on {chaos.region}: {story.before_kill_home}; "
        f"while it was down on fallbacks: {story.while_down_on_fallback} ({spread}), "
        f"on {chaos.region} (retried until it was back): {story.while_down_home}; "
        f"after it rejoined on {chaos.region}: {story.after_rejoin_home}."
    )
    lost = sum(p["lost"] or 0 for p in result.phases)
    duplicated = sum(p["duplicated"] or 0 for p in result.phases)
    states = ", ".join(f"{n} {state}" for state, n in sorted(result.airflow_runs.items()))
    console.print(f"Airflow order_workflow runs: {states or 'none'}")
    verdict = "[green]PASSED[/green]" if result.passed else "[red]FAILED[/red]"
    console.print(f"Verification: lost {lost}, duplicated {duplicated} — {verdict}")
    shown = result.report_path
    with contextlib.suppress(ValueError):
        shown = shown.relative_to(Path.cwd())
    console.print(f"Report: {shown} (plots beside it)")


async def _run_phases(stack: LocalStack, options: DemoOptions, steps: Steps) -> DemoResult:
    chaos = Chaos(region=options.kill_region)
    outcomes: list[tuple[str, RunOutcome]] = []
    planned = round(options.rate * options.seconds)
    title = (
        f"phase 1: {planned} orders, one DAG run each, {options.rate:g}/s; "
        f"{options.kill_region} killed once {options.kill_at:.0%} are committed"
    )
    with steps(title, stack.log_dir):
        outcome = await _phase_one(stack, options, chaos)
        print_report(outcome.report, console)
        outcomes.append(("per-order", outcome))
    if options.batch_orders > 0:
        title = (
            f"phase 2: {options.batch_orders} orders in DAG runs of {options.batch_size}, "
            f"{options.invalid_ratio:.0%} deliberately invalid"
        )
        with steps(title, stack.log_dir):
            config = _stress_config(
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
    prefixes = [o.report["run_id"] for _, o in outcomes]
    story = await region_story(stack, chaos, prefixes)
    changes = [json.loads(line) for line in stack.routing_history.read_text().splitlines()]
    assert stack.airflow is not None
    with stack.airflow.client() as airflow:
        runs = await asyncio.to_thread(airflow.run_states, DAG_ID)
    result = DemoResult(
        chaos=chaos,
        story=story,
        phases=[_phase_row(name, o.report) for name, o in outcomes],
        routing_changes=changes,
        airflow_runs=runs,
        report_path=options.state_dir / "report.json",
    )
    write_report(
        {
            "schema": "orders-demo/report/v1",
            "passed": result.passed,
            "chaos": chaos.to_json(),
            "killed_region_orders": asdict(story),
            "phases": result.phases,
            "routing_changes": changes,
            "airflow_runs": runs,
            "stress_reports": {name: o.report for name, o in outcomes},
        },
        result.report_path,
    )
    return result


def run_demo(options: DemoOptions) -> DemoResult:
    """Start everything, run both phases, stop everything; the result says what happened."""
    options.state_dir = options.state_dir.resolve()
    if options.state_dir.exists():
        shutil.rmtree(options.state_dir)  # each run starts from empty shards
    options.state_dir.mkdir(parents=True)
    steps = Steps(total=5 if options.batch_orders > 0 else 4)
    with local_stack(options.state_dir, retry_delay_s=options.retry_delay_s, step=steps) as stack:
        result = asyncio.run(_run_phases(stack, options, steps))
        print_summary(result)
        if options.keep:
            _show_and_wait(stack)
    return result


def _show_and_wait(stack: LocalStack) -> None:
    assert stack.airflow is not None
    console.print("\n[bold]Everything is still running (--keep):[/bold]")
    console.print(
        f"  Airflow UI   {stack.airflow.url}   login {stack.airflow.username} / "
        f"{stack.airflow.password}"
    )
    for region, url in stack.node_urls.items():
        console.print(f"  warehouse {region:<4} {url}   (Bearer token: {stack.node_token})")
    console.print(f"  routing      {stack.routing_url}")
    console.print(f"  logs         {stack.log_dir}")
    console.print("Press Ctrl-C to stop everything.")
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            time.sleep(1)


def parse_args(argv: list[str] | None) -> DemoOptions:
    defaults = DemoOptions()
    parser = argparse.ArgumentParser(prog="orders-demo", description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--state-dir", type=Path, default=defaults.state_dir, help="data, logs and reports")
    add("--kill", dest="kill_region", default=defaults.kill_region, help="region to kill")
    add("--rate", type=float, default=defaults.rate, help="phase 1 DAG runs per second")
    add("--seconds", type=float, default=defaults.seconds, help="phase 1 length")
    add("--down", dest="down_s", type=float, default=defaults.down_s, help="min seconds down")
    add("--max-down", dest="max_down_s", type=float, default=defaults.max_down_s)
    add("--batch-orders", type=int, default=defaults.batch_orders, help="phase 2 orders (0: skip)")
    add("--batch-size", type=int, default=defaults.batch_size, help="phase 2 orders per run")
    add("--retry-delay", dest="retry_delay_s", type=float, default=defaults.retry_delay_s)
    add("--seed", type=int, default=defaults.seed)
    add("--keep", action="store_true", help="leave everything running until Ctrl-C")
    args = parser.parse_args(argv)
    options = DemoOptions(**vars(args))
    options.kill_region = normalize_region(options.kill_region)
    if options.kill_region not in configured_regions():
        parser.error(f"--kill {args.kill_region!r}: not one of {', '.join(configured_regions())}")
    for name in ("rate", "seconds", "down_s", "max_down_s", "retry_delay_s"):
        if getattr(options, name) <= 0:
            parser.error(f"--{name.removesuffix('_s').replace('_', '-')} must be positive")
    if not 1 <= options.batch_size <= 500 or options.batch_orders < 0:
        parser.error("--batch-size must be 1..500 and --batch-orders 0 or more")
    if options.max_down_s >= 3 * options.retry_delay_s:
        parser.error("--max-down must stay below the DAG's retry budget (3 x --retry-delay)")
    return options


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    options = parse_args(argv)
    # SIGTERM (e.g. from a process manager) cleans up exactly like Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        result = run_demo(options)
    except KeyboardInterrupt:
        console.print("\n[yellow]interrupted: everything the demo started is stopped[/yellow]")
        sys.exit(130)
    except DemoFailed as exc:
        console.print(f"[red]orders-demo: {exc}[/red]")
        sys.exit(1)
    sys.exit(0 if result.passed else 1)


if __name__ == "__main__":
    main()
