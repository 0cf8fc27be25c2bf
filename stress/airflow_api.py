"""A small client for Airflow 3's REST API v2: log in, trigger a DAG, wait, read an XCom.

Used by the local launcher (is the DAG registered? unpause it), the tests, the benchmarks and the
stress tool's Airflow target, so every part talks to Airflow the same way. It lives in
``stress/`` because the stress tool is the part that runs it in the image (which ships no
``localmode/``); local mode imports it from here. httpx is its only dependency.

Authentication is the Airflow 3 way: ``POST /auth/token`` with a username and password returns a
JWT (the Simple auth manager in local mode; the same endpoint exists with other auth managers),
sent as ``Authorization: Bearer``. A 401 later (expired token) logs in again once.

Two classes with the same methods: :class:`AirflowClient` (blocking, thread-safe: httpx clients
are) and :class:`AsyncAirflowClient` (asyncio). Errors are
:class:`~stress.airflow_rest.AirflowAPIError` carrying the HTTP status and Airflow's ``detail``
message. What both clients share of the REST API is :mod:`stress.airflow_rest`; when a failed
poll is asked again, :mod:`stress.airflow_polling`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from .airflow_polling import FINISHED_STATES, poll_pause, transient
from .airflow_rest import (
    AirflowAPIError,
    Connection,
    check_response,
    run_path,
    trigger_body,
    xcom_path,
)

#: run ids asked about in one list request (``run_id_prefix_pattern`` joins them with ``|``;
#: 50 ids of ~30 characters keep the URL near 1.5 kB and the answer under Airflow's page limit)
RUNS_PER_LIST = 50


class AirflowClient(Connection):
    """Blocking client. ``AirflowClient("http://127.0.0.1:8080", "admin", "admin")``."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._http = httpx.Client(**self._http_options)

    def token(self) -> str:
        """A fresh JWT from ``POST /auth/token`` (also used for every later request)."""
        response = self._http.post("/auth/token", json=self._login_body())
        self._token = str(check_response(response)["access_token"])
        return self._token

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        if self._token is None:
            self.token()
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self._token}"}
            response = self._http.request(method, path, headers=headers, **kwargs)
            if response.status_code == 401 and attempt == 1:
                self.token()  # expired: log in again once
                continue
            return check_response(response)
        raise AssertionError("unreachable")

    def dag(self, dag_id: str) -> dict[str, Any]:
        """``GET /api/v2/dags/{dag_id}`` (404 → AirflowAPIError while it is not parsed yet)."""
        return dict(self._request("GET", f"/api/v2/dags/{dag_id}"))

    def set_paused(self, dag_id: str, paused: bool) -> dict[str, Any]:
        return dict(self._request("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": paused}))

    def import_errors(self) -> list[dict[str, Any]]:
        """DAG files that failed to parse (``filename``, ``stack_trace``)."""
        return list(self._request("GET", "/api/v2/importErrors")["import_errors"])

    def trigger(self, dag_id: str, conf: Mapping[str, Any], run_id: str | None = None) -> str:
        """Start a run with ``conf``; returns its run id."""
        body = trigger_body(conf, run_id)
        run = self._request("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body)
        return str(run["dag_run_id"])

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        """The whole DAG run record (state, start_date, end_date, conf, ...)."""
        return dict(self._request("GET", run_path(dag_id, run_id)))

    def run_state(self, dag_id: str, run_id: str) -> str:
        """``queued``, ``running``, ``success`` or ``failed``."""
        return str(self.run(dag_id, run_id)["state"])

    def wait_run(
        self, dag_id: str, run_id: str, timeout: float = 300.0, interval: float = 0.5
    ) -> str:
        """Poll until the run is finished; its final state, or TimeoutError. A failed poll
        (:func:`transient`) is repeated with backoff until ``timeout``, as in the async client."""
        deadline = time.monotonic() + timeout
        failures, state = 0, "not polled yet"
        while True:
            try:
                state = self.run_state(dag_id, run_id)
                failures = 0
            except (AirflowAPIError, httpx.HTTPError) as exc:
                if not transient(exc):
                    raise
                failures, state = failures + 1, f"unknown (last poll: {exc!r})"
            if state in FINISHED_STATES:
                return state
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} of {dag_id} still {state} after {timeout:.0f}s")
            time.sleep(min(poll_pause(interval, failures), max(0.0, deadline - time.monotonic())))

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """The run's task instances (task_id, state, try_number, ...)."""
        body = self._request("GET", f"{run_path(dag_id, run_id)}/taskInstances")
        return list(body["task_instances"])

    def run_states(self, dag_id: str, page: int = 100) -> dict[str, int]:
        """How many runs of ``dag_id`` are in each state (all runs, paged)."""
        counts: dict[str, int] = {}
        offset = 0
        while True:
            params = {"limit": page, "offset": offset, "order_by": "run_after"}
            body = self._request("GET", f"/api/v2/dags/{dag_id}/dagRuns", params=params)
            for run in body["dag_runs"]:
                counts[run["state"]] = counts.get(run["state"], 0) + 1
            offset += len(body["dag_runs"])
            if not body["dag_runs"] or offset >= body["total_entries"]:
                return counts

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        """The XCom value a task pushed (its return value by default), as JSON."""
        return self._request("GET", xcom_path(dag_id, run_id, task_id, key))["value"]

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AirflowClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncAirflowClient(Connection):
    """The same API for asyncio code (the stress tool's closed- and open-loop modes)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._http = httpx.AsyncClient(**self._http_options)
        self._login = asyncio.Lock()

    async def token(self) -> str:
        response = await self._http.post("/auth/token", json=self._login_body())
        self._token = str(check_response(response)["access_token"])
        return self._token

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        if self._token is None:
            async with self._login:  # many concurrent first calls log in once
                if self._token is None:
                    await self.token()
        for attempt in (1, 2):
            used = self._token
            headers = {"Authorization": f"Bearer {used}"}
            response = await self._http.request(method, path, headers=headers, **kwargs)
            if response.status_code == 401 and attempt == 1:
                async with self._login:
                    if self._token == used:
                        await self.token()
                continue
            return check_response(response)
        raise AssertionError("unreachable")

    async def dag(self, dag_id: str) -> dict[str, Any]:
        return dict(await self._request("GET", f"/api/v2/dags/{dag_id}"))

    async def set_paused(self, dag_id: str, paused: bool) -> dict[str, Any]:
        body = {"is_paused": paused}
        return dict(await self._request("PATCH", f"/api/v2/dags/{dag_id}", json=body))

    async def trigger(self, dag_id: str, conf: Mapping[str, Any], run_id: str | None = None) -> str:
        body = trigger_body(conf, run_id)
        run = await self._request("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body)
        return str(run["dag_run_id"])

    async def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return dict(await self._request("GET", run_path(dag_id, run_id)))

    async def run_state(self, dag_id: str, run_id: str) -> str:
        return str((await self.run(dag_id, run_id))["state"])

    async def wait_run(
        self,
        dag_id: str,
        run_id: str,
        timeout: float = 300.0,  # noqa: ASYNC109 (the same signature as AirflowClient's)
        interval: float = 0.5,
    ) -> str:
        """Poll until the run is finished; its final state, or TimeoutError.

        One failed poll says nothing about the run (the api-server restarting, a busy machine,
        a dropped connection): giving up on it reported orders the DAG did commit as failed.
        A :func:`transient` failure is polled again, the pause doubling up to
        :data:`MAX_POLL_BACKOFF_S`, until ``timeout``; anything else (404, 403) is raised."""
        deadline = time.monotonic() + timeout
        failures, state = 0, "not polled yet"
        while True:
            try:
                state = await self.run_state(dag_id, run_id)
                failures = 0
            except (AirflowAPIError, httpx.HTTPError) as exc:
                if not transient(exc):
                    raise
                failures, state = failures + 1, f"unknown (last poll: {exc!r})"
            if state in FINISHED_STATES:
                return state
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} of {dag_id} still {state} after {timeout:.0f}s")
            pause = poll_pause(interval, failures)
            await asyncio.sleep(min(pause, max(0.0, deadline - time.monotonic())))

    async def finished_runs(self, dag_id: str, run_ids: Sequence[str]) -> dict[str, str]:
        """Which of ``run_ids`` have finished, as ``run_id → state`` (unfinished ones absent).

        One list request per :data:`RUNS_PER_LIST` ids instead of one GET per run: polling
        every in-flight run on its own drowned a small api-server (45 runs polled twice a
        second is 90 requests/s), and the same api-server serves the tasks' execution API, so
        the DAG itself slowed down. Airflow's ``run_id_prefix_pattern`` ORs ``|``-separated
        prefixes; a prefix can over-match, so only exact ids are kept.
        """
        wanted = set(run_ids)
        finished: dict[str, str] = {}
        ordered = sorted(wanted)
        for start in range(0, len(ordered), RUNS_PER_LIST):
            chunk = ordered[start : start + RUNS_PER_LIST]
            params: list[tuple[str, str | int]] = [
                ("run_id_prefix_pattern", "|".join(chunk)),
                ("limit", 100),
                *(("state", state) for state in sorted(FINISHED_STATES)),
            ]
            body = await self._request("GET", f"/api/v2/dags/{dag_id}/dagRuns", params=params)
            for run in body["dag_runs"]:
                if run["dag_run_id"] in wanted and run["state"] in FINISHED_STATES:
                    finished[str(run["dag_run_id"])] = str(run["state"])
        return finished

    async def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        body = await self._request("GET", f"{run_path(dag_id, run_id)}/taskInstances")
        return list(body["task_instances"])

    async def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        return (await self._request("GET", xcom_path(dag_id, run_id, task_id, key)))["value"]

    async def xcom_retrying(
        self, dag_id: str, run_id: str, task_id: str, within: float, interval: float = 0.5
    ) -> Any:
        """:meth:`xcom`, with :func:`transient` failures asked again (backoff) for ``within`` s:
        a finished run's result must not be lost to one dropped request."""
        deadline = time.monotonic() + within
        failures = 0
        while True:
            try:
                return await self.xcom(dag_id, run_id, task_id)
            except (AirflowAPIError, httpx.HTTPError) as exc:
                failures += 1
                if not transient(exc) or time.monotonic() >= deadline:
                    raise
            pause = poll_pause(interval, failures)
            await asyncio.sleep(min(pause, max(0.0, deadline - time.monotonic())))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncAirflowClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
