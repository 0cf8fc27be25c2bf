"""What both Airflow clients share of REST API v2: the error, the paths, login and pool options.

:class:`~stress.airflow_api.AirflowClient` and :class:`~stress.airflow_api.AsyncAirflowClient`
differ only in how they wait for an answer; how a request is addressed, what an error answer
becomes (:class:`AirflowAPIError` with Airflow's ``detail``) and what a trigger sends are the
same for both and live here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class AirflowAPIError(RuntimeError):
    """Airflow answered with an error; ``status`` is the HTTP status, the message its detail."""

    def __init__(self, status: int, method: str, path: str, detail: str):
        self.status = status
        self.detail = detail
        super().__init__(f"Airflow {method} {path} → {status}: {detail}")


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    if isinstance(body, Mapping) and "detail" in body:
        return str(body["detail"])
    return str(body)[:500]


def check_response(response: httpx.Response) -> Any:
    """The answer's JSON (``None`` when empty); an error answer raises :class:`AirflowAPIError`."""
    if response.is_error:
        request = response.request
        raise AirflowAPIError(
            response.status_code, request.method, request.url.path, _detail(response)
        )
    return response.json() if response.content else None


def trigger_body(conf: Mapping[str, Any], run_id: str | None) -> dict[str, Any]:
    """The body of ``POST .../dagRuns``; ``run_id`` is ours when a retried trigger must not
    start a second run."""
    # Airflow 3 requires logical_date; null makes a run that is not tied to a data interval, so
    # any number of runs can be triggered at once without colliding on the logical date.
    body: dict[str, Any] = {"logical_date": None, "conf": dict(conf)}
    if run_id is not None:
        body["dag_run_id"] = run_id
    return body


def run_path(dag_id: str, run_id: str) -> str:
    """The REST path of one DAG run (ids go in as they are: run ids here are URL-safe)."""
    return f"/api/v2/dags/{dag_id}/dagRuns/{run_id}"


def xcom_path(dag_id: str, run_id: str, task_id: str, key: str) -> str:
    """The REST path of one XCom entry of a run's task."""
    return f"{run_path(dag_id, run_id)}/taskInstances/{task_id}/xcomEntries/{key}"


class Connection:
    """What both clients hold: where Airflow is, the login, and the options of their HTTP pool."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        max_connections: int = 100,
    ):
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self._token: str | None = None
        self._http_options: dict[str, Any] = {
            "base_url": self.base_url,
            "timeout": timeout,
            "limits": httpx.Limits(max_connections=max_connections, max_keepalive_connections=32),
        }

    def _login_body(self) -> dict[str, str]:
        return {"username": self.username, "password": self.password}
