"""``orders-chaos``: inject real faults under load, then prove nothing was lost or duplicated.

Starts its own system (local mode's nodes, each behind a fault proxy, the routing source, and
with ``--target airflow`` PostgreSQL + Airflow) in ``--state-dir``, runs the campaign, prints a
table per fault kind, writes the JSON report (and the timeline plot with ``--plot``) and stops
everything again. Exit status: 0 nothing lost or duplicated, 1 a loss or a duplicate (or a
refused order stored, or a shard that could not be read), 2 the campaign could not run as
asked, 130 interrupted (Ctrl-C or SIGTERM: the faults in place are healed, the shards still
checked).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import signal
import sys
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from order_contracts.version import add_version_flag
from stress.config import parse_rate

from .campaign import Campaign, CampaignError, CampaignResult
from .cluster import ClusterError, chaos_cluster, unmount
from .faults import replication_supported
from .plan import FAULT_KINDS, CampaignOptions, UsageError, parse_faults, parse_range
from .report import build_report, print_report, write_report

EXIT_USAGE = 2
#: marks a state directory as ours, so a second run may wipe it
MARKER = ".orders-chaos"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def build_parser() -> argparse.ArgumentParser:
    d = CampaignOptions()
    p = _Parser(prog="orders-chaos", description=__doc__.split("\n\n")[0])
    add_version_flag(p)
    p.add_argument("--trials", type=_int, default=d.trials, help=f"faults to inject ({d.trials})")
    p.add_argument("--seed", type=_int, default=d.seed, help="same seed, same campaign")
    p.add_argument(
        "--faults",
        default=",".join(d.faults),
        help=f"comma-separated kinds, cycled through in a seeded order ({', '.join(FAULT_KINDS)})",
    )
    p.add_argument(
        "--target",
        choices=("nodes", "airflow"),
        default=d.target,
        help=f"send orders to the nodes or through Airflow ({d.target})",
    )
    p.add_argument("--rate", default=str(d.rate), help=f"orders per second, open loop ({d.rate:g})")
    p.add_argument("--window", default="2-5", help="fault duration in seconds, LOW-HIGH (2-5)")
    p.add_argument("--lead", default="1-3", help="quiet seconds before each fault (1-3)")
    p.add_argument("--slow", type=_float, default=d.slow_s, help="slow: added s per chunk (0.5)")
    p.add_argument("--batch-size", type=_int, default=d.batch_size, help="orders per DAG run")
    p.add_argument(
        "--invalid-ratio",
        type=_float,
        default=d.invalid_ratio,
        help=f"share of deliberately invalid orders ({d.invalid_ratio:g})",
    )
    p.add_argument("--timeout", type=_float, default=d.timeout, help="node request timeout s")
    p.add_argument("--disk-size", default=d.disk_size, help="tmpfs per node for disk-full (64m)")
    p.add_argument("--state-dir", type=Path, default=d.state_dir, help="data and logs (.chaos)")
    p.add_argument("--report", type=Path, default=d.report, help="JSON report path")
    p.add_argument("--plot", type=Path, default=None, help="timeline PNG path")
    p.add_argument(
        "--replication",
        choices=("auto", "on", "off"),
        default="auto",
        help="give every node a Litestream replica (auto: when the node supports it)",
    )
    p.add_argument(
        "--self-check",
        action="store_true",
        help="disk-loss with replication off: the checker must report lost orders (exit 1)",
    )
    return p


def parse_options(argv: list[str] | None) -> CampaignOptions:
    args = build_parser().parse_args(argv)
    try:
        rate = parse_rate(args.rate)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    faults = ("disk-loss",) if args.self_check else parse_faults(args.faults)
    options = CampaignOptions(
        trials=args.trials,
        seed=args.seed,
        faults=faults,
        target=args.target,
        rate=rate,
        window=parse_range("--window", args.window),
        lead=parse_range("--lead", args.lead),
        slow_s=args.slow,
        batch_size=args.batch_size,
        invalid_ratio=args.invalid_ratio,
        timeout=args.timeout,
        disk_size=args.disk_size.lower(),
        state_dir=args.state_dir,
        report=args.report,
        plot=args.plot,
        self_check=args.self_check,
    )
    options.validate()
    return replace(options, replication=args.replication)


#: signals that stop a campaign the way Ctrl-C does
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def prepare_state_dir(path: Path) -> Path:
    """An empty state directory; refuses to wipe one that a campaign did not create."""
    path = path.resolve()
    if path.exists() and any(path.iterdir()):
        if not (path / MARKER).exists():
            raise UsageError(f"--state-dir {path}: not empty and not an orders-chaos directory")
        data = path / "data"
        if data.exists():  # a campaign that died may have left its tmpfs mounts
            for mount in data.iterdir():
                unmount(mount)
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / MARKER).write_text("state of an orders-chaos campaign; removed by the next one\n")
    return path


async def _run(options: CampaignOptions, console: Console, replication: bool) -> CampaignResult:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def first_interrupt() -> None:
        console.print("[yellow]stopping: healing the fault in place, then checking the shards[/]")
        stop.set()
        # A second Ctrl-C or SIGTERM aborts: KeyboardInterrupt unwinds every context manager,
        # so the faults are still undone (a SIGTERM left at its default would skip that).
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)
            signal.signal(signum, signal.default_int_handler)

    # SIGTERM (a `kill`, systemd, a CI runner's timeout) is a Ctrl-C: the campaign's processes
    # are its children, and only this process knows which fault is in place.
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, first_interrupt)
    try:
        with chaos_cluster(
            options.state_dir,
            airflow=options.target == "airflow",
            tmpfs_size=options.disk_size if "disk-full" in options.faults else None,
            replication=replication,
        ) as cluster:
            console.print(
                f"system up: {', '.join(cluster.regions)} behind fault proxies; "
                f"{options.trials} trials of {', '.join(options.faults)} at {options.rate:g}/s"
            )
            return await Campaign(cluster, options, console, replication, stop).run()
    finally:
        for signum in STOP_SIGNALS:
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(signum)


def main(argv: list[str] | None = None) -> int:
    console = Console(stderr=True, highlight=False)
    if not console.is_terminal:  # a log or a pipe: wide enough for the table
        console = Console(stderr=True, highlight=False, width=160)
    try:
        options = parse_options(argv)
        options = _with_state_dir(options)
    except UsageError as exc:
        console.print(f"orders-chaos: error: {exc}", soft_wrap=True)
        return EXIT_USAGE
    supported = replication_supported()
    if options.replication == "on" and not supported:
        console.print("orders-chaos: error: --replication on: this node has no NODE_REPLICA_URL")
        return EXIT_USAGE
    replication = options.replication != "off" and supported and not options.self_check
    try:
        result = asyncio.run(_run(options, console, replication))
    except (CampaignError, ClusterError, TimeoutError, RuntimeError) as exc:
        console.print(f"orders-chaos: error: {exc}", soft_wrap=True)
        return EXIT_USAGE
    except KeyboardInterrupt:
        console.print("orders-chaos: aborted; every injected fault was undone")
        return 130
    report = build_report(result, replication)
    if options.report is not None:
        write_report(report, options.report)
    if options.plot is not None:
        from .plot import write_timeline

        write_timeline(result, options.plot)
    print_report(report, console)
    if options.self_check:
        lost = report["verification"]["lost"]
        console.print(
            f"self-check: the checker reported {lost} lost orders after disk-loss without "
            f"replication ({'as it must' if lost else '[red]it must report some[/]'})"
        )
    return result.exit_code


def _with_state_dir(options: CampaignOptions) -> CampaignOptions:
    return replace(options, state_dir=prepare_state_dir(options.state_dir))


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
