"""``orders-stress``: the command line. Flags in, a report and an exit code out.

Exit codes: 0 the run passed; 1 it ran but the success rate was under ``--min-success`` or
``--verify`` found a lost, duplicated or wrongly stored order; 2 it could not run as asked (a
bad flag, an unreadable routing document, Airflow unreachable) — always with a one-line message.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from typer.exceptions import TyperException

from order_contracts import envvars
from order_contracts.source import RoutingSourceError
from order_contracts.version import version_line

from .cli_options import NodeTokenOption, RoutingOption
from .config import (
    StressConfig,
    new_run_id,
    parse_duration,
    parse_rate,
    parse_region_mix,
    parse_stages,
)
from .errors import StressError
from .plot import PLOT_EXTRA_HINT, plotting_available
from .run import EXIT_USAGE, run_and_print
from .verify_cli import verify_app

PROG = "orders-stress"
#: formats ``--plot`` writes (matplotlib picks it from the suffix)
PLOT_SUFFIXES = (".png", ".svg")
T = TypeVar("T")


class TargetName(StrEnum):
    airflow = "airflow"
    nodes = "nodes"


app = typer.Typer(add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False)


def _parsed(parser: Callable[[str], T], value: str) -> T:
    """Run a config parser; its ValueError (which names the flag) becomes a usage error."""
    try:
        return parser(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _show_version(value: bool) -> None:
    if value:
        print(version_line(PROG))
        raise typer.Exit(0)


@app.command(
    help="Load the order system through Airflow or straight to the warehouse nodes. "
    "`orders-stress verify RESULTS.csv` checks a finished run's orders again later."
)
def stress(
    orders: Annotated[
        int | None,
        typer.Option(min=1, help="orders to send [default: 1000, or as many as --duration allows]"),
    ] = None,
    concurrency: Annotated[
        int, typer.Option(min=1, help="closed loop: orders (or batches) in flight at once")
    ] = 10,
    endpoint: Annotated[
        str,
        typer.Option(envvar="AIRFLOW_API_URL", help="Airflow API base URL (--target airflow)"),
    ] = "http://localhost:8080",
    target: Annotated[
        TargetName,
        typer.Option(envvar="STRESS_TARGET", help="through Airflow's REST API, or to the nodes"),
    ] = TargetName.airflow,
    rate: Annotated[
        str | None,
        typer.Option(help="open loop: fixed arrival rate, e.g. 200/s (latency from intended send)"),
    ] = None,
    duration: Annotated[
        str | None,
        typer.Option(help="how long to send, e.g. 30s or 2m (open loop: rate x duration orders)"),
    ] = None,
    stages: Annotated[
        str | None,
        typer.Option(
            help="open loop in steps DURATION:RATE, e.g. 10s:100,30s:500,10s:0 "
            "(instead of --rate/--duration)"
        ),
    ] = None,
    in_flight_per_node: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="nodes: orders in flight at most per node (home region) "
            "[default: its share of --concurrency]",
        ),
    ] = None,
    batch_size: Annotated[
        int, typer.Option(min=1, max=2000, help="Airflow: orders per DAG run (conf.orders)")
    ] = 1,
    bulk: Annotated[
        int,
        typer.Option(min=1, max=100_000, help="nodes: orders per POST /orders (1: POST /order)"),
    ] = 1,
    regions: Annotated[
        str | None,
        typer.Option(help="region mix, e.g. HCM=0.5,HN=0.3,DN=0.2 [default: equal shares]"),
    ] = None,
    invalid_ratio: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="share of deliberately invalid orders")
    ] = 0.0,
    seed: Annotated[int, typer.Option(help="random seed: the same seed, the same orders")] = 0,
    run_id: Annotated[
        str | None, typer.Option(help="prefix of every order id [default: random]")
    ] = None,
    airflow_user: Annotated[
        str, typer.Option(envvar="AIRFLOW_USERNAME", help="Airflow API user (--target airflow)")
    ] = "admin",
    airflow_password: Annotated[
        str, typer.Option(envvar="AIRFLOW_PASSWORD", help="Airflow API password")
    ] = "admin",  # noqa: S107
    node_token: NodeTokenOption = None,
    routing: RoutingOption = None,
    report: Annotated[Path | None, typer.Option(help="JSON report file ('-': stdout)")] = None,
    plot: Annotated[
        Path | None, typer.Option(help="write the latency plot here (.png or .svg)")
    ] = None,
    html: Annotated[
        Path | None,
        typer.Option(help="one self-contained HTML report: tables, bars, verification, plots"),
    ] = None,
    verify: Annotated[
        bool,
        typer.Option("--verify", help="afterwards, check each acknowledged order is stored once"),
    ] = False,
    min_success: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="exit 1 when the success rate is lower")
    ] = 0.99,
    max_p99: Annotated[
        float | None,
        typer.Option(min=0.0, help="exit 1 when p99 latency of committed orders is above (ms)"),
    ] = None,
    max_failed: Annotated[
        int | None, typer.Option(min=0, help="exit 1 when more orders than this failed")
    ] = None,
    csv: Annotated[
        Path | None, typer.Option(help="per-order results as CSV (one row per order sent)")
    ] = None,
    timeout: Annotated[float, typer.Option(min=0.1, help="seconds per HTTP request")] = 10.0,
    run_timeout: Annotated[
        float, typer.Option(min=1.0, help="Airflow: seconds to wait for one DAG run")
    ] = 600.0,
    health_ttl: Annotated[
        float, typer.Option(min=0.05, help="nodes: seconds between background /health probes")
    ] = 1.0,
    max_attempts: Annotated[
        int, typer.Option(min=1, help="nodes: tries of one order on a node that may have it")
    ] = 3,
    progress: Annotated[bool, typer.Option(help="show the live progress bar")] = True,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="print the version and exit"
        ),
    ] = False,
) -> int:
    rate_per_s = None if rate is None else _parsed(parse_rate, rate)
    duration_s = None if duration is None else _parsed(parse_duration, duration)
    mix = _parsed(parse_region_mix, regions or "")
    stage_list = None if stages is None else _parsed(parse_stages, stages)
    if stage_list is not None and (rate is not None or duration is not None):
        raise typer.BadParameter(
            "sets the rate and the duration itself: drop --rate / --duration",
            param_hint="--stages",
        )
    if orders is None and duration_s is None and stage_list is None:
        orders = 1000
    # The tables go to stdout, errors to stderr; with ``--report -`` stdout is the JSON alone
    # (for a pipe into a parser) and the tables go to stderr.
    console = Console(stderr=report is not None and str(report) == "-")
    if plot is not None and plot.suffix.lower() not in PLOT_SUFFIXES:
        raise typer.BadParameter("must end in .png or .svg", param_hint="--plot")
    if batch_size > 1 and target is not TargetName.airflow:
        raise typer.BadParameter("applies to --target airflow only", param_hint="--batch-size")
    if bulk > 1 and target is not TargetName.nodes:
        raise typer.BadParameter("applies to --target nodes only", param_hint="--bulk")
    if in_flight_per_node is not None and (target is not TargetName.nodes or bulk > 1):
        raise typer.BadParameter(
            "applies to --target nodes sending order by order (no --bulk)",
            param_hint="--in-flight-per-node",
        )
    config = StressConfig(
        target="airflow" if target is TargetName.airflow else "nodes",
        orders=orders,
        concurrency=concurrency,
        rate=rate_per_s,
        duration=duration_s,
        stages=stage_list,
        in_flight_per_node=in_flight_per_node,
        batch_size=batch_size,
        bulk=bulk,
        region_mix=mix,
        invalid_ratio=invalid_ratio,
        seed=seed,
        run_id=run_id or new_run_id(),
        endpoint=endpoint,
        airflow_user=airflow_user,
        airflow_password=airflow_password,
        node_token=node_token or None,
        routing=routing or None,
        timeout=timeout,
        run_timeout=run_timeout,
        health_ttl=health_ttl,
        max_attempts=max_attempts,
        verify=verify,
        min_success=min_success,
        max_p99_ms=max_p99,
        max_failed=max_failed,
        report=report,
        csv=csv,
        plot=plot,
        html=html,
        progress=progress and console.is_terminal,
    )
    if plot is not None and not plotting_available():
        raise StressError(PLOT_EXTRA_HINT)  # before any order is sent, not after the run
    outcome = run_and_print(config, console)
    return outcome.exit_code


def _error(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def main(argv: list[str] | None = None) -> None:
    """Entry point: every failure to start is one line on stderr and exit code 2."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["verify"]:  # ``orders-stress verify RESULTS.csv``: a finished run, later
        command, args, prog = typer.main.get_command(verify_app), args[1:], f"{PROG} verify"
    else:
        command, prog = typer.main.get_command(app), PROG
    try:
        code = command.main(args=args, prog_name=prog, standalone_mode=False)
    except (typer.Abort, KeyboardInterrupt):
        print(f"{PROG}: interrupted", file=sys.stderr)
        sys.exit(130)
    except TyperException as exc:  # typer's own click: bad flags, bad values
        format_message = getattr(exc, "format_message", None)
        message = format_message() if callable(format_message) else str(exc)
        sys.exit(_error(" ".join(str(message).split())))
    except (StressError, RoutingSourceError, envvars.ConfigError) as exc:
        sys.exit(_error(str(exc)))
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
