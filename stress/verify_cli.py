"""``orders-stress verify RESULTS.csv``: check a finished run's orders against the shards later.

``--verify`` checks right after a run. An operator also wants to ask again after the fact —
after a node was restored from its replica, after a migration, the morning after a night of
load — whether every order the run had acknowledged is still stored exactly once. The run's
``--csv`` file holds each order's outcome and warehouse; this reads it, reads every shard the
routing document lists, and gives the same verdict as ``--verify`` (lost, unverified,
duplicated, misplaced, refused but stored). Exit 0 ok, 1 not ok, 2 could not check.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from order_contracts.source import load_routing_document

from .cli_options import NodeTokenOption, RoutingOption
from .errors import StressError
from .report import print_verification
from .results_csv import read_csv
from .verify import verify

SCHEMA = "orders-stress/verify/v1"

verify_app = typer.Typer(
    add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False
)


def run_id_of(order_ids: list[str]) -> str:
    """The run id every order id starts with (``<run-id>-<n>``)."""
    prefixes = {order_id.rsplit("-", 1)[0] for order_id in order_ids}
    if len(prefixes) != 1:
        raise StressError(f"the CSV mixes runs: {', '.join(sorted(prefixes)[:5])}")
    return prefixes.pop()


@verify_app.command(help="Check a finished run's orders (its --csv file) against the shards.")
def verify_later(
    results: Annotated[Path, typer.Argument(help="the run's --csv file")],
    routing: RoutingOption = None,
    node_token: NodeTokenOption = None,
    report: Annotated[Path | None, typer.Option(help="write the verdict as JSON here")] = None,
    timeout: Annotated[float, typer.Option(min=0.1, help="seconds per HTTP request")] = 30.0,
) -> int:
    try:
        rows = read_csv(results)
    except ValueError as exc:
        raise StressError(str(exc)) from None
    run_id = run_id_of([r.order_id for r in rows])
    document = load_routing_document(routing)
    node_urls = {region: route.url for region, route in document.regions.items()}
    verification = asyncio.run(verify(rows, node_urls, run_id, node_token or None, timeout))
    verdict = verification.to_json()
    print_verification(verdict, Console())
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        body = {"schema": SCHEMA, "run_id": run_id, "results": str(results), "verify": verdict}
        report.write_text(json.dumps(body, indent=2) + "\n")
    return 0 if verification.ok else 1
