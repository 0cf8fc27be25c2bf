"""How busy the node is: orders (or other requests) in flight and their recent rate, in memory.

The unit is one order: a ``POST /order`` or any other request counts 1, a ``POST /orders``
counts the orders it carries (from when its body is parsed until it is answered). Counting a
bulk request as one would make a node ingesting thousands of orders look idle to routing.

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
        self._buckets = [0] * window
        self._bucket_second = int(self._started)

    def _rotate(self, second: int) -> None:
        gap = second - self._bucket_second
        if gap <= 0:
            return
        for step in range(1, min(gap, self.window) + 1):
            self._buckets[(self._bucket_second + step) % self.window] = 0
        self._bucket_second = second

    def enter(self, units: int = 1) -> None:
        """``units`` more in flight (and counted in the rate): a request, or a bulk's orders."""
        self.in_flight += units
        second = int(time.monotonic())
        if second != self._bucket_second:
            self._rotate(second)
        self._buckets[second % self.window] += units

    def exit(self, units: int = 1) -> None:
        self.in_flight -= units

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
