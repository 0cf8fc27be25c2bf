"""The DAG folder parses cleanly and the DAG has the shape the issue asks for."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from localmode.airflow import DAGS_FOLDER


def test_dag_folder_loads_without_import_errors(airflow_db: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_FOLDER))

    assert bag.import_errors == {}
    assert set(bag.dag_ids) == {"order_workflow"}  # the benchmark's floor DAG is not shipped


def test_the_benchmark_sees_the_floor_dag_beside_order_workflow(
    airflow_db: Path, tmp_path: Path
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    from benchmarks.airflow_throughput import benchmark_dags_folder

    bag = DagBag(dag_folder=str(benchmark_dags_folder(tmp_path / "dags")))

    assert bag.import_errors == {}
    assert set(bag.dag_ids) == {"order_workflow", "floor_workflow"}


def test_packages_inside_dags_are_not_parsed_as_dag_files(airflow_db: Path) -> None:
    from airflow.utils.file import list_py_file_paths

    # safe_mode off: without .airflowignore every module of the two packages would be parsed.
    files = {Path(p).name for p in list_py_file_paths(str(DAGS_FOLDER), safe_mode=False)}

    assert files == {"order_workflow.py"}


def test_order_workflow_runs_ingest_then_assign_then_process(order_dag: Any) -> None:
    tasks = {t.task_id: t for t in order_dag.tasks}

    assert set(tasks) == {"ingest", "assign", "process"}
    assert tasks["ingest"].downstream_task_ids == {"assign"}
    assert tasks["assign"].downstream_task_ids == {"process"}


def test_only_assign_and_process_retry_with_the_configured_delay(order_dag: Any) -> None:
    tasks = {t.task_id: t for t in order_dag.tasks}

    # ORDER_PROCESS_RETRIES=3, ORDER_RETRY_DELAY_SECONDS=1 in tests/dag/conftest.py
    assert (tasks["ingest"].retries, tasks["ingest"].retry_delay) == (3, timedelta(seconds=1))
    assert (tasks["process"].retries, tasks["process"].retry_delay) == (3, timedelta(seconds=1))
    assert (tasks["assign"].retries, tasks["assign"].retry_delay) == (3, timedelta(seconds=1))


def test_dag_is_triggered_only_never_scheduled(order_dag: Any) -> None:
    assert order_dag.schedule is None
    assert order_dag.catchup is False
    assert order_dag.max_active_runs == 32


def test_a_backlog_drains_run_by_run_process_outranks_newer_runs_ingest(order_dag: Any) -> None:
    """The scheduler queues higher weights first: with "upstream" weights a run's process task
    goes before the ingest of runs triggered after it (Airflow's default does the opposite).
    The weights are computed by Airflow's own strategy for each task's ``weight_rule``."""
    from airflow.task.priority_strategy import get_airflow_priority_weight_strategies

    strategies = get_airflow_priority_weight_strategies()
    weights = {
        task.task_id: strategies[task.weight_rule]().get_weight(SimpleNamespace(task=task))
        for task in order_dag.tasks
    }

    assert weights["process"] > weights["assign"] > weights["ingest"], weights
