"""The primary's side of replication: "is this group commit on the replica yet?", and its state.

Sync mode (``NODE_REPLICATION=sync``): after each group commit the store awaits
:meth:`Replicator.confirm`, which asks Litestream once (``POST /sync`` with ``wait``) to upload
everything committed so far. Commits that finish while such a request is in flight share the
next one, so there is one wait per group commit at most, never one per order. Only when
Litestream confirms the group's commit do its callers get their 201/200; when that cannot be
confirmed within ``NODE_REPLICATION_TIMEOUT`` :class:`ReplicationFailed` is raised (the route
answers 504: the order is committed locally, so it is *in doubt*, never "did not reach"; a
retry at the same node is a duplicate that waits again).

Async mode acknowledges after the local commit; the replica trails by up to the sync interval.

Either way a monitor asks Litestream every second, which keeps ``/health`` and the lag metrics
current while no orders arrive and notices a recovered replica without waiting for an order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from .litestream import ControlClient, LitestreamError, SyncResult
from .store import StoreError

log = logging.getLogger("warehouse_node.replication")

MONITOR_INTERVAL = 1.0
#: after a failed sync round, wait this long before a waiter asks again (Litestream restarting)
RETRY_PAUSE = 0.1


class ReplicationFailed(StoreError):
    """Committed locally, but the replica did not confirm it: nothing is acknowledged."""


class Replicator:
    """Coalesced sync waits against one Litestream control socket, plus the state health and
    metrics read (plain attributes: only the event loop writes them)."""

    def __init__(
        self,
        control: ControlClient,
        mode: str,
        timeout: float,
        on_sync: Callable[[float, bool], None] | None = None,
    ):
        self.control = control
        self.mode = mode
        self.timeout = timeout
        self.on_sync = on_sync
        self.healthy = False  # until the first answer from Litestream
        self.last_error: str | None = "not started"
        self.txid = 0
        self.replicated_txid = 0
        self.errors = 0
        self.syncs = 0
        self._behind_since: float | None = None
        self._round: asyncio.Future[SyncResult] | None = None
        self._runner: asyncio.Task[None] | None = None
        self._monitor: asyncio.Task[None] | None = None
        self._last_round = 0.0

    # -- state read by health and metrics -----------------------------------------------------

    @property
    def lag_transactions(self) -> int:
        return max(0, self.txid - self.replicated_txid)

    @property
    def lag_seconds(self) -> float:
        """Age of the oldest local commit the replica is not known to hold (0 when caught up)."""
        if self._behind_since is None:
            return 0.0
        return max(0.0, time.monotonic() - self._behind_since)

    def state(self) -> str:
        if self.healthy:
            return "ok" if self.lag_transactions == 0 else "behind"
        return "failing"

    def report(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "state": self.state(),
            "txid": self.txid,
            "replicated_txid": self.replicated_txid,
            "lag_transactions": self.lag_transactions,
            "lag_seconds": round(self.lag_seconds, 3),
            "errors": self.errors,
            "last_error": self.last_error,
        }

    # -- called by the store ------------------------------------------------------------------

    def committed(self) -> None:
        """A group commit just returned: the replica is behind until a sync says otherwise."""
        if self._behind_since is None:
            self._behind_since = time.monotonic()

    async def confirm(self) -> None:
        """Return once the replica holds everything committed before this call; else raise
        :class:`ReplicationFailed` when ``timeout`` seconds have gone by.

        Why not "one round, ``replicated_txid >= txid``": Litestream's ``/sync`` handler reads
        the answer's ``txid`` (its newest LTX file) *after* the wait, while its own WAL monitor
        keeps turning later group commits into LTX files. Under load the answer is often
        ``txid = N+1, replicated_txid = N`` although the round uploaded ours (N or earlier):
        judging that one answer against its own ``txid`` failed orders the replica held.

        So the expected transaction is fixed once: the first round starts after our commit, so
        its ``txid`` covers ours (an upper bound). A short answer (``replicated_txid`` below
        it) or a failed round (Litestream restarting, a replica error) is asked again, after a
        short pause for errors and repeated short answers, until the replica reaches it or the
        deadline passes. A round started after that answer uploads at least up to it, so one
        more usually settles it.
        """
        deadline = time.monotonic() + self.timeout
        target: int | None = None
        last = "no answer from litestream"
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                reason = f"the replica did not confirm the order within {self.timeout:g}s: {last}"
                # degraded now, not when the hanging sync round gives up too: /health must not
                # say ok between a 504 and that round's own timeout
                self.failed(reason)
                raise ReplicationFailed(reason)
            try:
                result = await asyncio.wait_for(self._join_round(), remaining)
            except TimeoutError:
                last = f"{last}; no answer to the last sync"
                continue
            except LitestreamError as exc:
                last = str(exc)
                await asyncio.sleep(min(RETRY_PAUSE, max(0.0, deadline - time.monotonic())))
                continue
            if target is None:
                target = result.txid
            if result.replicated_txid >= target:
                return
            if last.startswith("the replica holds"):  # short twice: let Litestream breathe
                await asyncio.sleep(min(RETRY_PAUSE, max(0.0, deadline - time.monotonic())))
            last = f"the replica holds transaction {result.replicated_txid}, not {target}"

    def failed(self, reason: str) -> None:
        """Replication is not working: Litestream exited, or a confirm ran out of time."""
        self.healthy = False
        self.last_error = reason
        self.errors += 1

    # -- the coalesced sync rounds ------------------------------------------------------------

    async def _join_round(self) -> SyncResult:
        """Join the next sync round. A round already in flight may have started before our
        commit, so we never join it: we wait for the one after it (one request for all who
        arrive meanwhile)."""
        if self._round is None:
            self._round = asyncio.get_running_loop().create_future()
            if self._runner is None:
                self._runner = asyncio.get_running_loop().create_task(self._run_rounds())
        return await asyncio.shield(self._round)

    async def _run_rounds(self) -> None:
        try:
            while self._round is not None:
                round_, self._round = self._round, None
                started = time.perf_counter()
                try:
                    result = await self.control.sync(wait=True, seconds=self.timeout)
                except LitestreamError as exc:
                    self._record_failure(str(exc), time.perf_counter() - started)
                    round_.set_exception(exc)
                    continue
                self._record(result, time.perf_counter() - started)
                round_.set_result(result)
        finally:
            self._runner = None

    def _record(self, result: SyncResult, seconds: float) -> None:
        self.syncs += 1
        self._last_round = time.monotonic()
        self.txid, self.replicated_txid = result.txid, result.replicated_txid
        if result.replicated:
            self._behind_since = None
            if not self.healthy:
                log.info("replication ok", extra={"txid": result.txid})
            self.healthy, self.last_error = True, None
        else:
            self.committed()
        if self.on_sync is not None:
            self.on_sync(seconds, result.replicated)

    def _record_failure(self, error: str, seconds: float) -> None:
        self._last_round = time.monotonic()
        self.errors += 1
        if self.healthy or self.last_error != error:
            log.error("replication failing", extra={"error": error})
        self.healthy, self.last_error = False, error
        self.committed()
        if self.on_sync is not None:
            self.on_sync(seconds, False)

    # -- lifecycle ----------------------------------------------------------------------------

    async def wait_ready(self, within: float) -> None:
        """Until Litestream's control socket answers; LitestreamError after ``within`` s."""
        deadline = time.monotonic() + within
        last = "no answer"
        while time.monotonic() < deadline:
            try:
                result = await self.control.sync(wait=False, seconds=min(2.0, self.timeout))
            except LitestreamError as exc:
                last = str(exc)
                await asyncio.sleep(0.05)
                continue
            self.txid, self.replicated_txid = result.txid, result.replicated_txid
            self.healthy, self.last_error = True, None
            return
        raise LitestreamError(f"litestream did not answer within {within:g}s: {last}")

    def start_monitor(self) -> None:
        self._monitor = asyncio.get_running_loop().create_task(self._watch(), name="replication")

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(MONITOR_INTERVAL)
            if time.monotonic() - self._last_round < MONITOR_INTERVAL:
                continue  # orders keep the state fresh
            with contextlib.suppress(LitestreamError):
                await self._join_round()

    async def flush(self) -> bool:
        """One last confirmed sync (at shutdown, so async mode's tail reaches the replica)."""
        try:
            await self.confirm()
        except ReplicationFailed as exc:
            log.error("final sync failed", extra={"error": str(exc)})
            return False
        return True

    async def aclose(self) -> None:
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
        if self._runner is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._runner), self.timeout + 1)
        await self.control.aclose()
