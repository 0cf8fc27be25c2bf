"""The floor: ``order_workflow``'s shape (3 tasks in a row) doing nothing.

``benchmarks/airflow_throughput.py`` runs it beside ``order_workflow`` on the same Airflow, so
the DAG's own cost is measured against what Airflow itself costs per run.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from airflow.sdk import dag, task


@dag(
    dag_id="floor_workflow",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=int(os.environ.get("ORDER_MAX_ACTIVE_RUNS", "32")),
    tags=["benchmark"],
    doc_md=__doc__,
    default_args={"weight_rule": "upstream"},  # as order_workflow: same shape, same scheduling
)
def floor_workflow() -> None:
    @task
    def ingest() -> int:
        return 0

    @task
    def assign(value: int) -> int:
        return value

    @task
    def process(value: int) -> dict[str, Any]:
        return {"ok": value == 0}

    process(assign(ingest()))  # type: ignore[arg-type]  # XComArgs at parse time


floor_workflow()
