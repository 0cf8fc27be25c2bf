"""Helpers for the stress tool's tests: a routing document for real nodes, the real CLI, and
node contents written and damaged directly.

The routing document is written by the local routing source (the same builder the controller
uses), so the stress tool routes with exactly what local mode gives the DAG.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from localmode.routing_source import LocalRoutingSource
from order_contracts.regions import configured_proximity
from order_contracts.routing import RegionRoute, RoutingDocument
from tests.conftest import REGIONS, RunningNode
from tests.node.conftest import seed_order

STRESS = Path(sys.executable).parent / "orders-stress"

# Nothing from the developer's shell may change what a test run does.
CLEAN_ENV = {
    "ORDER_REGIONS": ",".join(REGIONS),
    "ORDER_ROUTING_SOURCE": "",
    "NODE_API_TOKEN": "",
    "STRESS_TARGET": "",
    "AIRFLOW_API_URL": "",
    "ORDER_CA_BUNDLE": "",
}


def write_routing(nodes: dict[str, RunningNode], path: Path) -> Path:
    """The routing document for these nodes, as the local routing source writes it."""
    source = LocalRoutingSource(
        {region: node.url for region, node in nodes.items()}, configured_proximity(), path
    )
    try:
        source.poll_once()
    finally:
        source.close()
    return path


def write_document(
    routes: dict[str, str],
    path: Path,
    fallback: bool = False,
    read_urls: dict[str, list[str]] | None = None,
) -> Path:
    """A hand-made document: every region ready at ``url``; no fallback unless asked."""
    document = RoutingDocument(
        generation=1,
        updated_at="2026-01-01T00:00:00Z",  # type: ignore[arg-type]
        regions={
            region: RegionRoute(
                url=url,
                ready=True,
                ready_endpoints=1,
                fallback=[r for r in routes if r != region] if fallback else [],
                read_urls=(read_urls or {}).get(region, []),
            )
            for region, url in routes.items()
        },
    )
    path.write_text(document.to_json())
    return path


@pytest.fixture
def routing_file(three_nodes: dict[str, RunningNode], tmp_path: Path) -> Path:
    return write_routing(three_nodes, tmp_path / "routing.json")


@dataclass
class CliRun:
    code: int
    stdout: str
    stderr: str
    report: dict[str, Any] | None


def run_cli(
    *args: str,
    report: Path | None = None,
    timeout: float = 120,
    env: dict[str, str] | None = None,
) -> CliRun:
    """Run the installed ``orders-stress`` script; parse ``--report`` when one was asked for.
    ``env`` is laid over the clean environment (e.g. ORDER_CA_BUNDLE for HTTPS nodes)."""
    argv = [str(STRESS), *args, *(["--report", str(report)] if report else [])]
    env = os.environ | CLEAN_ENV | (env or {})
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
    parsed = json.loads(report.read_text()) if report and report.exists() else None
    return CliRun(done.returncode, done.stdout, done.stderr, parsed)


def stored_orders(node: RunningNode, prefix: str) -> list[dict[str, Any]]:
    """This run's orders on one node, read with a plain client (not the tool's own code)."""
    orders: list[dict[str, Any]] = []
    cursor = None
    with node.client() as client:
        while True:
            params: dict[str, Any] = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
            page = client.get("/orders", params=params).raise_for_status().json()
            orders += [o for o in page["orders"] if o["order_id"].startswith(prefix)]
            cursor = page["next_cursor"]
            if not cursor:
                return orders


def post_all(node: RunningNode, order_ids: list[str], token: str | None = None) -> None:
    """Store the orders through ``POST /orders`` (a few bulks: a page's worth is 1,000 POSTs)."""
    with node.client(token, timeout=60.0) as http:
        for start in range(0, len(order_ids), 500):
            bulk = [seed_order(i) for i in order_ids[start : start + 500]]
            results = http.post("/orders", json={"orders": bulk}).raise_for_status().json()
            assert {r["status"] for r in results["results"]} == {201}


def damage(node: RunningNode, order_ids: list[str]) -> None:
    """A BLOB where the home region's text is: what a bad page reads back as, and a row the
    node then skips in ``GET /orders`` (tests/node/test_integrity_reads.py)."""
    with sqlite3.connect(node.data_dir / "orders.db", isolation_level=None) as db:
        for order_id in order_ids:
            db.execute("UPDATE orders SET home_region = X'00ff' WHERE order_id = ?", (order_id,))
