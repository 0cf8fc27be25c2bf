"""Per-order results as CSV: one row per order sent, for a spreadsheet or pandas.

The JSON report summarises; a person asking "which orders failed, and why" or "how did
latency move over the run" wants the rows. Times are seconds since the run started (the
report's ``started_at``), latency in milliseconds, as the report counts them.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from .results import OrderResult

COLUMNS = (
    "index",
    "order_id",
    "home_region",
    "valid",
    "invalid_kind",
    "outcome",
    "warehouse",
    "fallback",
    "attempts",
    "sent_s",
    "finished_s",
    "latency_ms",
    "accepted_by_airflow",
    "dag_run_id",
    "cause",
)


def write_csv(results: Sequence[OrderResult], path: Path) -> None:
    """Write ``results`` in send order under a header row naming the columns."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for r in sorted(results, key=lambda r: r.index):
            writer.writerow(
                (
                    r.index,
                    r.order_id,
                    r.home_region,
                    r.valid,
                    r.invalid_kind or "",
                    r.outcome,
                    r.warehouse or "",
                    r.fallback,
                    r.attempts,
                    f"{r.intended:.3f}",
                    f"{r.finished:.3f}",
                    f"{r.latency * 1000:.1f}",
                    r.accepted,
                    r.dag_run_id or "",
                    r.cause or "",
                )
            )
