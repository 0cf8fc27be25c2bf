"""Through Airflow: trigger ``order_workflow`` runs over the REST API v2 and follow them.

Per-order mode sends ``conf={"order": ...}``, one run per order; batch mode sends
``conf={"orders": [...]}``. Each run is followed to its end, then the process task's XCom says,
per order, where it was committed (home region, warehouse, fallback, attempts, status; in a
batch's XCom implied for the usual case, see ``order_contracts.run_summary``). The
result keeps Airflow's side (the trigger was accepted, and how long that took) apart from the
warehouse's side (the order was committed), since a run can be accepted and still fail.

The REST client is ``stress.airflow_api.AsyncAirflowClient``, shared with the launcher, the
tests and the benchmarks.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from datetime import datetime
from types import TracebackType
from typing import Any

import httpx

from order_contracts.outcomes import COMMITTED_STATUSES, REFUSED_STATUSES
from order_contracts.run_summary import per_order_results

from ..airflow_api import AsyncAirflowClient
from ..airflow_polling import poll_pause, transient
from ..airflow_rest import AirflowAPIError
from ..config import DAG_ID, PROCESS_TASK_ID, StressConfig
from ..engine import Unit
from ..errors import StressError
from ..orders import GeneratedOrder
from ..results import OrderResult, Outcome, Recorder
from ..run_watch import RunWatcher

#: seconds between two looks at the running DAG runs: one list request per interval for all of
#: them (``stress.run_watch``); the committed latency does not depend on it (the DAG records it)
POLL_INTERVAL_S = 0.5
#: how long a finished run's result (the process task's XCom) is asked for again after failed
#: requests (a 404 is an answer: the task never pushed)
XCOM_RETRY_S = 30.0
# The process task's per-order statuses are order_contracts.outcomes': committed / duplicate /
# placed_at_home (its home follower holds it) are stored; rejected, conflict (a node's final
# answer) and invalid (ingest) are refusals; failed, ambiguous, unroutable and pending mean the
# order did not get through.
COMMITTED = COMMITTED_STATUSES
REFUSED = REFUSED_STATUSES


def result_entries(value: Any, unit: Unit) -> dict[str, Mapping[str, Any]]:
    """The process task's XCom as ``order_id → per-order result`` for the orders of ``unit``.

    A batch's XCom holds counts and only the orders that need a word; the shared reader
    (``order_contracts.run_summary``, the DAG's own writer's counterpart) fills in the rest.
    """
    by_dag_id = {dag_order_id(o): o for o in unit}
    found = per_order_results(
        value, ((dag_id, o.region.strip().upper()) for dag_id, o in by_dag_id.items())
    )
    return {by_dag_id[dag_id].order_id: e for dag_id, e in found.items() if dag_id in by_dag_id}


def dag_order_id(order: GeneratedOrder) -> str:
    """The id the DAG knows the order by: its payload's. An invalid order may carry another
    than the tool's own (``bad_order_id`` adds spaces); looked up under the tool's id, its
    refusal was missed and the order counted as committed (a false "lost" in the checker)."""
    payload_id = order.payload.get("order_id")
    return payload_id if isinstance(payload_id, str) else order.order_id


class AirflowTarget:
    """Send orders as DAG runs. Use as ``async with AirflowTarget(recorder, config)``."""

    def __init__(self, recorder: Recorder, config: StressConfig):
        self.recorder = recorder
        self.config = config
        self.client = AsyncAirflowClient(
            config.endpoint,
            config.airflow_user,
            config.airflow_password,
            timeout=httpx.Timeout(config.timeout * 3, connect=min(config.timeout, 5.0)),
            max_connections=config.senders + 4,  # one request per unit in flight, plus logins
        )
        self.watcher = RunWatcher(self.client, DAG_ID, POLL_INTERVAL_S)

    async def __aenter__(self) -> AirflowTarget:
        where = self.config.endpoint
        try:
            await self.client.token()
            dag = await self.client.dag(DAG_ID)
        except AirflowAPIError as exc:
            await self.client.aclose()
            if exc.status == 404:
                raise StressError(f"DAG {DAG_ID} is not registered in Airflow at {where}") from exc
            raise StressError(f"Airflow at {where} refused: {exc}") from exc
        except httpx.HTTPError as exc:
            await self.client.aclose()
            raise StressError(f"cannot reach Airflow at {where}: {exc!r}") from exc
        if dag.get("is_paused"):
            await self.client.aclose()
            raise StressError(
                f"DAG {DAG_ID} is paused in Airflow at {where}: unpause it first "
                f"(UI toggle, or `airflow dags unpause {DAG_ID}`)"
            )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.watcher.aclose()
        await self.client.aclose()

    def _conf(self, unit: Unit) -> dict[str, Any]:
        if self.config.batch_size == 1:
            return {"order": unit[0].payload}
        return {"orders": [order.payload for order in unit]}

    async def send(self, unit: Unit, intended: float) -> list[OrderResult]:
        now = self.recorder.now
        dag_run_id = f"{self.config.run_id}-{unit[0].index:07d}"

        def all_failed(cause: str, accepted: bool, after: float | None) -> list[OrderResult]:
            return [
                OrderResult.of(
                    o,
                    intended,
                    now(),
                    "failed",
                    cause=cause,
                    accepted=accepted,
                    accepted_after=after,
                    dag_run_id=dag_run_id,
                )
                for o in unit
            ]

        try:
            await self._trigger(self._conf(unit), dag_run_id)
        except AirflowAPIError as exc:
            if exc.status == 400 and not any(o.valid for o in unit):
                # The DAG's params schema refused the conf before a run existed: for orders
                # invalid on purpose, the refusal wanted (docs/dag.md, "The conf schema").
                return [
                    OrderResult.of(
                        o,
                        intended,
                        now(),
                        "rejected",
                        cause=f"refused by Airflow at trigger (400): {exc.detail}"[:300],
                        accepted=False,
                        dag_run_id=dag_run_id,
                    )
                    for o in unit
                ]
            return all_failed(f"Airflow refused the run ({exc.status})", False, None)
        except httpx.HTTPError as exc:
            return all_failed(f"Airflow unreachable ({type(exc).__name__})", False, None)
        accepted_after = now() - intended
        try:
            state = await self.watcher.wait(dag_run_id, self.config.run_timeout)
        except TimeoutError:
            cause = f"DAG run not finished after {self.config.run_timeout:.0f}s"
            return all_failed(cause, True, accepted_after)
        except (AirflowAPIError, httpx.HTTPError) as exc:
            return all_failed(f"lost track of the DAG run ({exc})", True, accepted_after)
        try:
            value = await self.client.xcom_retrying(
                DAG_ID, dag_run_id, PROCESS_TASK_ID, within=XCOM_RETRY_S, interval=POLL_INTERVAL_S
            )
        except (AirflowAPIError, httpx.HTTPError):
            value = None  # the process task never pushed: ingest refused everything, or it died
        entries = result_entries(value, unit)
        finished = now()
        return [
            self._result(
                order,
                entries.get(order.order_id),
                state,
                intended,
                finished,
                accepted_after,
                dag_run_id,
            )
            for order in unit
        ]

    async def _trigger(self, conf: dict[str, Any], dag_run_id: str) -> None:
        """Start the run; a trigger whose answer was lost is sent again with the same run id.

        A trigger that timed out may well have created the run (in CI a drowning api-server
        answered after 30 s, and 12 orders the DAG committed were counted failed). The run id
        is ours alone, so sending it again is safe: a 409 after a lost answer means the first
        try made it. A 409 on the first try means someone else's run has that id: refused.
        Transient failures are retried (backoff) within the run timeout.
        """
        deadline = time.monotonic() + self.config.run_timeout
        failures = 0
        while True:
            try:
                await self.client.trigger(DAG_ID, conf, run_id=dag_run_id)
                return
            except (AirflowAPIError, httpx.HTTPError) as exc:
                if failures and isinstance(exc, AirflowAPIError) and exc.status == 409:
                    return
                if not transient(exc) or time.monotonic() >= deadline:
                    raise
                failures += 1
            await asyncio.sleep(poll_pause(POLL_INTERVAL_S, failures))

    def _result(
        self,
        order: GeneratedOrder,
        entry: Mapping[str, Any] | None,
        state: str,
        intended: float,
        finished: float,
        accepted_after: float,
        dag_run_id: str,
    ) -> OrderResult:
        common: dict[str, Any] = {"accepted_after": accepted_after, "dag_run_id": dag_run_id}
        if entry is None:
            # Not in the process task's results: ingest refused it (an invalid order fails fast
            # and is not retried), or the run died before processing it.
            if not order.valid and state in ("success", "failed"):
                return OrderResult.of(
                    order,
                    intended,
                    finished,
                    "rejected",
                    cause=f"refused by the DAG ({state})",
                    **common,
                )
            return OrderResult.of(
                order,
                intended,
                finished,
                "failed",
                cause=f"not processed (DAG run {state})",
                **common,
            )
        status = str(entry.get("status") or "unknown").lower()
        attempts = int(entry.get("attempts") or 0)
        if status in COMMITTED:
            warehouse = str(entry.get("assigned_node") or order.region)
            return OrderResult.of(
                order,
                intended,
                self._committed_at(entry, intended + accepted_after, finished),
                "committed",
                warehouse=warehouse,
                fallback=bool(entry.get("fallback_used")),
                attempts=attempts,
                **common,
            )
        outcome: Outcome = "rejected" if status in REFUSED else "failed"
        # Coarse on purpose: errors are grouped by cause, and the DAG's details name orders.
        node = entry.get("assigned_node")
        cause = f"DAG reported {status}" + (f" on {node}" if node else "")
        return OrderResult.of(
            order, intended, finished, outcome, attempts=attempts, cause=cause, **common
        )

    def _committed_at(self, entry: Mapping[str, Any], accepted: float, observed: float) -> float:
        """When the warehouse committed the order, in run seconds, as the DAG recorded it.

        Polling only sees the end of the run (up to a poll interval later, after the DAG's
        remaining bookkeeping); the node's 201 time is the honest end of the order's latency.
        Clamped between Airflow accepting the run and our observation, so a skewed clock on
        another machine cannot produce a negative or inflated latency.
        """
        try:
            at = datetime.fromisoformat(str(entry["committed_at"])).timestamp()
        except (KeyError, TypeError, ValueError):
            return observed
        return min(observed, max(at - self.recorder.started_at, accepted))
