"""Straight to the warehouses: route each order as the DAG does, then ``POST /order``.

The routing decision is :func:`order_contracts.routing.assign_warehouse`, the function the DAG's
assign task calls, fed by the same routing document (``ORDER_ROUTING_SOURCE`` or ``--routing``).
One difference, on purpose: the DAG asks ``/health`` before every order, which at thousands of
orders per second would double the load and measure the health endpoint instead of the order
path, so health is probed for every region every ``health_ttl`` seconds in the background and a
node that refuses a connection is treated as unreachable at once, until its next good probe.

Never twice: what each answer proves is :func:`order_contracts.outcomes.classify`, the DAG's
rule too. An order whose request provably did not reach a node (connection refused; 421, 429,
503 with ``Retry-After``) may go to the next fallback; a 409 or another 4xx is final
(``rejected``). An order whose answer was lost after it was sent may already be stored there, so
it is retried on that same node only (the node's idempotency turns a retry into a 200), and if
the node stays silent it is reported as failed rather than risking a second copy elsewhere.
While such an order's home node is down, its followers (``readUrls``) are asked first: one that
holds the order settles it as committed at home (:mod:`order_contracts.in_doubt`, the DAG's rule
too).

A request in flight to a node that the background health probe finds unreachable (no answer
within the probe's timeout: a frozen or partitioned node) is cut short rather than left to its
full request timeout, so one stalled node does not hold the tool's
senders, and with them every other region's orders. It may have reached the node, so it is in
doubt: its home followers are asked, and otherwise it is reported failed, never re-routed."""

from __future__ import annotations

import asyncio
import contextlib
import json
from types import TracebackType

import aiohttp
from yarl import URL

from order_contracts.health import Health
from order_contracts.in_doubt import (
    InDoubtResolution,
    Lookup,
    lookup_from_status,
    resolve_in_doubt_async,
)
from order_contracts.outcomes import STORED, Delivery, classify, is_final, may_reroute
from order_contracts.routing import (
    Assignment,
    NoWarehouseAvailable,
    RoutingDocument,
    assign_warehouse,
)
from order_contracts.source import load_routing_document

from ..engine import Unit
from ..http import client_session
from ..orders import GeneratedOrder
from ..results import OrderResult, Recorder
from .node_health import NodeHealthView

JSON = {"Content-Type": "application/json"}


def _hint(status: int | None) -> str:
    return ": check --node-token" if status in (401, 403) else ""


def _first_field(body: bytes) -> str:
    """``detail[0].field`` of a 422, the node's way of naming what was wrong."""
    try:
        detail = json.loads(body)["detail"]
        first = detail[0]
        return f"{first['field']}: {first['message']}"
    except (ValueError, KeyError, IndexError, TypeError):
        return body[:80].decode(errors="replace")


class CutShort(Exception):
    """A request abandoned because routing marked its node unreachable while it was in flight."""


class NodesTarget(NodeHealthView):
    """Send orders to warehouse nodes. Use as ``async with NodesTarget(...) as target``."""

    def __init__(
        self,
        recorder: Recorder,
        routing_source: str | None,
        token: str | None = None,
        timeout: float = 10.0,
        health_ttl: float = 1.0,
        max_attempts: int = 3,
        connections: int = 100,
    ):
        self.recorder = recorder
        self.routing_source = routing_source
        self.token = token
        self.timeout = timeout
        self.health_ttl = health_ttl
        self.max_attempts = max(1, max_attempts)
        self.connections = connections
        self.document: RoutingDocument | None = None
        self._health: dict[str, Health | None] = {}
        self._unreachable_until: dict[str, float] = {}
        self._probe_failures: dict[str, str] = {}
        self._session: aiohttp.ClientSession | None = None
        self._probes: aiohttp.ClientSession | None = None
        self._refresher: asyncio.Task[None] | None = None
        self._order_urls: dict[str, URL] = {}
        #: per region, the tasks with a request to it in flight (cancelled when it is cut off)
        self._in_flight: dict[str, set[asyncio.Task[object]]] = {}
        self._cut_tasks: set[asyncio.Task[object]] = set()
        self.cut_short = 0  # requests cut short so far

    # --- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> NodesTarget:
        self.document = await asyncio.to_thread(load_routing_document, self.routing_source)
        self._session = client_session(self.connections, self.timeout, self.token, JSON)
        # probes get their own small pool: busy order connections must not delay them
        probe_timeout = min(2.0, self.timeout)
        self._probes = client_session(len(self.document.regions), probe_timeout, None)
        await self.refresh_health()
        self._refresher = asyncio.get_running_loop().create_task(self._refresh_loop())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
        for session in (self._session, self._probes):
            if session is not None:
                await session.close()

    def node_urls(self) -> dict[str, str]:
        """Every region's URL in the routing document (what ``--verify`` reads)."""
        assert self.document is not None
        return {region: route.url for region, route in self.document.regions.items()}

    def _order_url(self, base: str) -> URL:
        """``POST /order`` URLs, parsed once per node instead of once per request."""
        url = self._order_urls.get(base)
        if url is None:
            url = self._order_urls[base] = URL(f"{base.rstrip('/')}/order")
        return url

    # --- sending ---------------------------------------------------------------------------

    def _assign(self, order: GeneratedOrder, excluded: set[str]) -> Assignment:
        assert self.document is not None
        if order.region not in self.document.regions and not order.valid:
            # an invalid order may name no real region; any node must refuse it
            order_region = next(iter(self.document.regions))
            return assign_warehouse(self.document, order_region, self._probe, excluded)
        return assign_warehouse(self.document, order.region, self._probe, excluded)

    async def send(self, unit: Unit, intended: float) -> list[OrderResult]:
        return [await self.send_one(order, intended) for order in unit]

    async def send_one(self, order: GeneratedOrder, intended: float) -> OrderResult:
        assert self._session is not None
        now = self.recorder.now
        excluded: set[str] = set()
        pinned: Assignment | None = None  # after an answer was lost: that node and no other
        attempts = 0  # POSTs made, as reported
        retries = 0  # POSTs that may be repeated are bounded by max_attempts
        cause = "no attempt made"
        doubt = ""  # what the home's followers said last time, when asked
        while retries < self.max_attempts:
            if pinned is not None and self._home_down(order, pinned):
                verdict = await self._ask_followers(order)
                if verdict.placed_at_home:
                    return self._placed_at_home(order, intended, attempts, verdict)
                doubt = f"; {verdict.reason}"
            if pinned is None:
                try:
                    assignment = self._assign(order, excluded)
                except NoWarehouseAvailable as exc:
                    last = f"; last: {cause}" if attempts else ""
                    cause = f"no warehouse available ({exc}{self.probe_failures()}){last}"
                    break
            else:
                assignment = pinned
            attempts += 1
            region = assignment.region
            status: int | None = None
            body, retry_after = b"", False
            try:
                status, retry_after, body = await self._post_unless_cut(
                    region, assignment.url, order
                )
            except CutShort:
                self.cut_short += 1
                cause = f"{region}: cut short after sending, its health probe got no answer"
                pinned = assignment  # in doubt there: its followers are asked below
                break  # reported failed now (in doubt), never sent elsewhere
            except aiohttp.ClientConnectorError:
                outcome = classify(None, sent=False)  # never connected: nothing was sent
                cause = f"{region} unreachable"
            except (aiohttp.ClientError, TimeoutError) as exc:
                outcome = classify(None, sent=True)
                cause = f"{region}: answer lost after sending ({type(exc).__name__})"
            else:
                outcome = classify(status, retry_after=retry_after)
                cause = f"HTTP {status} from {region}{_hint(status)}"
            if outcome in STORED:
                return self._committed(order, intended, body, assignment, attempts)
            if is_final(outcome):  # a conflict or a rejection: no retry can change it
                return OrderResult.of(
                    order,
                    intended,
                    now(),
                    "rejected",
                    attempts=attempts,
                    cause=f"{status} {outcome.value}: {_first_field(body)}",
                )
            if outcome is Delivery.MAY_HAVE_REACHED:
                pinned = assignment  # the node may hold it: that node and no other
                retries += 1
                continue
            # did not reach: provably not stored on that node
            self._mark_unreachable(region)
            if pinned is None and may_reroute(outcome):
                excluded.add(region)  # the next region; ends when none is left
            else:
                retries += 1
                await asyncio.sleep(min(0.5, self.health_ttl))
        if pinned is not None and self._home_down(order, pinned):
            verdict = await self._ask_followers(order)  # a last look before reporting a failure
            if verdict.placed_at_home:
                return self._placed_at_home(order, intended, attempts, verdict)
            doubt = f"; {verdict.reason}"
        return OrderResult.of(
            order, intended, now(), "failed", attempts=attempts, cause=cause + doubt
        )

    async def _post_unless_cut(
        self, region: str, url: str, order: GeneratedOrder
    ) -> tuple[int, bool, bytes]:
        """``POST /order``: (status, has Retry-After, body); :class:`CutShort` if routing marks
        ``region`` unreachable first (the request is then abandoned: it may have arrived)."""
        assert self._session is not None
        task = asyncio.current_task()
        assert task is not None
        waiting = self._in_flight.setdefault(region, set())
        waiting.add(task)
        try:
            async with self._session.post(self._order_url(url), data=order.body) as response:
                return response.status, "Retry-After" in response.headers, await response.read()
        except asyncio.CancelledError:
            if task not in self._cut_tasks:
                raise  # cancelled from outside: not ours to swallow
            self._cut_tasks.discard(task)
            task.uncancel()
            raise CutShort(region) from None
        finally:
            # The task is in ``waiting`` only while suspended in the request above, so a cut
            # always lands there as CancelledError (at worst after the answer arrived: then
            # the order is reported in doubt although it was stored, never the reverse).
            waiting.discard(task)

    # --- in doubt --------------------------------------------------------------------------

    async def _lookup(self, url: str, order_id: str) -> Lookup:
        assert self._session is not None
        try:
            async with self._session.get(f"{url.rstrip('/')}/order/{order_id}") as response:
                return lookup_from_status(response.status)
        except (aiohttp.ClientError, TimeoutError):
            return Lookup.UNKNOWN

    async def _ask_followers(self, order: GeneratedOrder) -> InDoubtResolution:
        assert self.document is not None
        route = self.document.regions.get(order.region)
        read_urls = route.read_urls if route is not None else []
        return await resolve_in_doubt_async(order.order_id, order.region, read_urls, self._lookup)

    def _placed_at_home(
        self, order: GeneratedOrder, intended: float, attempts: int, verdict: InDoubtResolution
    ) -> OrderResult:
        return OrderResult.of(
            order,
            intended,
            self.recorder.now(),
            "committed",
            warehouse=order.region,
            fallback=False,
            attempts=attempts,
            cause=verdict.reason,
        )

    def _committed(
        self,
        order: GeneratedOrder,
        intended: float,
        body: bytes,
        assignment: Assignment,
        attempts: int,
    ) -> OrderResult:
        try:
            stored = json.loads(body)
            warehouse = str(stored.get("fulfilled_by") or assignment.region)
        except (ValueError, AttributeError):
            warehouse = assignment.region
        return OrderResult.of(
            order,
            intended,
            self.recorder.now(),
            "committed",
            warehouse=warehouse,
            fallback=warehouse != order.region,
            attempts=attempts,
        )
