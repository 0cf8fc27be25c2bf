"""order_workflow: ingest → assign → process, one order or a batch per run.

Trigger it through the REST API (``POST /api/v2/dags/order_workflow/dagRuns`` with
``{"logical_date": null, "conf": {"order": {...}}}`` or ``{"conf": {"orders": [...]}}``) or the
UI's trigger form; the ``params`` schema (``order_workflow_lib/params.py``) refuses a conf of the
wrong shape before the run exists.

- **ingest** validates with the node's own schema (``order_contracts``); an invalid single order
  fails the run at once (no retry); a batch reports invalid orders and goes on with the rest.
- **assign** reads the routing document (``ORDER_ROUTING_SOURCE``: a file, an http(s) URL or
  ``configmap:NAMESPACE/NAME``; in a pod, its namespace's ``warehouse-routing`` ConfigMap),
  confirms the home node with ``GET /health`` and otherwise takes the nearest healthy fallback,
  the least loaded among equally near ones. Each decision is logged with its reason.
- **process** POSTs each order to its node with the order's own ``order_id`` (the node's
  idempotency key) and the node token, retrying ``ORDER_PROCESS_RETRIES`` times
  ``ORDER_RETRY_DELAY_SECONDS`` apart; a 409 (conflict) or a 4xx that says the order is wrong
  is final (``order_contracts.outcomes`` decides what each answer proves). On the last
  try an order whose node is still down moves to the next fallback — only if no earlier request
  may have reached that node (see ``order_workflow_lib/progress.py``). Its return value (XCom)
  holds the counts and the orders that need a word (``order_contracts/run_summary.py``); every
  order's result (home region, assigned node, fallback used, attempts, final status) is logged
  as JSON (a batch: arrays of up to 200 results per log line). The orders themselves are read
  from the run's conf by each task, never passed on as XComs (``run_intake``).

Only the standard library, pydantic, httpx, the Task SDK and modules inside ``dags/`` are
imported, so this folder runs unchanged in the official Airflow image.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException
from order_workflow_lib.params import order_params
from order_workflow_lib.settings import WorkflowSettings

from order_contracts.envvars import NODE_API_TOKEN
from order_contracts.labels import DAG_ID

if TYPE_CHECKING:
    from order_workflow_lib.intake import Intake

# Every task process parses this file again, so the schema, routing and delivery modules are
# imported inside the tasks that need them (Airflow's advice for top-level code): a task pays
# only for its own imports, and the DAG processor for none of them.

log = logging.getLogger("order_workflow")
results_log = logging.getLogger("order_workflow.result")

SETTINGS = WorkflowSettings.from_env()
RETRIES = SETTINGS.process_retries
RETRY_DELAY = timedelta(seconds=SETTINGS.retry_delay_seconds)


class DeliveryIncomplete(RuntimeError):
    """Some orders are not committed yet; Airflow retries the task, which resumes."""


def node_token(settings: WorkflowSettings) -> str | None:
    """``NODE_API_TOKEN`` when set (even empty: local mode), else the connection's password."""
    if NODE_API_TOKEN in os.environ:
        return os.environ[NODE_API_TOKEN] or None
    from airflow.sdk import BaseHook

    try:
        connection = BaseHook.get_connection(settings.connection_id)
    except AirflowNotFoundException:
        return None
    return connection.password or None


def run_intake() -> Intake:
    """This run's orders, validated: every task reads them from the run's conf.

    The conf reaches every task anyway (it is part of the run each task process is started
    with), and validating 2,000 orders takes ~40 ms, while passing them on as XComs cost four
    transfers of ~170 KB through the api-server per batch run (push and pull, twice: 1.4-2.2 s
    each on a loaded machine). Validation is deterministic, so each task sees the same orders
    the ingest task checked; an invalid run never gets past ingest.
    """
    from order_workflow_lib.intake import InvalidRun, read_conf

    conf = get_current_context()["dag_run"].conf
    try:
        return read_conf(conf, WorkflowSettings.from_env().max_batch)
    except InvalidRun as exc:
        raise AirflowFailException(str(exc)) from exc


class _NoStore:
    """Stand-in for Airflow < 3.3 (no task state store): retries re-send, idempotently."""

    def get(self, key: str, default: Any = None) -> Any:
        return default

    def set(self, key: str, value: Any) -> None:
        return None


@dag(
    dag_id=DAG_ID,
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=SETTINGS.max_active_runs,
    tags=["orders"],
    doc_md=__doc__,
    # A JSON schema for the conf: Airflow refuses a conf of the wrong shape when the run is
    # created (REST 400, an error in the UI's trigger form), before any task starts.
    params={name: Param(**schema) for name, schema in order_params(SETTINGS.max_batch).items()},
    # "upstream": a task weighs as much as the tasks before it, so process outranks the
    # ingest of newer runs and a backlog drains run by run. With Airflow's default
    # ("downstream") every queued run's ingest went first, then every assign: on 2 cores, 45
    # runs took 4 minutes to commit their first order, and all of them had been assigned
    # before any was delivered (a node dying then left no order to fall back).
    default_args={"retries": 0, "weight_rule": "upstream"},
)
def order_workflow() -> None:
    # Invalid input raises AirflowFailException, which Airflow never retries; the retries are for
    # the infrastructure (a lost XCom write when the api-server is overloaded, seen in the demo).
    @task(retries=RETRIES, retry_delay=RETRY_DELAY, show_return_value_in_logs=False)
    def ingest() -> dict[str, Any]:
        """Validate the conf once, fail fast on a bad run; the XCom is the counts only."""
        intake = run_intake()
        for rejection in intake["rejected"]:
            log.warning("order refused by ingest: %s", json.dumps(rejection))
        log.info(
            "ingested %d valid and %d invalid order(s) (%s mode)",
            len(intake["orders"]),
            len(intake["rejected"]),
            intake["mode"],
        )
        return {
            "mode": intake["mode"],
            "valid": len(intake["orders"]),
            "invalid": len(intake["rejected"]),
        }

    @task(retries=RETRIES, retry_delay=RETRY_DELAY, show_return_value_in_logs=False)
    def assign(ingested: dict[str, Any]) -> dict[str, Any]:
        """The plan: a decision per region (the orders themselves stay in the conf)."""
        from order_workflow_lib.assignment import MemoProbe, plan

        from order_contracts.source import load_routing_document

        settings = WorkflowSettings.from_env()
        intake = run_intake()
        document = load_routing_document()
        with MemoProbe(settings.health_timeout) as probe:
            decisions = plan(document, intake["orders"], probe)
        return {"generation": document.generation, "decisions": decisions}

    # Its return value is logged per order as JSON lines already (logger order_workflow.result).
    @task(retries=RETRIES, retry_delay=RETRY_DELAY, show_return_value_in_logs=False)
    def process(routing: dict[str, Any]) -> dict[str, Any]:
        from order_workflow_lib.processing import process as process_orders

        from order_contracts.source import load_routing_document

        context = get_current_context()
        ti = context["ti"]
        settings = WorkflowSettings.from_env()
        intake = run_intake()
        outcome = process_orders(
            intake,
            routing["decisions"],
            context.get("task_state_store") or _NoStore(),
            try_number=ti.try_number,
            max_tries=ti.max_tries + 1,
            settings=settings,
            token=node_token(settings),
            load_document=load_routing_document,
            run_id=str(context["run_id"]),
        )
        for line in outcome.log_lines():
            results_log.info(line)
        summary = outcome.xcom(intake["mode"])
        log.info("try %d of %d: %s", ti.try_number, ti.max_tries + 1, json.dumps(summary["counts"]))
        if outcome.pending:
            raise DeliveryIncomplete(
                f"{len(outcome.pending)} order(s) not committed yet, retrying: "
                + ", ".join(outcome.pending[:10])
            )
        failures = outcome.undelivered + (outcome.rejected if intake["mode"] == "single" else [])
        if failures:
            ti.xcom_push(key="return_value", value=summary)
            raise AirflowFailException(
                f"{len(failures)} order(s) not delivered: " + " | ".join(failures[:10])
            )
        return summary

    process(assign(ingest()))  # type: ignore[arg-type]  # XComArgs at parse time


order_workflow()
