"""What the nodes target knows of each node between requests: the routing document (read again
every ``ROUTING_REFRESH_S``), every region's ``/health`` (probed in the background every
``health_ttl`` seconds, not per order), regions marked unreachable after a refused connection,
and the requests in flight per region, cut short when a probe gets no answer
(:mod:`stress.targets.nodes` says why)."""

from __future__ import annotations

import asyncio
import contextlib
import time

import aiohttp

from order_contracts.health import Health, read_health_answer
from order_contracts.routing import Assignment, RoutingDocument
from order_contracts.source import RoutingSourceError, load_routing_document

from ..orders import GeneratedOrder

#: how often the routing document is read again (the controller may have changed it): a region
#: that recovered is routed to again within about this long (the fault campaign's bar is 2 s)
ROUTING_REFRESH_S = 1.0


def certificate_problem(exc: aiohttp.ClientConnectorCertificateError) -> str:
    """One line naming why the node's certificate was refused, and what to check."""
    reason = getattr(exc.certificate_error, "verify_message", None) or str(exc.certificate_error)
    return (
        f"its TLS certificate was refused ({reason}): is ORDER_CA_BUNDLE the CA that signed it, "
        "and does it name the host in the routing document?"
    )


class NodeHealthView:
    """Health and routing state of :class:`~stress.targets.nodes.NodesTarget` (set in its
    __init__)."""

    routing_source: str | None
    health_ttl: float
    document: RoutingDocument | None
    _health: dict[str, Health | None]
    _unreachable_until: dict[str, float]
    #: why a region's last probe failed, when the reason is worth a word (a certificate the
    #: tool cannot verify: "unreachable" alone sends people looking for a network problem)
    _probe_failures: dict[str, str]
    _probes: aiohttp.ClientSession | None
    _in_flight: dict[str, set[asyncio.Task[object]]]
    _cut_tasks: set[asyncio.Task[object]]

    # --- health ----------------------------------------------------------------------------

    async def _probe_one(self, region: str, url: str) -> None:
        assert self._probes is not None
        health: Health | None = None
        problem: str | None = None
        try:
            async with self._probes.get(f"{url}/health") as response:
                health = read_health_answer(response.status, await response.read())
        except aiohttp.ClientConnectorCertificateError as exc:
            health, problem = None, certificate_problem(exc)
        except Exception:  # unreachable, timed out, a bad URL: all mean "cannot take orders"
            health = None
        if problem is None:
            self._probe_failures.pop(region, None)
        else:
            self._probe_failures[region] = problem
        self._health[region] = health
        if health is not None:
            self._unreachable_until.pop(region, None)
        else:
            self._cut(region)

    def _cut(self, region: str) -> None:
        """The probe got no answer from ``region``: end the requests in flight to it. Their
        tasks are cancelled and marked, so :meth:`_post_unless_cut` can tell this from a real
        cancellation (a second Ctrl-C); nothing is added to the normal path but a set add."""
        for task in self._in_flight.pop(region, set()):
            if not task.done():
                self._cut_tasks.add(task)
                task.cancel()

    async def refresh_health(self) -> None:
        assert self.document is not None
        routes = self.document.regions.items()
        await asyncio.gather(*(self._probe_one(region, route.url) for region, route in routes))

    async def _refresh_loop(self) -> None:
        last_routing = time.monotonic()
        while True:
            await asyncio.sleep(self.health_ttl)
            if time.monotonic() - last_routing >= ROUTING_REFRESH_S:
                last_routing = time.monotonic()
                # a document that cannot be read now keeps the last good one in use
                with contextlib.suppress(RoutingSourceError):
                    self.document = await asyncio.to_thread(
                        load_routing_document, self.routing_source
                    )
            await self.refresh_health()

    def _probe(self, region: str, url: str) -> Health | None:
        """The health probe handed to ``assign_warehouse``: the cached answer."""
        until = self._unreachable_until.get(region)
        if until is not None and time.monotonic() < until:
            return None
        return self._health.get(region)

    def probe_failures(self) -> str:
        """``"; HCM: its TLS certificate was refused (...)"`` for the regions whose last probe
        failed for a reason worth naming, to append to a cause; ``""`` when none did."""
        return "".join(f"; {region}: {why}" for region, why in sorted(self._probe_failures.items()))

    def _mark_unreachable(self, region: str) -> None:
        self._unreachable_until[region] = time.monotonic() + self.health_ttl

    def _home_down(self, order: GeneratedOrder, pinned: Assignment) -> bool:
        """The order is in doubt on its home node, and that node does not serve now."""
        if pinned.region != order.region:
            return False
        health = self._probe(pinned.region, pinned.url)
        return health is None or health.status == "down"
