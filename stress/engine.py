"""Load engines: closed loop (a fixed number of senders) and open loop (an arrival schedule).

A closed loop slows down with the system under test, so it measures capacity but hides queueing:
a slow server simply receives fewer requests. An open loop sends on a schedule that does not
care how the server is doing, and each order's latency is measured from its *intended* send time
(coordinated omission avoided), so a stall shows up as the latency its orders really suffered.
The schedule is a fixed rate (``--rate``) or stages of rates (``--stages``, :mod:`stress.stages`).

Both engines work on *units*: one order for the nodes target, a batch for Airflow's batch mode.
A target's ``send`` never raises; an unexpected exception is still recorded, as a failure.

**Lanes** (per-node in-flight limits): with one shared pool of senders, a node that stops
answering ends up holding every sender, since each sender eventually draws one of its orders,
and then no region commits anything. Given a :class:`Lanes` plan, the units are split by a key
(the home region: the node the order goes to unless routing sends it to a fallback) and every
lane has its own senders; a stalled node holds its own lane's slots only. The total in flight
stays capped by the engine's ``concurrency`` (closed) or ``senders`` (open).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Generic, TypeVar

from .orders import GeneratedOrder
from .results import OrderResult, Recorder

Unit = list[GeneratedOrder]
#: send one unit whose intended start was ``intended`` (seconds since the run started)
Send = Callable[[Unit, float], Awaitable[list[OrderResult]]]
#: units taken from the shared stream but not yet by their lane: beyond this, lanes that run
#: ahead wait for the slow one (memory stays bounded when one node is much slower)
MAX_BUFFERED = 100_000
T = TypeVar("T")


def units_of(orders: Iterable[GeneratedOrder], size: int) -> Iterator[Unit]:
    """Group orders into units of ``size`` (the last one may be smaller)."""
    iterator = iter(orders)
    while unit := list(islice(iterator, size)):
        yield unit


@dataclass(frozen=True)
class Lanes:
    """Which lane a unit belongs to, and how many of a lane's units may be in flight at once."""

    key: Callable[[Unit], str]
    limits: Mapping[str, int]

    def lane_of(self, unit: Unit) -> str:
        key = self.key(unit)
        # an order of a region outside the plan (an invalid order naming no real region) goes
        # with the biggest lane
        return key if key in self.limits else max(self.limits, key=lambda k: self.limits[k])


class _Demux(Generic[T]):
    """One shared stream handed out per lane, in stream order within each lane.

    ``take`` pulls from the shared iterator until it finds an item of the asking lane, parking
    the others' items in their lanes' queues. It only awaits when ``MAX_BUFFERED`` items are
    parked already (then it waits until some lane takes one).
    """

    def __init__(self, items: Iterable[T], lane_of: Callable[[T], str], lanes: Iterable[str]):
        self._items = iter(items)
        self._lane_of = lane_of
        self._queues: dict[str, deque[T]] = {lane: deque() for lane in lanes}
        self._buffered = 0
        self._taken = asyncio.Event()
        self._exhausted = False

    async def take(self, lane: str) -> T | None:
        queue = self._queues[lane]
        while True:
            if queue:
                self._buffered -= 1
                self._taken.set()
                return queue.popleft()
            if self._exhausted:
                return None
            if self._buffered >= MAX_BUFFERED:
                self._taken.clear()
                await self._taken.wait()  # a lane took one, or the run ended (close)
                continue
            item = next(self._items, None)
            if item is None:
                self._exhausted = True
                return None
            owner = self._lane_of(item)
            if owner == lane:
                return item
            self._queues[owner].append(item)
            self._buffered += 1

    def close(self) -> None:
        """The run is over (Ctrl-C, the duration): nothing more is pulled, no lane waits."""
        self._exhausted = True
        self._taken.set()


async def _send_safely(send: Send, unit: Unit, intended: float, recorder: Recorder) -> None:
    recorder.sent += len(unit)
    recorder.send_lags.append(recorder.now() - intended)
    try:
        results = await send(unit, intended)
    except Exception as exc:  # a bug or an unforeseen error must not stop the run
        finished = recorder.now()
        cause = f"stress tool error: {type(exc).__name__}: {exc}"
        results = [OrderResult.of(o, intended, finished, "failed", cause=cause) for o in unit]
    recorder.record(results)


def _lane_sizes(lanes: Lanes | None, total: int) -> dict[str, int]:
    if lanes is None:
        return {"": max(1, total)}
    return {lane: max(1, min(total, limit)) for lane, limit in lanes.limits.items()}


async def run_closed(
    units: Iterable[Unit],
    send: Send,
    concurrency: int,
    recorder: Recorder,
    duration: float | None = None,
    lanes: Lanes | None = None,
) -> None:
    """``concurrency`` units in flight; each sender sends its next unit as soon as the last one
    finished (per lane, when ``lanes`` are given: a lane's senders take that lane's units)."""
    sizes = _lane_sizes(lanes, concurrency)
    demux = _Demux(units, lanes.lane_of if lanes else (lambda _: ""), sizes)
    in_flight = asyncio.Semaphore(max(1, concurrency))

    async def sender(lane: str) -> None:
        while (unit := await demux.take(lane)) is not None:
            async with in_flight:
                started = recorder.now()
                if recorder.stop.is_set() or (duration is not None and started >= duration):
                    demux.close()
                    return
                await _send_safely(send, unit, started, recorder)

    await asyncio.gather(*(sender(lane) for lane, size in sizes.items() for _ in range(size)))


async def run_scheduled(
    schedule: Iterable[tuple[float, Unit]],
    send: Send,
    recorder: Recorder,
    senders: int = 64,
    lanes: Lanes | None = None,
) -> None:
    """Send each unit at its intended time (seconds since the start), whatever happened to the
    earlier ones.

    ``senders`` coroutines (per lane, when ``lanes`` are given) take units in order; each waits
    for its unit's time, sends it and takes the next. When the system under test is slower than
    the schedule, units wait for a free sender, and since latency counts from the intended
    time, that wait is measured too. A fixed set of senders (rather than a task per order) keeps
    the tool's own cost per order flat when the backlog grows, so an overloaded server is not
    mistaken for an overloaded tool.
    """
    sizes = _lane_sizes(lanes, senders)
    lane_of: Callable[[tuple[float, Unit]], str] = (
        (lambda item: lanes.lane_of(item[1])) if lanes else (lambda _: "")
    )
    demux = _Demux(schedule, lane_of, sizes)
    in_flight = asyncio.Semaphore(max(1, senders))

    async def sender(lane: str) -> None:
        while (item := await demux.take(lane)) is not None:
            intended, unit = item
            delay = recorder.t0 + intended - time.monotonic()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(recorder.stop.wait(), delay)
            if recorder.stop.is_set():
                demux.close()
                return
            async with in_flight:
                await _send_safely(send, unit, intended, recorder)

    await asyncio.gather(*(sender(lane) for lane, size in sizes.items() for _ in range(size)))


async def run_open(
    units: Iterable[Unit],
    send: Send,
    units_per_second: float,
    recorder: Recorder,
    senders: int = 64,
    lanes: Lanes | None = None,
) -> None:
    """Send unit ``i`` at ``i / units_per_second`` (:func:`run_scheduled` at a fixed rate)."""
    schedule = ((index / units_per_second, unit) for index, unit in enumerate(units))
    await run_scheduled(schedule, send, recorder, senders, lanes)
