"""Per-order results as CSV: one row per order sent, for a spreadsheet or pandas.

The JSON report summarises; a person asking "which orders failed, and why" or "how did
latency move over the run" wants the rows. Times are seconds since the run started (the
report's ``started_at``), latency in milliseconds, as the report counts them.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from .config import Stage
from .results import OrderResult
from .stages import stage_of

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
#: written only for a ``--stages`` run: the stage (1, 2, ...) the order was sent in
STAGE_COLUMN = "stage"


def write_csv(
    results: Sequence[OrderResult], path: Path, stages: Sequence[Stage] | None = None
) -> None:
    """Write ``results`` in send order under a header row naming the columns (and, for a
    ``--stages`` run, a last ``stage`` column)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS + ((STAGE_COLUMN,) if stages else ()))
        for r in sorted(results, key=lambda r: r.index):
            stage = (stage_of(stages, r.intended) + 1,) if stages else ()
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
                    *stage,
                )
            )


def _flag(text: str) -> bool:
    return text.strip().lower() == "true"


def read_csv(path: Path) -> list[OrderResult]:
    """The rows :func:`write_csv` wrote, as results again (``orders-stress verify``).

    Raises ValueError naming the file and the row at fault: a results file is handed around
    and edited, and a half-read one must not pass for a run's whole set of orders.
    """
    try:
        with path.open(newline="") as source:
            reader = csv.DictReader(source)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise ValueError(f"{path}: not an orders-stress CSV (no {', '.join(missing)})")
            results = []
            for line, row in enumerate(reader, start=2):
                try:
                    results.append(
                        OrderResult(
                            index=int(row["index"]),
                            order_id=row["order_id"],
                            home_region=row["home_region"],
                            valid=_flag(row["valid"]),
                            invalid_kind=row["invalid_kind"] or None,
                            intended=float(row["sent_s"]),
                            finished=float(row["finished_s"]),
                            outcome=row["outcome"],  # type: ignore[arg-type]
                            warehouse=row["warehouse"] or None,
                            fallback=_flag(row["fallback"]),
                            attempts=int(row["attempts"]),
                            cause=row["cause"] or None,
                            accepted=_flag(row["accepted_by_airflow"]),
                            dag_run_id=row["dag_run_id"] or None,
                        )
                    )
                except (TypeError, ValueError) as exc:
                    raise ValueError(f"{path}, line {line}: {exc}") from None
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not results:
        raise ValueError(f"{path}: no orders in it")
    return results
