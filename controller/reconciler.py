"""The reconcile loop: one task per controller that makes the ConfigMap say what the index says.

Watch handlers only update the index and call :meth:`Reconciler.notify`; this loop wakes at once
(bursts of events coalesce into one pass), and also every ``resync_seconds`` to repair hand
edits of the ConfigMap. Wakes by a watch event need no leadership check — kopf delivers events
only to the active replica — while timer wakes ask the peering object first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from order_contracts.routing import RoutingDocument

from .config import ControllerConfig
from .configmap import WriteOutcome, write_routing_configmap
from .document import describe_change, desired_document, parse_document
from .index import ClusterIndex
from .kube import KubeApi
from .leadership import is_active
from .metrics import Metrics

logger = logging.getLogger("controller")

MAX_RETRY_DELAY = 30.0


class Reconciler:
    def __init__(
        self,
        config: ControllerConfig,
        api: KubeApi,
        metrics: Metrics,
        index: ClusterIndex | None = None,
    ):
        self.config = config
        self.api = api
        self.metrics = metrics
        self.index = index or ClusterIndex()
        self._wake = asyncio.Event()
        self._known_generation = 0

    def notify(self) -> None:
        """The observations changed: reconcile now. Call from the operator's event loop."""
        self._wake.set()

    async def _wait(self, seconds: float) -> bool:
        """True when woken by :meth:`notify`, False when the timeout passed."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        woken = self._wake.is_set()
        self._wake.clear()  # before reading the index: a notify from now on means another pass
        return woken

    async def leading(self) -> bool:
        if self.config.standalone:
            active = True
        else:
            peering = await self.api.read_peering(self.config.peering)
            active = is_active(peering, self.config.priority)
        self.metrics.leader.set(1 if active else 0)
        return active

    async def run(self) -> None:
        """Forever: wait for a change or the resync period, reconcile, retry failures."""
        failures = 0
        delay = self.config.resync_seconds
        while True:
            woken = await self._wait(delay)
            delay = self.config.resync_seconds
            try:
                if woken or await self.leading():
                    with self.metrics.reconcile_seconds.time():
                        await self.reconcile()
                failures = 0
            except Exception:  # an API outage must not end the loop: count, log, retry
                failures += 1
                delay = min(2.0 ** (failures - 1), MAX_RETRY_DELAY, self.config.resync_seconds)
                self.metrics.errors.inc()
                logger.exception("reconciliation failed (%d in a row); retrying", failures)

    async def resync(self) -> None:
        """Rebuild the index from a fresh listing (it may be stale after a pause)."""
        self.index.begin_listing()
        try:
            services, slices = await asyncio.gather(
                self.api.list_services(), self.api.list_endpointslices()
            )
        except BaseException:
            self.index.abort_listing()
            raise
        self.index.replace(services, slices)

    def _seen(self, document: RoutingDocument | None) -> None:
        if document is None:
            return
        self._known_generation = max(self._known_generation, document.generation)
        self.metrics.observe_document(document)

    def _desired(self, current_text: str | None) -> RoutingDocument | None:
        return desired_document(
            self.index.observations(),
            self.config.proximity,
            current_text,
            known_generation=self._known_generation,
        )

    async def reconcile(self) -> WriteOutcome:
        """One pass: read the ConfigMap, write it only if the routing content differs."""
        name = self.config.configmap
        current = await self.api.read_configmap(name)
        current_text = current.text if current else None
        desired = self._desired(current_text)
        if desired is not None:
            # About to change what every reader sees: confirm with the API, not only the index.
            await self.resync()
            desired = self._desired(current_text)
        if desired is None:
            self._seen(parse_document(current_text))
            self.metrics.reconciliations.labels(WriteOutcome.UNCHANGED.value).inc()
            return WriteOutcome.UNCHANGED
        outcome = await write_routing_configmap(self.api, name, current, desired.to_json())
        self.metrics.reconciliations.labels(outcome.value).inc()
        logger.info(
            "%s (ConfigMap %s/%s %s)",
            describe_change(parse_document(current_text), desired),
            self.config.namespace,
            name,
            outcome.value,
        )
        self._seen(desired)
        return outcome
