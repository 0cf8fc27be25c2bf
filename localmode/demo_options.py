"""The demo's options: ``orders-demo``'s flags, their defaults and their checks."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from order_contracts.regions import configured_regions, normalize_region
from order_contracts.version import add_version_flag

from .airflow_settings import AirflowSettings

DESCRIPTION = (
    "``orders-demo`` (``make demo``): the whole system on one machine, a node killed midway."
)


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
