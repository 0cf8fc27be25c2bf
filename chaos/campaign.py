"""One campaign: open-loop load runs throughout; faults come one after another at random
moments; after the last one heals, every shard is read back and checked.

The load is the stress tool's own: its order generator, its open-loop engine
(:func:`stress.engine.run_open`, latency from the intended send time) and its targets (straight
to the nodes, routed by the shared rule, or through Airflow's REST API). The faults run in a
worker thread (``asyncio.to_thread``) so that restarting a node never delays the load's schedule.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rich.console import Console

from order_contracts.source import RoutingSourceError
from stress.config import StressConfig, parse_region_mix
from stress.engine import run_open, units_of
from stress.errors import StressError
from stress.orders import OrderGenerator
from stress.results import OrderResult, Recorder
from stress.verify import Verification, verify

from .checker import Transition, TrialOutcome, TrialRecord, check_trials, summarize
from .cluster import ChaosCluster
from .faults import inject
from .plan import CampaignOptions, Trial, plan_trials

#: seconds of load before the first trial and after the last
WARMUP_S, TAIL_S = 2.0, 2.0
#: how long to wait for the first committed order before calling the target unusable (through
#: Airflow the first runs wait for the scheduler and task start-up: minutes on a busy machine)
FIRST_COMMIT_TIMEOUT_S = {"nodes": 60.0, "airflow": 300.0}


class CampaignError(RuntimeError):
    """The campaign could not run (one line for the user)."""


@dataclass
class CampaignResult:
    options: CampaignOptions
    run_id: str
    started_at: float
    results: list[OrderResult]
    records: list[TrialRecord]
    transitions: list[Transition]
    verification: Verification
    outcomes: list[TrialOutcome] = field(default_factory=list)
    interrupted: bool = False
    restore_errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        v = self.verification
        return not (v.lost or v.duplicated or v.refused_but_stored or v.unreadable)

    @property
    def exit_code(self) -> int:
        if not self.ok:
            return 1
        return 130 if self.interrupted else 0


def read_transitions(cluster: ChaosCluster, started_at: float) -> list[Transition]:
    """The routing source's history as readiness changes per region, in load seconds."""
    transitions: list[Transition] = []
    last: dict[str, bool] = {}
    with contextlib.suppress(OSError):
        for line in cluster.stack.routing_history.read_text().splitlines():
            with contextlib.suppress(ValueError, KeyError):
                entry = json.loads(line)
                at = datetime.fromisoformat(entry["at"]).timestamp() - started_at
                for region, ready in entry["ready"].items():
                    if last.get(region) is not ready:
                        transitions.append(Transition(at, region, bool(ready)))
                        last[region] = bool(ready)
    return transitions


class Campaign:
    def __init__(
        self,
        cluster: ChaosCluster,
        options: CampaignOptions,
        console: Console,
        replication: bool,
        stop: asyncio.Event | None = None,
    ):
        self.cluster = cluster
        self.options = options
        self.console = console
        self.replication = replication
        self.stop = stop or asyncio.Event()
        self.config = StressConfig(
            target=options.target,
            orders=None,
            rate=options.rate,
            batch_size=options.batch_size,
            region_mix=parse_region_mix(None, tuple(cluster.regions)),
            invalid_ratio=options.invalid_ratio,
            seed=options.seed,
            endpoint=cluster.stack.airflow.url if cluster.stack.airflow else "",
            node_token=cluster.stack.node_token,
            routing=cluster.stack.routing_url,
            timeout=options.timeout,
            progress=False,
        )
        self.recorder = Recorder(stop=asyncio.Event())
        self.records: list[TrialRecord] = []

    # --- the target ----------------------------------------------------------------------

    def _target(self) -> Any:
        if self.options.target == "airflow":
            from stress.targets.airflow import AirflowTarget

            return AirflowTarget(self.recorder, self.config)
        from stress.targets.nodes import NodesTarget

        return NodesTarget(
            self.recorder,
            self.config.routing,
            token=self.config.node_token,
            timeout=self.options.timeout,
            health_ttl=self.config.health_ttl,
            max_attempts=self.config.max_attempts,
            connections=self.senders,
        )

    @property
    def senders(self) -> int:
        """Enough senders that orders stuck on a stalled node for a whole timeout do not hold
        up the schedule of the others: the loop stays open."""
        units_per_s = self.options.rate / self.options.batch_size
        return max(64, int(units_per_s * (self.options.timeout + 2)))

    # --- waiting -------------------------------------------------------------------------

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), seconds)

    async def _wait(self, condition: Callable[[], bool], within: float) -> bool:
        deadline = time.monotonic() + within
        while not condition():
            if time.monotonic() > deadline or self.stop.is_set():
                return False
            await asyncio.sleep(0.05)
        return True

    def _committed_home_after(self, region: str | None, since: float) -> bool:
        return any(
            r.outcome == "committed"
            and r.intended >= since
            and (region is None or (r.home_region == region and r.warehouse == region))
            for r in self.recorder.results
        )

    # --- one trial -----------------------------------------------------------------------

    def _unsupported(self, trial: Trial) -> str | None:
        if trial.kind == "disk-loss" and not self.replication and not self.options.self_check:
            return (
                "unsupported: the nodes run without replication (NODE_REPLICA_URL), so a lost "
                "disk loses its orders; --self-check runs it anyway to prove the checker sees that"
            )
        return None

    async def run_trial(self, trial: Trial) -> TrialRecord:
        now = self.recorder.now
        record = TrialRecord(trial.index, trial.kind, trial.region, trial.duration_s, now())
        self.records.append(record)
        reason = self._unsupported(trial)
        if reason is not None:
            record.status, record.note = "unsupported", reason
            return record
        await self._pause(trial.lead_s)
        if self.stop.is_set():
            record.status = "interrupted"
            return record
        record.start = now()
        where = f" {trial.region}" if trial.region else ""
        self.console.print(
            f"trial {trial.index + 1}/{self.options.trials}: {trial.kind}{where} for "
            f"{trial.duration_s:.1f}s at {record.start:.1f}s"
        )
        try:
            heal = await asyncio.to_thread(inject, self.cluster, trial, self.options)
        except Exception as exc:
            record.status, record.note = "error", f"inject failed: {type(exc).__name__}: {exc}"
            record.end = now()
            return record
        await self._pause(trial.duration_s)
        record.end = now()  # the fault is over; a restart's boot time counts as recovery
        try:
            await asyncio.to_thread(heal)
            if trial.region is not None:
                record.node_restarted = await asyncio.to_thread(
                    self.cluster.ensure_node_running, trial.region
                )
        except Exception as exc:
            record.status, record.note = "error", f"heal failed: {type(exc).__name__}: {exc}"
        record.healed = now()
        region = trial.region
        back = await self._wait(
            lambda: (
                (region is None or self.cluster.stack.region_ready(region))
                and self._committed_home_after(region, record.end or 0.0)
            ),
            self.options.recovery_timeout,
        )
        if not back and not self.stop.is_set() and record.status == "done":
            record.note = f"not routed to again within {self.options.recovery_timeout:.0f}s"
        return record

    def _say(self, trial: Trial, record: TrialRecord) -> None:
        where = f" {trial.region}" if trial.region else ""
        if record.status != "done":
            self.console.print(
                f"trial {trial.index + 1}: {trial.kind}{where}: {record.status} {record.note}"
            )
            return
        healed = (record.healed or 0.0) - (record.end or 0.0)
        self.console.print(
            f"  healed in {healed:.1f}s; {self.recorder.committed} orders committed so far"
            + (f" ({record.note})" if record.note else "")
        )

    # --- the whole campaign --------------------------------------------------------------

    async def run(self) -> CampaignResult:
        trials = plan_trials(self.options)
        config = self.config
        generator = OrderGenerator(
            config.run_id, config.region_mix, config.invalid_ratio, config.seed
        )
        try:
            target = self._target()
            await target.__aenter__()
        except (StressError, RoutingSourceError) as exc:
            raise CampaignError(str(exc)) from exc
        try:
            self.recorder.t0, self.recorder.started_at = time.monotonic(), time.time()
            units = units_of(generator, self.options.batch_size)
            rate = self.options.rate / self.options.batch_size
            load = asyncio.get_running_loop().create_task(
                run_open(units, target.send, rate, self.recorder, self.senders)
            )
            try:
                patience = FIRST_COMMIT_TIMEOUT_S[self.options.target]
                first = await self._wait(lambda: self.recorder.committed > 0, patience)
                if not first and not self.stop.is_set():
                    raise CampaignError(
                        f"no order was committed within {patience:.0f}s of load: "
                        "the target does not take orders"
                    )
                await self._pause(WARMUP_S)
                for trial in trials:
                    if self.stop.is_set():
                        break
                    record = await self.run_trial(trial)
                    self._say(trial, record)
                await self._pause(TAIL_S)
            finally:
                self.recorder.stop.set()
                await load
        finally:
            await target.__aexit__(None, None, None)
        return await self._check(trials)

    async def _check(self, trials: list[Trial]) -> CampaignResult:
        """Heal anything left, wait for every node, read every shard directly."""
        restore_errors = await asyncio.to_thread(self.cluster.restorer.restore_all)
        for region in self.cluster.regions:
            try:
                await asyncio.to_thread(self.cluster.ensure_node_running, region)
            except RuntimeError as exc:  # ClusterError, or a node refusing to start (exit 2)
                # Still check and report: its shard is then unreadable, which fails the run.
                restore_errors.append(f"node {region} did not start again: {exc}")
        results = sorted(self.recorder.results, key=lambda r: r.index)
        verification = await verify(
            results,
            self.cluster.direct_urls,
            self.config.run_id,
            self.config.node_token,
        )
        transitions = read_transitions(self.cluster, self.recorder.started_at)
        result = CampaignResult(
            options=self.options,
            run_id=self.config.run_id,
            started_at=self.recorder.started_at,
            results=results,
            records=self.records,
            transitions=transitions,
            verification=verification,
            interrupted=self.stop.is_set(),
            restore_errors=restore_errors,
        )
        if self.records:
            result.outcomes = check_trials(results, self.records, transitions, verification)
        return result


def kinds_summary(result: CampaignResult) -> list[dict[str, Any]]:
    return summarize(result.outcomes, result.options.faults)
