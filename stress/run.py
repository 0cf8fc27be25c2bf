"""One stress run from start to verdict: generate, send, measure, verify, report.

This is the Python API (the local demo calls :func:`run_stress`); the CLI only parses flags
into a :class:`~stress.config.StressConfig` and maps the verdict to an exit code.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from rich.console import Console

from order_contracts.source import RoutingSourceError, load_routing_document

from .config import StressConfig
from .engine import Lanes, Unit, run_closed, run_open, run_scheduled, units_of
from .errors import StressError
from .html_report import write_html
from .orders import GeneratedOrder, OrderGenerator
from .plot import write_plot
from .progress import live_progress
from .report import build_report, print_report, write_report
from .results import OrderResult, Recorder
from .results_csv import write_csv
from .stages import schedule, stage_figures, total_duration
from .stats import compute
from .thresholds import check_bars
from .verify import Verification, check, verify

#: --verify reads orders created since the run started minus this (clock differences)
VERIFY_CLOCK_MARGIN_S = 600.0
#: runs up to this many orders build them all before the clock starts (about 1 KB each)
PREBUILD_MAX = 200_000
#: exit codes: the run passed / it ran but missed the bar / it could not run as asked
EXIT_PASSED, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


@dataclass
class RunOutcome:
    report: dict[str, Any]
    results: list[OrderResult]
    verification: Verification | None
    #: the run's clock zero (``time.monotonic()``): results' times are seconds after it, so an
    #: outside event (a fault a test injected) can be placed on the same axis
    t0: float = 0.0

    @property
    def passed(self) -> bool:
        return bool(self.report["passed"])

    @property
    def exit_code(self) -> int:
        if self.report.get("interrupted"):
            return EXIT_INTERRUPTED
        return EXIT_PASSED if self.passed else EXIT_FAILED


def _target(config: StressConfig, recorder: Recorder) -> Any:
    if config.target == "nodes":
        from .targets.nodes import NodesTarget
        from .targets.nodes_bulk import BulkNodesTarget

        kind = BulkNodesTarget if config.bulk > 1 else NodesTarget
        return kind(
            recorder,
            config.routing,
            token=config.node_token,
            timeout=config.timeout,
            health_ttl=config.health_ttl,
            max_attempts=config.max_attempts,
            connections=config.senders,
        )
    from .targets.airflow import AirflowTarget

    return AirflowTarget(recorder, config)


async def _node_urls(config: StressConfig, target: Any) -> dict[str, str]:
    """Where ``--verify`` reads: the nodes the run used, else the routing document's."""
    if hasattr(target, "node_urls"):
        with contextlib.suppress(AssertionError):
            return dict(target.node_urls())
    document = await asyncio.to_thread(load_routing_document, config.routing)
    return {region: route.url for region, route in document.regions.items()}


async def _check_verifiable(config: StressConfig) -> None:
    """Through Airflow, ``--verify`` needs the routing document: fail before the run, not after."""
    if config.verify and config.target == "airflow":
        try:
            await asyncio.to_thread(load_routing_document, config.routing)
        except RoutingSourceError as exc:
            raise StressError(f"--verify needs the nodes' addresses: {exc}") from exc


def _lanes(config: StressConfig) -> Lanes | None:
    """Per-node in-flight limits: a lane per home region (``StressConfig.lane_limits``)."""
    limits = config.lane_limits()
    if limits is None:
        return None
    return Lanes(key=lambda unit: unit[0].region, limits=limits)


async def _drive(
    config: StressConfig, units: Iterable[Unit], send: Any, recorder: Recorder
) -> None:
    """The engine the flags ask for: stages, a fixed rate, or the closed loop."""
    lanes = _lanes(config)
    if config.stages is not None:
        await run_scheduled(
            schedule(config.stages, iter(units)), send, recorder, config.senders, lanes
        )
        # the run lasts the stages' whole time, even when the last ones send nothing
        remaining = recorder.t0 + total_duration(config.stages) - time.monotonic()
        if remaining > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(recorder.stop.wait(), remaining)
    elif config.rate is not None:
        await run_open(units, send, config.rate / config.unit_size, recorder, config.senders, lanes)
    else:
        await run_closed(units, send, config.concurrency, recorder, config.duration, lanes)


async def run_stress(
    config: StressConfig,
    console: Console | None = None,
    before_verify: Callable[[], Awaitable[None]] | None = None,
    stop: asyncio.Event | None = None,
) -> RunOutcome:
    """Run ``config`` and return the report; the caller decides what a failure means.

    ``before_verify`` runs after the last order and before ``--verify`` reads the shards: the
    demo waits there for a node it killed to rejoin (its shard must be readable to prove nothing
    was lost), and a test tampers with a shard there to prove verification notices.
    Setting ``stop`` ends the sending early; the orders in flight finish and are reported, and
    the report says ``interrupted``.
    """
    console = console or Console(stderr=True)
    await _check_verifiable(config)
    generator = OrderGenerator(config.run_id, config.region_mix, config.invalid_ratio, config.seed)
    planned = config.planned_orders()
    # Orders are built before the clock starts, so generation never slows the sending down;
    # only a run too long to hold them all in memory builds them as it goes.
    orders: Iterable[GeneratedOrder]
    if planned is not None and planned <= PREBUILD_MAX:
        orders = generator.take(planned)
    else:
        orders = islice(generator, planned)
    recorder = Recorder(stop=stop or asyncio.Event())
    target = _target(config, recorder)
    async with target:
        # Everything built so far (the orders, imported modules) lives until the end; frozen, the
        # garbage collector stops rescanning it, which otherwise pauses the loop for 100+ ms at
        # a time and shows up as latency the system under test never caused.
        gc.collect()
        gc.freeze()
        recorder.t0, recorder.started_at = time.monotonic(), time.time()
        units: Iterable[Unit] = units_of(orders, config.unit_size)
        counters = lambda: (recorder.sent, recorder.committed, recorder.rejected, recorder.failed)  # noqa: E731
        async with live_progress(counters, planned, console, enabled=config.progress):
            await _drive(config, units, target.send, recorder)
        node_urls: dict[str, str] = {}
        unreadable: dict[str, str] = {}
        if config.verify:
            try:
                node_urls = await _node_urls(config, target)
            except RoutingSourceError as exc:  # the run happened: report it, verification failed
                unreadable["routing document"] = str(exc)
    gc.unfreeze()
    results = sorted(recorder.results, key=lambda r: r.index)
    stats = compute(results, recorder.send_lags)
    verification = None
    if config.verify:
        if before_verify is not None:
            await before_verify()
        since = datetime.fromtimestamp(recorder.started_at - VERIFY_CLOCK_MARGIN_S, UTC)
        if unreadable:
            verification = check(results, {}, unreadable)
        else:
            verification = await verify(
                results, node_urls, config.run_id, config.node_token, since=since
            )
    bars = check_bars(stats, config.max_p99_ms, config.max_failed)
    passed = stats.orders > 0 and stats.success_rate >= config.min_success
    passed = passed and (verification is None or verification.ok)
    passed = passed and all(bar.ok for bar in bars)
    interrupted = recorder.stop.is_set()
    report = build_report(
        config, stats, recorder.started_at, verification, passed and not interrupted
    )
    report["thresholds"] = [bar.to_json() for bar in bars]
    report["interrupted"] = interrupted
    report["stages"] = stage_figures(config.stages, results) if config.stages else None
    if config.report is not None and not config.report_to_stdout:
        write_report(report, config.report)
    if config.csv is not None:
        write_csv(results, config.csv, config.stages)
    title = f"orders-stress {config.run_id}: {config.target}, {config.mode} loop"
    if config.plot is not None:
        write_plot(results, config.plot, title)
    if config.html is not None:
        write_html(report, results, config.html, title)
    return RunOutcome(report, results, verification, recorder.t0)


async def _interruptible(config: StressConfig, console: Console) -> RunOutcome:
    """The first Ctrl-C stops sending and still reports; a second one aborts."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def first_interrupt() -> None:
        console.print("[yellow]stopping: finishing the orders in flight (Ctrl-C again aborts)[/]")
        stop.set()
        loop.remove_signal_handler(signal.SIGINT)  # the next Ctrl-C is a KeyboardInterrupt

    loop.add_signal_handler(signal.SIGINT, first_interrupt)
    try:
        return await run_stress(config, console, stop=stop)
    finally:
        loop.remove_signal_handler(signal.SIGINT)


def run_and_print(config: StressConfig, console: Console) -> RunOutcome:
    """The CLI's path: run on uvloop when available, then print the tables."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard] on Linux
        outcome = asyncio.run(_interruptible(config, console))
    else:
        outcome = uvloop.run(_interruptible(config, console))
    print_report(outcome.report, console)
    outputs = (
        ("report", config.report),
        ("csv", config.csv),
        ("plot", config.plot),
        ("html", config.html),
    )
    for what, path in outputs:
        if path is not None and str(path) != "-":
            # one line, as is: a wrapped path cannot be copied, and "[" is no markup here
            console.print(f"{what}: {path}", soft_wrap=True, markup=False, highlight=False)
    if config.report_to_stdout:  # stdout is the JSON alone; the tables went to stderr
        sys.stdout.write(json.dumps(outcome.report, separators=(",", ":")) + "\n")
        sys.stdout.flush()
    return outcome
