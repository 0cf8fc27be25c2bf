"""The campaign's output: a table per fault kind in the terminal, and the JSON report.

The JSON's keys are a contract (tests and CI read them); ``schema`` names its version.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from .campaign import CampaignResult, kinds_summary

SCHEMA = "orders-chaos/report/v1"


def build_report(result: CampaignResult, replication: bool) -> dict[str, Any]:
    o = result.options
    outcomes = Counter(r.outcome for r in result.results)
    return {
        "schema": SCHEMA,
        "run_id": result.run_id,
        "passed": result.ok,
        "interrupted": result.interrupted,
        "started_at": datetime.fromtimestamp(result.started_at, UTC).isoformat(timespec="seconds"),
        "config": {
            "trials": o.trials,
            "seed": o.seed,
            "faults": list(o.faults),
            "target": o.target,
            "rate_per_s": o.rate,
            "batch_size": o.batch_size,
            "window_s": list(o.window),
            "lead_s": list(o.lead),
            "slow_s": o.slow_s,
            "timeout_s": o.timeout,
            "self_check": o.self_check,
            "replication": replication,
        },
        "totals": {
            "orders": len(result.results),
            "committed": outcomes["committed"],
            "rejected": outcomes["rejected"],
            "failed": outcomes["failed"],
        },
        "verification": result.verification.to_json(),
        "faults": kinds_summary(result),
        "trials": [outcome.to_json() for outcome in result.outcomes],
        "restore_errors": result.restore_errors,
    }


def write_report(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def print_report(report: dict[str, Any], console: Console) -> None:
    table = Table(title=f"orders-chaos {report['run_id']}: {report['config']['target']}")
    columns = ["fault", "trials", "acked", "lost", "dup", "in doubt (stored/not)"]
    columns += ["detect s", "fallback s", "unavail s p50", "unavail s max", "recovery s"]
    for name in columns:
        table.add_column(name, justify="left" if name == "fault" else "right")
    for row in report["faults"]:
        statuses = row["statuses"]
        if statuses.get("unsupported") == row["trials"]:
            table.add_row(row["kind"], str(row["trials"]), *["unsupported"] + [""] * 9)
            continue
        trials = str(row["trials"])
        if set(statuses) != {"done"}:
            trials += " (" + ", ".join(f"{n} {s}" for s, n in statuses.items() if s != "done") + ")"
        lost = row["lost"] + row["refused_but_stored"]
        table.add_row(
            row["kind"],
            trials,
            str(row["acknowledged"]),
            f"[red]{lost}[/]" if lost else "0",
            f"[red]{row['duplicated']}[/]" if row["duplicated"] else "0",
            f"{row['in_doubt']} ({row['in_doubt_stored']}/{row['in_doubt_not_stored']})",
            _s(row["detection_s_max"]),
            _s(row["fallback_s_max"]),
            _s(row["unavailable_s_p50"]),
            _s(row["unavailable_s_max"]),
            _s(row["recovery_s_max"]),
        )
    console.print(table)
    v = report["verification"]
    totals = report["totals"]
    verdict = "[green]PASSED[/]" if report["passed"] else "[red]FAILED[/]"
    console.print(
        f"{verdict}: {totals['orders']} orders, {v['acknowledged']} acknowledged, "
        f"{v['found_exactly_once']} found exactly once; lost {v['lost']}, duplicated "
        f"{v['duplicated']}, refused but stored {v['refused_but_stored']}, unreadable shards "
        f"{len(v['unreadable_nodes'])}"
        + (" [yellow](interrupted)[/]" if report["interrupted"] else "")
    )
    for error in report["restore_errors"]:
        console.print(f"[red]could not restore:[/] {error}")
