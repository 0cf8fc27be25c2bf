"""Load engines: closed loop (a fixed number of senders) and open loop (a fixed arrival rate).

A closed loop slows down with the system under test, so it measures capacity but hides queueing:
a slow server simply receives fewer requests. An open loop sends on a schedule that does not
care how the server is doing, and each order's latency is measured from its *intended* send time
(coordinated omission avoided), so a stall shows up as the latency its orders really suffered.

Both engines work on *units*: one order for the nodes target, a batch for Airflow's batch mode.
A target's ``send`` never raises; an unexpected exception is still recorded, as a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from itertools import islice

from .orders import GeneratedOrder
from .results import OrderResult, Recorder

Unit = list[GeneratedOrder]
#: send one unit whose intended start was ``intended`` (seconds since the run started)
Send = Callable[[Unit, float], Awaitable[list[OrderResult]]]


def units_of(orders: Iterable[GeneratedOrder], size: int) -> Iterator[Unit]:
    """Group orders into units of ``size`` (the last one may be smaller)."""
    iterator = iter(orders)
    while unit := list(islice(iterator, size)):
        yield unit


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


async def run_closed(
    units: Iterable[Unit],
    send: Send,
    concurrency: int,
    recorder: Recorder,
    duration: float | None = None,
) -> None:
    """``concurrency`` senders, each sending its next unit as soon as the last one finished."""
    shared = iter(units)  # next() never awaits, so the senders can share one iterator

    async def sender() -> None:
        for unit in shared:
            started = recorder.now()
            if recorder.stop.is_set() or (duration is not None and started >= duration):
                return
            await _send_safely(send, unit, started, recorder)

    await asyncio.gather(*(sender() for _ in range(concurrency)))


async def run_open(
    units: Iterable[Unit],
    send: Send,
    units_per_second: float,
    recorder: Recorder,
    senders: int = 64,
) -> None:
    """Send unit ``i`` at ``i / units_per_second``, whatever happened to the earlier ones.

    ``senders`` coroutines take units in order; each waits for its unit's slot, sends it and
    takes the next. When the system under test is slower than the schedule, units wait for a
    free sender, and since latency counts from the intended time, that wait is measured too.
    A fixed set of senders (rather than a task per order) keeps the tool's own cost per order
    flat when the backlog grows, so an overloaded server is not mistaken for an overloaded tool.
    """
    schedule = enumerate(units)  # shared; next() never awaits

    async def sender() -> None:
        for index, unit in schedule:
            intended = index / units_per_second
            delay = recorder.t0 + intended - time.monotonic()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(recorder.stop.wait(), delay)
            if recorder.stop.is_set():
                return
            await _send_safely(send, unit, intended, recorder)

    await asyncio.gather(*(sender() for _ in range(max(1, senders))))
