"""The demo's options: ``orders-demo``'s flags, their defaults and their checks."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from order_contracts.regions import configured_regions, normalize_region
from order_contracts.version import add_version_flag

from .airflow_settings import AirflowSettings

DESCRIPTION = (
    "``orders-demo`` (``make demo``): the whole system on one machine, a node killed midway, "
    "and (with replication) a node and its disk lost and restored from its replica."
)
#: ``--lose-disk none`` skips the disk-loss phase
NO_REGION = "none"


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
    #: every node streams to a file:// replica (sync acks) and has a read follower
    replication: bool = True
    #: disk-loss phase (needs replication; None: skipped): orders straight to the nodes at
    #: disk_loss_rate/s for disk_loss_seconds; the region's node and disk are lost once
    #: disk_loss_at of them are committed, and it stays down disk_loss_down_s
    lose_disk_region: str | None = "HN"
    disk_loss_rate: float = 20.0
    disk_loss_seconds: float = 30.0
    disk_loss_at: float = 0.3
    disk_loss_down_s: float = 8.0
    #: every node, follower and routing-source hop over HTTPS with a throwaway CA (docs/tls.md)
    tls: bool = False
    #: Airflow's tuning (None: the tuned defaults); the suite runs a lighter one
    airflow: AirflowSettings | None = None


def parse_args(argv: list[str] | None) -> DemoOptions:
    defaults = DemoOptions()
    parser = argparse.ArgumentParser(prog="orders-demo", description=DESCRIPTION)
    add_version_flag(parser)
    add = parser.add_argument
    add("--state-dir", type=Path, default=defaults.state_dir, help="data, logs and reports")
    add("--kill", dest="kill_region", default=defaults.kill_region, help="region to kill")
    add("--rate", type=float, default=defaults.rate, help="phase 1 DAG runs per second")
    add("--seconds", type=float, default=defaults.seconds, help="phase 1 length")
    add("--down", dest="down_s", type=float, default=defaults.down_s, help="min seconds down")
    add(
        "--max-down",
        dest="max_down_s",
        type=float,
        default=defaults.max_down_s,
        help="longest seconds the killed node stays down (below 3 x --retry-delay)",
    )
    add("--batch-orders", type=int, default=defaults.batch_orders, help="phase 2 orders (0: skip)")
    add("--batch-size", type=int, default=defaults.batch_size, help="phase 2 orders per run")
    add(
        "--retry-delay",
        dest="retry_delay_s",
        type=float,
        default=defaults.retry_delay_s,
        help="seconds between the DAG's tries of one order",
    )
    add("--seed", type=int, default=defaults.seed, help="random seed: the same seed, same orders")
    add("--keep", action="store_true", help="leave everything running until Ctrl-C")
    add(
        "--replication",
        choices=("on", "off"),
        default="on" if defaults.replication else "off",
        help="every node replicates its shard to a file:// Litestream replica (sync) and has a "
        "read follower; off: no replica, no follower, no disk-loss phase (default on)",
    )
    add(
        "--lose-disk",
        dest="lose_disk_region",
        default=None,
        metavar="REGION",
        help="region whose node is killed and its data directory deleted in the disk-loss "
        f"phase, then restored from its replica; {NO_REGION!r} skips the phase (default "
        f"{defaults.lose_disk_region}; {NO_REGION} with --replication off)",
    )
    add(
        "--disk-loss-rate",
        type=float,
        default=defaults.disk_loss_rate,
        help=f"disk-loss phase: orders per second sent straight to the nodes "
        f"(default {defaults.disk_loss_rate:g})",
    )
    add(
        "--disk-loss-seconds",
        type=float,
        default=defaults.disk_loss_seconds,
        help=f"disk-loss phase length (default {defaults.disk_loss_seconds:g})",
    )
    add(
        "--disk-loss-down",
        dest="disk_loss_down_s",
        type=float,
        default=defaults.disk_loss_down_s,
        help="seconds the node stays lost (its follower serves reads meanwhile) before it is "
        "restarted and restores; it must end before the phase does "
        f"(default {defaults.disk_loss_down_s:g})",
    )
    add(
        "--tls",
        action="store_true",
        help="serve nodes and the routing source over HTTPS with a throwaway CA made in the "
        "state dir; every client trusts only that CA",
    )
    args = parser.parse_args(argv)
    values = vars(args) | {"replication": args.replication == "on"}
    options = DemoOptions(**values)
    regions = configured_regions()
    options.kill_region = normalize_region(options.kill_region)
    if options.kill_region not in regions:
        parser.error(f"--kill {args.kill_region!r}: not one of {', '.join(regions)}")
    _check_disk_loss(parser, options, args.lose_disk_region, regions)
    for name in ("rate", "seconds", "down_s", "max_down_s", "retry_delay_s"):
        if getattr(options, name) <= 0:
            parser.error(f"--{name.removesuffix('_s').replace('_', '-')} must be positive")
    if not 1 <= options.batch_size <= 500 or options.batch_orders < 0:
        parser.error("--batch-size must be 1..500 and --batch-orders 0 or more")
    if options.max_down_s >= 3 * options.retry_delay_s:
        parser.error("--max-down must stay below the DAG's retry budget (3 x --retry-delay)")
    return options


def _check_disk_loss(
    parser: argparse.ArgumentParser,
    options: DemoOptions,
    given: str | None,
    regions: tuple[str, ...],
) -> None:
    """``--lose-disk`` names a region (or none) and needs replication; its knobs fit."""
    if given is None:  # not given: the default phase, or none without replication
        given = DemoOptions.lose_disk_region or NO_REGION if options.replication else NO_REGION
    if given.strip().lower() == NO_REGION:
        options.lose_disk_region = None
        return
    region = normalize_region(given)
    if region not in regions:
        parser.error(f"--lose-disk {given!r}: not one of {', '.join(regions)} or {NO_REGION}")
    if not options.replication:
        parser.error(
            f"--lose-disk {region} needs --replication on: without a replica a lost disk loses "
            f"its orders (pass --lose-disk {NO_REGION} to skip the phase)"
        )
    options.lose_disk_region = region
    for flag, value in (
        ("--disk-loss-rate", options.disk_loss_rate),
        ("--disk-loss-seconds", options.disk_loss_seconds),
        ("--disk-loss-down", options.disk_loss_down_s),
    ):
        if not value > 0:
            parser.error(f"{flag} must be positive")
    if options.disk_loss_down_s >= options.disk_loss_seconds * (1 - options.disk_loss_at):
        longest = options.disk_loss_seconds * (1 - options.disk_loss_at)
        parser.error(
            f"--disk-loss-down must end before the phase does: below {longest:g} s "
            f"({1 - options.disk_loss_at:.0%} of --disk-loss-seconds)"
        )
