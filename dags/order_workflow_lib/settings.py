"""The workflow's settings: environment variables with documented defaults.

Read by the DAG file at parse time (retries, delay, max active runs) and by the tasks at run
time (timeouts, concurrency, batch size), so the same variables work under the LocalExecutor
(set on the Airflow processes) and the KubernetesExecutor (set on the worker pods).

| variable | default | meaning |
| --- | --- | --- |
| ``ORDER_PROCESS_RETRIES`` | 3 | retries of each task (invalid input is never retried) |
| ``ORDER_RETRY_DELAY_SECONDS`` | 60 | delay between those retries |
| ``ORDER_MAX_ACTIVE_RUNS`` | 32 | runs of the DAG at once |
| ``ORDER_MAX_BATCH`` | 2000 | most orders in one ``{"orders": [...]}`` run |
| ``ORDER_BULK_SIZE`` | 1000 | most orders per ``POST /orders`` (1: ``POST /order`` each) |
| ``ORDER_NODE_TIMEOUT_SECONDS`` | 10 | per-request timeout (``POST /order``, ``/orders``) |
| ``ORDER_HEALTH_TIMEOUT_SECONDS`` | 2 | timeout of a ``GET /health`` probe |
| ``ORDER_NODE_CONCURRENCY`` | 8 | requests in flight per node in batch mode (bulk or one by one) |
| ``ORDER_NODE_CONN_ID`` | warehouse_api | Airflow connection whose password is the node token |
| ``NODE_API_TOKEN`` | (unset) | the node token; when set (even empty) the connection is not read |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from order_contracts import envvars
from order_contracts.envvars import env_float, env_int


@dataclass(frozen=True)
class WorkflowSettings:
    process_retries: int = 3
    retry_delay_seconds: float = 60.0
    max_active_runs: int = 32
    max_batch: int = 2000
    bulk_size: int = 1000
    node_timeout: float = 10.0
    health_timeout: float = 2.0
    node_concurrency: int = 8
    connection_id: str = "warehouse_api"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WorkflowSettings:
        env = os.environ if env is None else env
        return cls(
            process_retries=env_int(env, envvars.ORDER_PROCESS_RETRIES, 3, 0),
            retry_delay_seconds=env_float(env, envvars.ORDER_RETRY_DELAY_SECONDS, 60.0, 0),
            max_active_runs=env_int(env, envvars.ORDER_MAX_ACTIVE_RUNS, 32, 1),
            max_batch=env_int(env, "ORDER_MAX_BATCH", 2000, 1),
            bulk_size=env_int(env, "ORDER_BULK_SIZE", 1000, 1),
            node_timeout=env_float(env, "ORDER_NODE_TIMEOUT_SECONDS", 10.0, 0.1),
            health_timeout=env_float(env, "ORDER_HEALTH_TIMEOUT_SECONDS", 2.0, 0.1),
            node_concurrency=env_int(env, "ORDER_NODE_CONCURRENCY", 8, 1),
            connection_id=env.get("ORDER_NODE_CONN_ID", "").strip() or "warehouse_api",
        )
