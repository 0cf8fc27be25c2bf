"""How busy the node is: orders (or other requests) in flight and their recent rate, in memory.

In flight counts requests: concurrency is what a node runs out of, and a ``POST /orders`` of
1,000 orders is one group commit or a few, not 1,000 waiting requests (counting its orders in
flight made one ordinary bulk mark the node degraded, and routing send the next runs' orders to
other regions). The rate counts work: a request is 1, and each order of a ``POST /orders`` adds
``NODE_BULK_ORDER_WEIGHT`` (what an order costs in a bulk relative to its own request), so a
node ingesting thousands of orders a second in bulk does not look idle to routing either.

``/health`` reports these and the routing decision compares them between warehouses, so they
must be cheap to update on every request and cheap to read on every probe (no locks: the event
loop is the only writer).
"""

from __future__ import annotations

import time

WINDOW_SECONDS = 5


class LoadTracker:
    """In-flight counter and a per-second histogram of units (orders) over the last seconds."""

    def __init__(self, max_in_flight: int, max_rps: float, window: int = WINDOW_SECONDS):
        self.max_in_flight = max_in_flight
        self.max_rps = max_rps
        self.window = window
        self.in_flight = 0
        self._started = time.monotonic()
        self._buckets = [0.0] * window
        self._bucket_second = int(self._started)

    def _rotate(self, second: int) -> None:
        gap = second - self._bucket_second
        if gap <= 0:
            return
        for step in range(1, min(gap, self.window) + 1):
            self._buckets[(self._bucket_second + step) % self.window] = 0.0
        self._bucket_second = second

    def enter(self, units: int = 1) -> None:
        """``units`` more in flight (and counted in the rate): a request."""
        self.in_flight += units
        second = int(time.monotonic())
        if second != self._bucket_second:
            self._rotate(second)
        self._buckets[second % self.window] += units

    def exit(self, units: int = 1) -> None:
        self.in_flight -= units

    def count(self, units: float) -> None:
        """``units`` more in the rate only (a bulk's orders, weighted), nothing in flight."""
        second = int(time.monotonic())
        if second != self._bucket_second:
            self._rotate(second)
        self._buckets[second % self.window] += units

    def recent_rps(self) -> float:
        """Units (orders, other requests) per second over the window (shorter right after start)."""
        now = time.monotonic()
        self._rotate(int(now))
        # Right after start the window is shorter; under a second counts as one second.
        span = max(1.0, min(float(self.window - 1) + (now % 1.0), now - self._started))
        return sum(self._buckets) / span

    def load(self) -> float:
        """0 idle, >= 1 overloaded: the larger of the in-flight and the rate saturation."""
        return max(self.in_flight / self.max_in_flight, self.recent_rps() / self.max_rps)
