"""The final report: one JSON document (``--report``) and the same facts as terminal tables.

The JSON's keys are a contract (CI jobs and the local demo read them); ``schema`` names its
version so that a reader can tell when they change.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from .config import StressConfig
from .stats import Stats
from .verify import Verification

SCHEMA = "orders-stress/report/v1"


def build_report(
    config: StressConfig,
    stats: Stats,
    started_at: float,
    verification: Verification | None,
    passed: bool,
) -> dict[str, Any]:
    totals: dict[str, int] = {
        "orders": stats.orders,
        "valid": stats.valid,
        "invalid": stats.invalid,
        "committed": stats.committed,
        "rejected": stats.rejected,
        "failed": stats.failed,
        "invalid_rejected": stats.invalid_rejected,
        "invalid_accepted": stats.invalid_accepted,
        "in_doubt": stats.in_doubt,
    }
    if config.target == "airflow":
        totals["accepted_by_airflow"] = stats.accepted_by_airflow
    return {
        "schema": SCHEMA,
        "run_id": config.run_id,
        "target": config.target,
        "mode": config.mode,
        "started_at": datetime.fromtimestamp(started_at, UTC).isoformat(timespec="seconds"),
        "config": config.describe(),
        "duration_s": round(stats.elapsed_s, 3),
        "totals": totals,
        "success_rate": round(stats.success_rate, 6),
        "throughput_per_s": round(stats.throughput, 2),
        "committed_per_s": round(stats.committed_per_s, 2),
        "latency_ms": stats.latency_ms,
        "airflow_accept_latency_ms": stats.accept_latency_ms,
        # open loop: how late orders left against their schedule (near 0: the tool kept up)
        "send_lag_ms": stats.send_lag_ms,
        "per_warehouse": stats.per_warehouse,
        "per_home_region": stats.per_home_region,
        "by_home_region": stats.by_home_region,
        "by_warehouse": stats.by_warehouse,
        "fallbacks": {"count": stats.fallbacks, "routes": stats.fallback_routes},
        "errors": stats.errors,
        "invalid_by_kind": stats.invalid_by_kind,
        "verify": verification.to_json() if verification is not None else None,
        "timeline": stats.timeline,
        "min_success": config.min_success,
        "passed": passed,
    }


def write_report(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")


def _pct(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"


def print_report(report: dict[str, Any], console: Console) -> None:
    totals = report["totals"]
    summary = Table(
        title=f"orders-stress {report['run_id']}: {report['target']}, {report['mode']} loop",
        show_header=False,
        title_justify="left",
    )
    summary.add_column(style="bold")
    summary.add_column(justify="right")
    summary.add_row("orders sent", f"{totals['orders']} ({totals['invalid']} invalid on purpose)")
    if "accepted_by_airflow" in totals:
        summary.add_row("accepted by Airflow", str(totals["accepted_by_airflow"]))
    summary.add_row(
        "committed on a warehouse",
        f"{totals['committed']} ({_pct(totals['committed'], totals['valid'])} of valid)",
    )
    summary.add_row("invalid orders refused", f"{totals['invalid_rejected']} / {totals['invalid']}")
    summary.add_row("failed", str(totals["failed"]))
    style = "green" if report["success_rate"] >= report["min_success"] else "red"
    summary.add_row(
        "success rate",
        f"[{style}]{report['success_rate']:.2%}[/] (min {report['min_success']:.2%})",
    )
    summary.add_row(
        "throughput", f"{report['throughput_per_s']:.1f} orders/s over {report['duration_s']:.2f} s"
    )
    lat = report["latency_ms"]
    summary.add_row(
        "latency p50 / p90 / p99 / max",
        f"{lat['p50']:.1f} / {lat['p90']:.1f} / {lat['p99']:.1f} / {lat['max']:.1f} ms",
    )
    if report.get("airflow_accept_latency_ms"):
        acc = report["airflow_accept_latency_ms"]
        summary.add_row("Airflow accept p50 / p99", f"{acc['p50']:.1f} / {acc['p99']:.1f} ms")
    if report["mode"] == "open":
        lag = report["send_lag_ms"]
        summary.add_row("sent behind schedule p99 / max", f"{lag['p99']:.1f} / {lag['max']:.1f} ms")
    summary.add_row("fallbacks used", str(report["fallbacks"]["count"]))
    console.print(summary)

    warehouses = Table(title="per warehouse", title_justify="left")
    warehouses.add_column("warehouse")
    warehouses.add_column("committed", justify="right")
    warehouses.add_column("share", justify="right")
    warehouses.add_column("sent with this home region", justify="right")
    regions = sorted(set(report["per_warehouse"]) | set(report["per_home_region"]))
    for region in regions:
        count = report["per_warehouse"].get(region, 0)
        warehouses.add_row(
            region,
            str(count),
            _pct(count, totals["committed"]),
            str(report["per_home_region"].get(region, 0)),
        )
    console.print(warehouses)

    if report.get("stages"):
        print_stages(report["stages"], console)
    if report["fallbacks"]["routes"]:
        routes = ", ".join(f"{k}: {v}" for k, v in report["fallbacks"]["routes"].items())
        console.print(f"[bold]fallback routes[/]: {routes}")
    if report["errors"]:
        errors = Table(title="errors by cause", title_justify="left")
        errors.add_column("cause")
        errors.add_column("orders", justify="right")
        for cause, count in report["errors"].items():
            errors.add_row(cause, str(count))
        console.print(errors)
    if report["verify"] is not None:
        print_verification(report["verify"], console)
    for bar in report.get("thresholds") or []:
        style, word = ("green", "ok") if bar["ok"] else ("red", "MISSED")
        figures = f"{bar['value']:g} (max {bar['limit']:g})"
        console.print(f"[bold]bar[/] {bar['name']}: {figures} [{style}]{word}[/]")
    if report.get("interrupted"):
        console.print("[yellow]interrupted: the figures cover the orders sent before Ctrl-C[/]")
    verdict = "[green]PASSED[/]" if report["passed"] else "[red]FAILED[/]"
    console.print(f"result: {verdict}")


def print_stages(stages: list[dict[str, Any]], console: Console) -> None:
    """``--stages``: offered against achieved rate, and what each stage's orders did."""
    table = Table(title="stages", title_justify="left")
    for header in ("stage", "time s", "offered /s", "achieved /s", "sent", "failed", "p99 ms"):
        table.add_column(header, justify="right")
    for stage in stages:
        start, end = stage["start_s"], stage["start_s"] + stage["duration_s"]
        table.add_row(
            str(stage["stage"]),
            f"{start:g}-{end:g}",
            f"{stage['offered_per_s']:g}",
            f"{stage['achieved_per_s']:g}",
            str(stage["sent"]),
            str(stage["failed"]),
            f"{stage['latency_ms']['p99']:.1f}",
        )
    console.print(table)


def print_verification(verify: dict[str, Any], console: Console) -> None:
    style = "green" if verify["ok"] else "red"
    per_node = ", ".join(f"{n}={c}" for n, c in verify["stored_per_node"].items())
    console.print(
        f"[bold]verify[/]: [{style}]{'ok' if verify['ok'] else 'FAILED'}[/] — "
        f"acknowledged {verify['acknowledged']}, "
        f"found exactly once {verify['found_exactly_once']}, "
        f"lost {verify['lost']}, unverified {verify.get('unverified', 0)}, "
        f"duplicated {verify['duplicated']}, "
        f"refused but stored {verify['refused_but_stored']}; stored per node: {per_node or '-'}"
    )
    for node, why in verify["unreadable_nodes"].items():
        console.print(f"  [red]could not read {node}[/] (its orders are unverified): {why}")
    for node, rows in verify.get("damaged_rows_per_node", {}).items():
        console.print(f"  [red]{node} skipped {rows} damaged rows[/] (an order in one is lost)")
    for kind in ("lost", "unverified", "duplicated", "refused_but_stored"):
        if verify["samples"].get(kind):
            console.print(f"  {kind}: {', '.join(verify['samples'][kind])}")
