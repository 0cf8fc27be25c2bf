"""How a local Airflow is tuned: the settings that decide throughput and start-up time.

Apart from :mod:`localmode.airflow` (which starts the components) because callers that only
choose a tuning (the demo's options, the benchmarks, tests) need not read how Airflow is run.
"""

from __future__ import annotations

from dataclasses import dataclass

from order_contracts import envvars


@dataclass
class AirflowSettings:
    """The settings that decide throughput and start-up time; defaults are the tuned ones.

    Measured on 2 shared cores (``benchmarks/airflow_throughput.py``): per-order runs are bound
    by the scheduler loop and task start-up, not by the api-server, so 2 api-server workers are
    enough and more only take memory; ``parallelism`` bounds how many task processes run at
    once (each is a forked Python interpreter: ~100 MB).
    """

    #: uvicorn worker processes of the api-server (REST API + the task execution API)
    api_workers: int = 2
    #: task instances running at once across all DAGs (LocalExecutor worker processes)
    parallelism: int = 32
    #: DAG runs of one DAG running at once (the DAG reads ORDER_MAX_ACTIVE_RUNS)
    max_active_runs: int = 32
    #: task instances of one DAG running at once
    max_active_tasks_per_dag: int = 32
    #: slots of ``default_pool`` (every task takes one)
    default_pool_slots: int = 128
    #: SQLAlchemy pool per process (scheduler, each api-server worker) and its overflow
    db_pool_size: int = 10
    db_max_overflow: int = 20
    #: how long the scheduler sleeps when a loop found nothing to do (seconds)
    scheduler_idle_sleep: float = 0.25
    #: task instances the scheduler examines / queues per query
    max_tis_per_query: int = 64
    #: DAG runs the scheduler advances per loop
    max_dagruns_per_loop: int = 64
    #: how often the dag-processor lists the DAGs folder for new files (seconds)
    dag_refresh_interval: int = 2
    #: how often an unchanged DAG file is parsed again (seconds)
    min_file_process_interval: int = 30
    #: DAG parsing processes
    parsing_processes: int = 1
    log_level: str = "INFO"

    def airflow_env(self) -> dict[str, str]:
        return {
            "AIRFLOW__API__WORKERS": str(self.api_workers),
            "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
            "AIRFLOW__CORE__MAX_ACTIVE_RUNS_PER_DAG": str(self.max_active_runs),
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(self.max_active_tasks_per_dag),
            "AIRFLOW__CORE__DEFAULT_POOL_TASK_SLOT_COUNT": str(self.default_pool_slots),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_SIZE": str(self.db_pool_size),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_MAX_OVERFLOW": str(self.db_max_overflow),
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": str(self.scheduler_idle_sleep),
            "AIRFLOW__SCHEDULER__MAX_TIS_PER_QUERY": str(self.max_tis_per_query),
            "AIRFLOW__SCHEDULER__MAX_DAGRUNS_PER_LOOP_TO_SCHEDULE": str(self.max_dagruns_per_loop),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": str(self.dag_refresh_interval),
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": str(
                self.min_file_process_interval
            ),
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": str(self.parsing_processes),
            "AIRFLOW__LOGGING__LOGGING_LEVEL": self.log_level,
            envvars.ORDER_MAX_ACTIVE_RUNS: str(self.max_active_runs),
        }
