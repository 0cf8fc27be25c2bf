"""Following DAG runs through failed triggers and status polls, over a real socket.

A real Airflow cannot be made to fail exactly the Nth poll, so a small HTTP server on
localhost answers the API v2 paths the Airflow target uses (login, DAG, trigger, run, run list,
XCom) and fails the requests it is told to: 503s, 502s and connections cut before an answer,
as an api-server restarting or drowning on a busy machine does. What can fail here: the target
giving up on a run after one failed poll (it reported orders the DAG committed as failed), a
trigger whose answer was lost counted as failed although the run exists, polling on after a
404 (the run does not exist), polling past the run timeout, or one request per run in flight
instead of one per interval.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web

from stress.airflow_api import AsyncAirflowClient
from stress.airflow_rest import AirflowAPIError
from stress.config import DAG_ID, PROCESS_TASK_ID, StressConfig
from stress.orders import GeneratedOrder
from stress.results import Recorder
from stress.targets.airflow import AirflowTarget

Poll = int | str  # an HTTP status to fail with, "cut" (no answer), or a run state


@asynccontextmanager
async def airflow_standin(
    polls: Callable[[int], Poll],
    xcom: Callable[[int], Poll] = lambda n: 200,
    cut_triggers: int = 0,
) -> AsyncIterator[tuple[str, dict[str, int]]]:
    """The API's base URL; ``polls(n)`` decides the n-th ``GET dagRuns/{id}`` or list request
    (one state for every run asked about); the first ``cut_triggers`` triggers create their
    run and then drop the connection before answering."""
    seen = {"polls": 0, "xcom": 0, "triggers": 0}
    runs: dict[str, dict[str, Any]] = {}

    def fail(request: web.Request, what: Poll) -> web.Response:
        if what == "cut":
            assert request.transport is not None
            request.transport.close()  # the connection drops before any answer
            return web.Response(status=500)
        return web.json_response({"detail": "api-server busy"}, status=int(what))

    async def token(request: web.Request) -> web.Response:
        return web.json_response({"access_token": "t"})

    async def dag(request: web.Request) -> web.Response:
        return web.json_response({"dag_id": DAG_ID, "is_paused": False})

    async def trigger(request: web.Request) -> web.Response:
        body = await request.json()
        seen["triggers"] += 1
        if body["dag_run_id"] in runs:
            return web.json_response({"detail": "already exists"}, status=409)
        runs[body["dag_run_id"]] = body["conf"]
        if seen["triggers"] <= cut_triggers:
            return fail(request, "cut")
        return web.json_response({"dag_run_id": body["dag_run_id"], "state": "queued"})

    async def run_list(request: web.Request) -> web.Response:
        n = seen["polls"]
        seen["polls"] += 1
        what = polls(n)
        if not isinstance(what, str) or what == "cut":
            return fail(request, what)
        asked = request.query["run_id_prefix_pattern"].split("|")
        states = request.query.getall("state")
        found = [
            {"dag_run_id": run_id, "state": what}
            for run_id in asked
            if run_id in runs and what in states
        ]
        return web.json_response({"dag_runs": found, "total_entries": len(found)})

    async def run(request: web.Request) -> web.Response:
        n = seen["polls"]
        seen["polls"] += 1
        if request.match_info["run"] not in runs:
            return web.json_response({"detail": "not found"}, status=404)
        what = polls(n)
        if isinstance(what, str) and what != "cut":
            return web.json_response({"state": what})
        return fail(request, what)

    async def xcom_entry(request: web.Request) -> web.Response:
        n = seen["xcom"]
        seen["xcom"] += 1
        what = xcom(n)
        if what != 200:
            return fail(request, what)
        order = runs[request.match_info["run"]]["order"]
        entry = {
            "order_id": order["order_id"],
            "home_region": order["region"],
            "assigned_node": order["region"],
            "status": "committed",
            "attempts": 1,
        }
        return web.json_response({"value": {"orders": [entry]}})

    app = web.Application()
    app.router.add_post("/auth/token", token)
    app.router.add_get(f"/api/v2/dags/{DAG_ID}", dag)
    app.router.add_post(f"/api/v2/dags/{DAG_ID}/dagRuns", trigger)
    app.router.add_get(f"/api/v2/dags/{DAG_ID}/dagRuns", run_list)
    app.router.add_get(f"/api/v2/dags/{DAG_ID}/dagRuns/{{run}}", run)
    app.router.add_get(
        f"/api/v2/dags/{DAG_ID}/dagRuns/{{run}}/taskInstances/{PROCESS_TASK_ID}"
        "/xcomEntries/return_value",
        xcom_entry,
    )
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


def order(index: int) -> GeneratedOrder:
    payload = {"order_id": f"poll-{index}", "customer_name": "Nguyen Van A", "region": "HCM"}
    return GeneratedOrder(index, payload["order_id"], "HCM", payload, b"", valid=True)


def flaky(n: int) -> Poll:
    return [503, "cut", 502, "running", 504, "success"][min(n, 5)]


@pytest.mark.asyncio
async def test_the_target_reports_a_committed_order_through_failed_polls() -> None:
    async with airflow_standin(flaky, xcom=lambda n: 503 if n == 0 else 200) as (url, seen):
        config = StressConfig(endpoint=url, run_timeout=60, timeout=5, progress=False)
        async with AirflowTarget(Recorder(), config) as target:
            (result,) = await target.send([order(1)], 0.0)
    assert result.outcome == "committed", result.cause
    assert result.warehouse == "HCM"
    assert seen["polls"] == 6 and seen["xcom"] == 2


@pytest.mark.asyncio
async def test_polls_back_off_and_stop_at_the_run_timeout_naming_the_last_failure() -> None:
    standin = airflow_standin(lambda n: 503)
    async with standin as (url, seen), AsyncAirflowClient(url, "admin", "admin") as client:
        run_id = await client.trigger(DAG_ID, {"order": {}}, run_id="r-1")
        started = time.monotonic()
        with pytest.raises(TimeoutError, match="503"):
            await client.wait_run(DAG_ID, run_id, timeout=3.0, interval=0.2)
        took = time.monotonic() - started
    assert 2.9 <= took < 10
    # backoff: 0.4, 0.8, 1.6 s ... pauses, not one poll every 0.2 s (15 in 3 s)
    assert 3 <= seen["polls"] <= 7


@pytest.mark.asyncio
async def test_a_run_that_does_not_exist_is_not_polled_again() -> None:
    standin = airflow_standin(lambda n: "success")
    async with standin as (url, seen), AsyncAirflowClient(url, "admin", "admin") as client:
        with pytest.raises(AirflowAPIError) as raised:
            await client.wait_run(DAG_ID, "never-triggered", timeout=30, interval=0.1)
    assert raised.value.status == 404
    assert seen["polls"] == 1


@pytest.mark.asyncio
async def test_the_target_still_gives_up_at_the_run_timeout() -> None:
    async with airflow_standin(lambda n: "running") as (url, _):
        config = StressConfig(endpoint=url, run_timeout=1.5, timeout=5, progress=False)
        async with AirflowTarget(Recorder(), config) as target:
            (result,) = await asyncio.wait_for(target.send([order(2)], 0.0), 30)
    assert result.outcome == "failed"
    assert "not finished after" in str(result.cause)


@pytest.mark.asyncio
async def test_a_trigger_whose_answer_was_lost_is_sent_again_and_its_run_followed() -> None:
    async with airflow_standin(lambda n: "success", cut_triggers=1) as (url, seen):
        config = StressConfig(endpoint=url, run_timeout=60, timeout=5, progress=False)
        async with AirflowTarget(Recorder(), config) as target:
            (result,) = await target.send([order(3)], 0.0)
    assert result.outcome == "committed", result.cause
    assert seen["triggers"] == 2  # the second try's 409 says the first one made the run


@pytest.mark.asyncio
async def test_a_run_id_taken_before_the_first_try_is_refused() -> None:
    async with airflow_standin(lambda n: "success") as (url, _):
        config = StressConfig(endpoint=url, run_timeout=60, timeout=5, progress=False)
        async with AirflowTarget(Recorder(), config) as target:
            (first,) = await target.send([order(4)], 0.0)
            (again,) = await target.send([order(4)], 0.0)  # same index: same run id
    assert first.outcome == "committed"
    assert again.outcome == "failed" and "409" in str(again.cause)


@pytest.mark.asyncio
async def test_runs_in_flight_are_followed_with_one_request_per_interval() -> None:
    # 40 runs, each "running" for the first polls: one GET per run per interval would be
    # 40 requests per poll round; the watcher asks about all of them at once.
    async with airflow_standin(lambda n: "running" if n < 4 else "success") as (url, seen):
        config = StressConfig(endpoint=url, run_timeout=60, timeout=5, progress=False)
        async with AirflowTarget(Recorder(), config) as target:
            results = await asyncio.gather(*(target.send([order(i)], 0.0) for i in range(40)))
    assert [r.outcome for (r,) in results] == ["committed"] * 40
    assert 5 <= seen["polls"] <= 8
