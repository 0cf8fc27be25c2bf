"""Follow many DAG runs with one request per interval, not one per run.

The stress tool's Airflow target keeps every unit's run in flight until it ends. Polling each
run on its own made the load on the api-server grow with the runs in flight: in CI, 45
per-order runs polled every 0.5 s kept a one-worker api-server so busy that triggers timed out
after 30 s and the DAG's own tasks (which talk to the same api-server) crawled. A
:class:`RunWatcher` asks about all waiting runs in one list request
(:meth:`AsyncAirflowClient.finished_runs`) per interval and wakes each waiter when its run ends.
"""

from __future__ import annotations

import asyncio
import contextlib

import httpx

from .airflow_api import AsyncAirflowClient
from .airflow_polling import poll_pause, transient
from .airflow_rest import AirflowAPIError


class RunWatcher:
    """``await watcher.wait(run_id, timeout)`` → the run's final state, or TimeoutError."""

    def __init__(self, client: AsyncAirflowClient, dag_id: str, interval: float):
        self.client = client
        self.dag_id = dag_id
        self.interval = interval
        self._waiting: dict[str, asyncio.Future[str]] = {}
        self._poller: asyncio.Task[None] | None = None
        #: the last failed poll, named in a timeout's message (why the run was not seen end)
        self.last_failure: str | None = None

    async def wait(self, run_id: str, timeout: float) -> str:  # noqa: ASYNC109 (a deadline per run)
        future = self._waiting.get(run_id)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._waiting[run_id] = future
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll(), name=f"watch {self.dag_id} runs")
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            why = f" (last poll: {self.last_failure})" if self.last_failure else ""
            raise TimeoutError(f"run {run_id} not finished after {timeout:.0f}s{why}") from None
        finally:
            if self._waiting.get(run_id) is future:
                del self._waiting[run_id]

    async def _poll(self) -> None:
        failures = 0
        while self._waiting:
            waiting = dict(self._waiting)
            try:
                finished = await self.client.finished_runs(self.dag_id, list(waiting))
            except (AirflowAPIError, httpx.HTTPError) as exc:
                if not transient(exc):
                    for run_id, future in waiting.items():  # a 403 or 404 will not get better
                        if self._waiting.get(run_id) is future and not future.done():
                            future.set_exception(exc)
                    return
                failures, self.last_failure = failures + 1, repr(exc)
            else:
                failures, self.last_failure = 0, None
                for run_id, state in finished.items():
                    future = waiting[run_id]
                    if self._waiting.get(run_id) is future and not future.done():
                        future.set_result(state)
            await asyncio.sleep(poll_pause(self.interval, failures))

    async def aclose(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
